"""Mentors' pages (their mentees, attempts, reviews) and the admin's pairing page."""

from __future__ import annotations

from flask import Blueprint, Response, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice

from assessments.errors import InvalidInput
from assessments.forms.practice import EndPairingForm, PairingForm
from assessments.forms.scorecard import build_scorecard_form
from assessments.models import ScorecardStatus
from assessments.permissions import Capability, requires
from assessments.security import allow_chart_styles
from assessments.services import accounts, mentoring, progress, scorecards
from assessments.views.practice import attempt_page

bp = Blueprint("mentoring", __name__, url_prefix="/mentoring")


@bp.get("/")
@requires(Capability.MENTOR)
def mentees() -> str:
    """The mentor's mentees, each with their latest attempts."""
    rows = [(m, mentoring.attempts_of(m)[:5]) for m in mentoring.mentees_of(current_user)]
    return render_template("mentoring/mentees.html", rows=rows)


@bp.get("/mentees/<int:mentee_id>")
@requires(Capability.MENTOR)
def mentee(mentee_id: int) -> Response:
    """One mentee: scores over time per dimension, every attempt, and which ones are reviewed."""
    person = mentoring.mentee_for(current_user, mentee_id)
    attempts = mentoring.attempts_of(person)
    reviewed = {a.id for a in attempts if mentoring.own_review(a, current_user) is not None}
    return allow_chart_styles(
        make_response(
            render_template(
                "mentoring/mentee.html",
                mentee=person,
                attempts=attempts,
                reviewed=reviewed,
                progress=progress.mentee_progress(person),
                mentor_view=True,
            )
        )
    )


@bp.get("/attempts/<int:attempt_id>")
@requires(Capability.MENTOR)
def attempt(attempt_id: int) -> str:
    """A mentee's attempt as they see it, with the mentor's review."""
    own = mentoring.attempt_for(current_user, attempt_id)
    return attempt_page(own, viewer="mentor", own_review=mentoring.own_review(own, current_user))


@bp.route("/attempts/<int:attempt_id>/review", methods=["GET", "POST"])
@requires(Capability.MENTOR)
def review(attempt_id: int) -> Response | tuple[str, int]:
    """Review an attempt against the rubric's dimensions and anchors (never a hiring scorecard)."""
    own = mentoring.attempt_for(current_user, attempt_id)
    existing = mentoring.own_review(own, current_user)
    if existing is not None and existing.status == ScorecardStatus.SUBMITTED:
        return redirect(url_for("mentoring.attempt", attempt_id=own.id))
    rubric = mentoring.review_rubric(own, existing)
    form = build_scorecard_form(
        rubric,
        mentoring.review_dimensions(own, rubric),
        data=scorecards.as_result(existing) if existing else None,
        recommend=False,
        mentoring=True,
    )
    if form.validate_on_submit():
        result = form.result()
        mentoring.save_review(own, current_user, result)
        if result.is_final:
            flash("Review submitted; your mentee can read it on their attempt.", "success")
            return redirect(url_for("mentoring.attempt", attempt_id=own.id))
        flash("Draft saved. Only you can see it.", "success")
        return redirect(url_for("mentoring.review", attempt_id=own.id))
    return render_template(
        "mentoring/review.html",
        attempt=own,
        form=form,
        rubric=rubric,
    ), 400 if form.is_submitted() else 200


def _pairing_form() -> PairingForm:
    form = PairingForm()
    for field, capability in ((form.mentor, Capability.MENTOR), (form.mentee, Capability.PRACTISE)):
        people = accounts.list_users(capability)
        field.choices = [SelectChoice(u.id, f"{u.display_name} ({u.email})") for u in people]
    return form


@bp.route("/pairs", methods=["GET", "POST"])
@requires(Capability.PAIR_MENTORS)
def pairs() -> Response | tuple[str, int]:
    """Every mentor–mentee pairing, and a form to add one."""
    form = _pairing_form()
    if form.validate_on_submit():
        try:
            mentor = mentoring.find_account(form.mentor.data)
            mentee = mentoring.find_account(form.mentee.data)
            mentoring.pair(mentor, mentee, current_user)
        except InvalidInput as error:
            form.form_errors.append(error.message)
        else:
            flash(f"{mentor.display_name} now mentors {mentee.display_name}.", "success")
            return redirect(url_for("mentoring.pairs"))
    return render_template(
        "mentoring/pairs.html",
        form=form,
        pairings=mentoring.list_pairings(),
        end_form=EndPairingForm(),
    ), 400 if form.is_submitted() else 200


@bp.post("/pairs/<int:pairing_id>/end")
@requires(Capability.PAIR_MENTORS)
def end_pair(pairing_id: int) -> Response:
    """End a pairing (the mentor's reviews are kept)."""
    if EndPairingForm().validate_on_submit():
        mentoring.end_pairing(pairing_id, current_user)
        flash("Pairing ended.", "success")
    return redirect(url_for("mentoring.pairs"))
