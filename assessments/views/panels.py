"""Interviewers' pages for one invitation: the scorecard, amendments, the debrief and exports."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user

from assessments.errors import InvalidInput
from assessments.forms.amendment import AmendmentReasonForm
from assessments.forms.pipeline import DecisionForm
from assessments.forms.scorecard import build_scorecard_form
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
    kit, rubric = basis.kit, basis.rubric
    form = build_scorecard_form(rubric, basis.focus_dimension_ids, data=scorecards.as_result(own) if own else None)
    if form.validate_on_submit():
        result = form.result()
        scorecards.save_scorecard(invitation, current_user, result)
        if result.is_final:
            flash("Scorecard submitted. You can now see the rest of the panel's.", "success")
            return redirect(url_for("panels.debrief", invitation_id=invitation.id))
        flash("Draft saved. Only you can see it.", "success")
        return redirect(url_for("panels.scorecard", invitation_id=invitation.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "panels/scorecard.html",
        invitation=invitation,
        form=form,
        kit=kit,
        rubric=rubric,
        amend=None,
        guide=guides.invitation_guide(invitation, current_user),
    ), status


@bp.route("/<int:invitation_id>/amend", methods=["GET", "POST"])
@requires(Capability.SIT_ON_PANEL)
def amend(invitation_id: int) -> Response | tuple[str, int] | str:
    """Change a submitted scorecard: a new version with a reason, the original kept."""
    invitation = _context(invitation_id)
    own = scorecards.own_scorecard(invitation, current_user)
    if own is None or own.status != ScorecardStatus.SUBMITTED:
        return redirect(url_for("panels.scorecard", invitation_id=invitation.id))
    basis = scorecards.scorecard_basis(invitation, own)
    kit, rubric = basis.kit, basis.rubric
    form = build_scorecard_form(rubric, basis.focus_dimension_ids, data=scorecards.as_result(own))
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
    return render_template(
        "panels/scorecard.html",
        invitation=invitation,
        form=form,
        kit=kit,
        rubric=rubric,
        amend=reason,
        guide=guides.invitation_guide(invitation, current_user),
    ), status


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


@bp.get("/<int:invitation_id>/scorecards.csv")
@requires(Capability.SIT_ON_PANEL)
def export_csv(invitation_id: int) -> Response:
    """The panel's submitted ratings, long format, as CSV."""
    invitation = _context(invitation_id)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(scorecards.export_rows(invitation, current_user))
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="scorecards-{invitation.id}.csv"'
    return response
