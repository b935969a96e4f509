"""Interviewers' pages for one invitation: the scorecard, amendments, the debrief and exports."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user

from assessments.errors import InvalidInput
from assessments.forms.amendment import AmendmentReasonForm
from assessments.forms.pipeline import DecisionForm
from assessments.forms.scorecard import ScorecardForm, build_scorecard_form
from assessments.models import Invitation, ScorecardStatus
from assessments.permissions import Capability, requires
from assessments.services import decisions, guides, invitations, panels, scorecards
from assessments.services.scorecards import EXPORT_COLUMNS

bp = Blueprint("panels", __name__, url_prefix="/panels")


def _context(invitation_id: int) -> Invitation:
    invitation = invitations.get_invitation(invitation_id)
    panels.require_staff_access(current_user, invitation)
    return invitation


@bp.route("/<int:invitation_id>/scorecard", methods=["GET", "POST"])
@requires(Capability.SIT_ON_PANEL)
def scorecard(invitation_id: int) -> Response | tuple[str, int] | str:
    """Fill in (or resume) this interviewer's scorecard, with the interview kit beside it."""
    invitation = _context(invitation_id)
    scorecards.require_panel_member(current_user, invitation)
    own = scorecards.own_scorecard(invitation, current_user)
    if own is not None and own.status == ScorecardStatus.SUBMITTED:
        return redirect(url_for("panels.debrief", invitation_id=invitation.id))
    basis = scorecards.scorecard_basis(invitation, own)
    resume, draft_saved_at = scorecards.resume_point(invitation, current_user)
    form = build_scorecard_form(basis.rubric, basis.focus_dimension_ids, data=resume)
    if form.validate_on_submit():
        result = form.result()
        scorecards.save_scorecard(invitation, current_user, result)
        if result.is_final:
            flash("Scorecard submitted. You can now see the rest of the panel's.", "success")
            return redirect(url_for("panels.debrief", invitation_id=invitation.id))
        flash("Draft saved. Only you can see it.", "success")
        return redirect(url_for("panels.scorecard", invitation_id=invitation.id))
    status = 400 if form.is_submitted() else 200
    return _scorecard_page(invitation, basis, form, None, draft_saved_at), status


@bp.post("/<int:invitation_id>/scorecard/draft")
@requires(Capability.SIT_ON_PANEL)
def autosave(invitation_id: int) -> tuple[Response, int] | Response:
    """Keep what the scorecard form holds as this interviewer's draft (the page posts it every few
    seconds after a change); never submits, whatever the post says."""
    invitation = _context(invitation_id)
    scorecards.require_panel_member(current_user, invitation)
    basis = scorecards.scorecard_basis(invitation, scorecards.own_scorecard(invitation, current_user))
    form = build_scorecard_form(basis.rubric, basis.focus_dimension_ids)
    if form.submit.data:
        return jsonify(saved=False, errors=["Autosave only keeps drafts; press Submit to submit."]), 400
    if not form.validate_on_submit():
        return jsonify(saved=False, errors=[message for _, message in form.error_summary] or ["Reload the page."]), 400
    draft = scorecards.save_scorecard(invitation, current_user, form.result(), autosave=True)
    return jsonify(saved=True, saved_at=draft.saved_at.isoformat(), text=f"Draft saved {draft.saved_at:%H:%M} UTC")


def _scorecard_page(
    invitation: Invitation,
    basis: scorecards.ScorecardBasis,
    form: ScorecardForm,
    reason: AmendmentReasonForm | None,
    draft_saved_at: datetime | None = None,
) -> str:
    errors = [(reason.reason.id, e) for e in reason.reason.errors] if reason else []
    return render_template(
        "panels/scorecard.html",
        invitation=invitation,
        form=form,
        errors=errors + form.error_summary,
        kit=basis.kit,
        rubric=basis.rubric,
        amend=reason,
        draft_saved_at=draft_saved_at,
        auto_grade=scorecards.latest_auto_grade(invitation),
        guide=guides.invitation_guide(invitation, current_user),
    )


@bp.route("/<int:invitation_id>/amend", methods=["GET", "POST"])
@requires(Capability.SIT_ON_PANEL)
def amend(invitation_id: int) -> Response | tuple[str, int] | str:
    """Change a submitted scorecard: a new version with a reason, the original kept."""
    invitation = _context(invitation_id)
    own = scorecards.own_scorecard(invitation, current_user)
    if own is None or own.status != ScorecardStatus.SUBMITTED:
        return redirect(url_for("panels.scorecard", invitation_id=invitation.id))
    basis = scorecards.scorecard_basis(invitation, own)
    form = build_scorecard_form(basis.rubric, basis.focus_dimension_ids, data=scorecards.as_result(own))
    reason = AmendmentReasonForm()
    if form.validate_on_submit() and reason.validate():
        result = form.result()
        if not result.is_final:
            form.form_errors.append("An amendment replaces a submitted scorecard: use Submit.")
        else:
            scorecards.amend_scorecard(invitation, current_user, result, reason.reason.data)
            flash("Amendment recorded; the original stays beside it.", "success")
            return redirect(url_for("panels.debrief", invitation_id=invitation.id))
    status = 400 if form.is_submitted() else 200
    return _scorecard_page(invitation, basis, form, reason), status


@bp.get("/<int:invitation_id>/debrief")
@requires(Capability.SIT_ON_PANEL)
def debrief(invitation_id: int) -> str:
    """Every submitted scorecard side by side, disagreements highlighted, the mechanical summary."""
    invitation = _context(invitation_id)
    summary = scorecards.debrief(invitation, current_user)
    return render_template(
        "panels/debrief.html",
        d=summary,
        rubric=summary.rubric,
        decision=decisions.current_decision(invitation),
        decision_form=DecisionForm(),
    )


@bp.post("/<int:invitation_id>/decision")
@requires(Capability.INVITE)
def decide(invitation_id: int) -> Response:
    """Record the hiring decision (advance, reject or hold) with a note."""
    invitation = _context(invitation_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            decisions.record_decision(invitation, form.outcome.data, form.note.data or "", current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash(f"Decision recorded: {form.outcome.data}.", "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("panels.debrief", invitation_id=invitation.id, _anchor="decision"))


@bp.get("/<int:invitation_id>/scorecards.json")
@requires(Capability.SIT_ON_PANEL)
def export_json(invitation_id: int) -> Response:
    """The panel's submitted ratings, long format, as JSON."""
    invitation = _context(invitation_id)
    return jsonify(scorecards.export_rows(invitation, current_user))


def _spreadsheet_safe(value: object) -> object:
    # Evidence and take-aways are free text (often quoting the candidate); a cell starting with one of
    # these is run as a formula by spreadsheet programs, so it is opened as text instead (OWASP's advice).
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


@bp.get("/<int:invitation_id>/scorecards.csv")
@requires(Capability.SIT_ON_PANEL)
def export_csv(invitation_id: int) -> Response:
    """The panel's submitted ratings, long format, as CSV."""
    invitation = _context(invitation_id)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {k: _spreadsheet_safe(v) for k, v in row.items()} for row in scorecards.export_rows(invitation, current_user)
    )
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="scorecards-{invitation.id}.csv"'
    return response
