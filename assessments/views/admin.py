"""Hiring managers' pages: candidates and their invitations."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from assessments.errors import CandidateExists, InvalidInput
from assessments.forms.fields import to_utc
from assessments.forms.invitation import ActionForm, ExtendForm, InvitationForm, PanelAddForm, RevokeForm
from assessments.forms.pipeline import PipelineFilterForm
from assessments.models.types import utcnow
from assessments.permissions import Capability, requires
from assessments.services import catalog, decisions, integrity, invitations, panels, people, pipeline
from assessments.services.pipeline import PipelineFilters

bp = Blueprint("admin", __name__, url_prefix="/admin")

_NEW_LINK_KEY = "new_invitation_link"


@bp.get("/invitations")
@requires(Capability.INVITE)
def invitation_list() -> str:
    """The hiring pipeline: every invitation's stage and what is overdue, searched, filtered and paged."""
    form = PipelineFilterForm(request.args)
    form.stage.choices = [SelectChoice("", "Any stage")] + [SelectChoice(k, v) for k, v in pipeline.STAGES.items()]
    form.case.choices = [SelectChoice("", "All cases")] + [SelectChoice(k, v) for k, v in pipeline.case_choices()]
    filters = PipelineFilters()
    if form.validate():
        # Bad filters are dropped (and shown as errors), never a 500.
        filters = PipelineFilters(
            search=form.q.data or "",
            case=form.case.data or "",
            stage=form.stage.data or "",
            invited_from=form.invited_from.data,
            invited_to=form.invited_to.data,
            overdue=form.overdue.data,
            needs_panel=form.needs_panel.data,
            page=form.page.data or 1,
        )
    result = pipeline.list_pipeline(filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/invitations.html",
        form=form,
        result=result,
        args=args,
        now=utcnow(),
        hiring_cases=catalog.current_cases(hiring=True),
    )


@bp.get("/cases/<slug>/integrity")
@requires(Capability.SEE_EVERY_PANEL)
def case_integrity(slug: str) -> str:
    """A case's integrity flags with the evidence side by side: for admins, never shown to interviewers."""
    report = integrity.integrity_report(slug)
    return render_template("admin/integrity.html", report=report, shingle_tokens=integrity.SHINGLE_TOKENS)


@bp.route("/invitations/new", methods=["GET", "POST"])
@requires(Capability.INVITE)
def invitation_new() -> Response | tuple[str, int] | str:
    """Invite a person to a hiring case; an email already on file asks before adding a case for them."""
    form = InvitationForm()
    form.case.choices = [(c.slug, c.title) for c in catalog.current_cases(hiring=True)]
    interviewers = panels.panel_choices()
    form.panel.choices = [(u.id, f"{u.display_name} ({u.role})") for u in interviewers]
    existing = None
    if form.validate_on_submit():
        by_id = {u.id: u for u in interviewers}
        try:
            invitation, token = invitations.invite_candidate(
                form.name.data,
                form.email.data,
                catalog.find_current_case(form.case.data),
                due_at=to_utc(form.due_at.data, form.timezone.data),
                panel=[by_id[i] for i in form.panel.data],
                actor=current_user,
                allow_late=form.allow_late.data,
                timed=form.timed.data,
                blind_first_read=form.blind_first_read.data,
                panel_later=form.panel_later.data,
                add_to_existing=form.add_to_existing.data,
                notify=True,
            )
        except CandidateExists as error:
            existing = invitations.find_candidate_by_email(form.email.data)
            form.form_errors.append(error.message)
        except InvalidInput as error:
            form.form_errors.append(error.message)
        else:
            # The token is never stored server-side: hand it to this admin's next page once.
            session[_NEW_LINK_KEY] = {"id": invitation.id, "token": token}
            flash(f"Invitation created and mailed to {invitation.candidate.email}.", "success")
            return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))
    status = 400 if form.is_submitted() else 200
    history = invitations.candidate_history(existing) if existing else []
    return render_template(
        "admin/invitation_new.html", form=form, existing=existing, history=history, now=utcnow()
    ), status


@bp.get("/invitations/<int:invitation_id>")
@requires(Capability.INVITE)
def invitation_detail(invitation_id: int) -> str:
    """One invitation; right after creation or a re-send it shows the link, once."""
    invitation = invitations.get_invitation(invitation_id)
    link = None
    pending = session.get(_NEW_LINK_KEY)
    if pending and pending.get("id") == invitation.id:
        session.pop(_NEW_LINK_KEY)
        link = url_for("candidate.invitation", token=pending["token"], _external=True)
    on_panel = {m.interviewer_id for m in invitation.panel}
    panel_form = PanelAddForm()
    panel_form.interviewer.choices = [
        (u.id, f"{u.display_name} ({u.role})") for u in panels.panel_choices() if u.id not in on_panel
    ]
    return render_template(
        "admin/invitation_detail.html",
        invitation=invitation,
        link=link,
        now=utcnow(),
        extend_form=ExtendForm(),
        revoke_form=RevokeForm(),
        action_form=ActionForm(),
        panel_form=panel_form,
        can_restore=invitations.can_restore(invitation),
        decision=decisions.current_decision(invitation),
        history=invitations.candidate_history(invitation.candidate),
        submitted={m.interviewer_id for m in invitation.panel if panels.has_submitted(invitation, m.interviewer)},
    )


@bp.post("/invitations/<int:invitation_id>/panel")
@requires(Capability.INVITE)
def panel_add(invitation_id: int) -> Response:
    """Put an interviewer on the panel."""
    invitation = invitations.get_invitation(invitation_id)
    form = PanelAddForm()
    form.interviewer.choices = [(u.id, u.display_name) for u in panels.panel_choices()]
    if form.validate_on_submit():
        interviewer = people.get_person(form.interviewer.data)
        try:
            panels.add_panel_member(invitation, interviewer, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash(f"{interviewer.display_name} is on the panel.", "success")
    else:
        flash("Choose an interviewer to add.", "error")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id, _anchor="panel"))


@bp.post("/invitations/<int:invitation_id>/panel/<int:user_id>/remove")
@requires(Capability.INVITE)
def panel_remove(invitation_id: int, user_id: int) -> Response:
    """Take an interviewer off the panel; a scorecard they submitted stays."""
    invitation = invitations.get_invitation(invitation_id)
    if ActionForm().validate_on_submit():
        interviewer = people.get_person(user_id)
        try:
            kept = panels.remove_panel_member(invitation, interviewer, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            message = f"{interviewer.display_name} is off the panel."
            if kept:
                message += " The scorecard they submitted is kept and still counts in the debrief."
            flash(message, "success")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id, _anchor="panel"))


@bp.post("/invitations/<int:invitation_id>/resend")
@requires(Capability.INVITE)
def invitation_resend(invitation_id: int) -> Response:
    """A new link for the same data, mailed to the candidate; the old link stops working."""
    invitation = invitations.get_invitation(invitation_id)
    if ActionForm().validate_on_submit():
        try:
            token = invitations.resend_link(invitation, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            session[_NEW_LINK_KEY] = {"id": invitation.id, "token": token}
            flash(
                f"A new link is mailed to {invitation.candidate.email}; the old link no longer works.",
                "success",
            )
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))


@bp.post("/invitations/<int:invitation_id>/restore")
@requires(Capability.INVITE)
def invitation_restore(invitation_id: int) -> Response:
    """Undo a revoke while the deadline has not passed."""
    invitation = invitations.get_invitation(invitation_id)
    if ActionForm().validate_on_submit():
        try:
            invitations.restore_invitation(invitation, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash("The revoke is undone: the link works again.", "success")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))


@bp.post("/invitations/<int:invitation_id>/revoke")
@requires(Capability.INVITE)
def invitation_revoke(invitation_id: int) -> Response:
    """Stop an invitation link from working."""
    invitation = invitations.get_invitation(invitation_id)
    form = RevokeForm()
    if form.validate_on_submit():
        invitations.revoke_invitation(invitation, current_user)
        flash(
            "The link is revoked. Submissions already made are kept; you can undo this until the deadline.", "success"
        )
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))


@bp.post("/invitations/<int:invitation_id>/extend")
@requires(Capability.INVITE)
def invitation_extend(invitation_id: int) -> Response:
    """Move an invitation's deadline later."""
    invitation = invitations.get_invitation(invitation_id)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            invitations.extend_invitation(invitation, to_utc(form.due_at.data, form.timezone.data), current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash("The deadline is extended.", "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))
