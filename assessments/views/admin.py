"""Hiring managers' pages: candidates and their invitations."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from assessments.errors import InvalidInput
from assessments.forms.fields import to_utc
from assessments.forms.invitation import ExtendForm, InvitationForm, RevokeForm
from assessments.models.types import utcnow
from assessments.permissions import Capability, requires
from assessments.services import catalog, invitations, panels

bp = Blueprint("admin", __name__, url_prefix="/admin")

_NEW_LINK_KEY = "new_invitation_link"


@bp.get("/invitations")
@requires(Capability.INVITE)
def invitation_list() -> str:
    """Every invitation with its state."""
    return render_template(
        "admin/invitations.html", invitations=invitations.list_invitations(), now=utcnow()
    )


@bp.route("/invitations/new", methods=["GET", "POST"])
@requires(Capability.INVITE)
def invitation_new() -> Response | tuple[str, int] | str:
    """Create a candidate and invite them to a hiring case."""
    form = InvitationForm()
    form.case.choices = [(c.slug, c.title) for c in catalog.current_cases(hiring=True)]
    interviewers = panels.panel_choices()
    form.panel.choices = [(u.id, f"{u.display_name} ({u.role})") for u in interviewers]
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
            )
        except InvalidInput as error:
            form.form_errors.append(error.message)
        else:
            # The token is never stored server-side: hand it to this admin's next page once.
            session[_NEW_LINK_KEY] = {"id": invitation.id, "token": token}
            return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))
    status = 400 if form.is_submitted() else 200
    return render_template("admin/invitation_new.html", form=form), status


@bp.get("/invitations/<int:invitation_id>")
@requires(Capability.INVITE)
def invitation_detail(invitation_id: int) -> str:
    """One invitation; right after creation it shows the link, once."""
    invitation = invitations.get_invitation(invitation_id)
    link = None
    pending = session.get(_NEW_LINK_KEY)
    if pending and pending.get("id") == invitation.id:
        session.pop(_NEW_LINK_KEY)
        link = url_for("candidate.invitation", token=pending["token"], _external=True)
    return render_template(
        "admin/invitation_detail.html",
        invitation=invitation,
        link=link,
        now=utcnow(),
        extend_form=ExtendForm(),
        revoke_form=RevokeForm(),
    )


@bp.post("/invitations/<int:invitation_id>/revoke")
@requires(Capability.INVITE)
def invitation_revoke(invitation_id: int) -> Response:
    """Stop an invitation link from working."""
    invitation = invitations.get_invitation(invitation_id)
    if RevokeForm().validate_on_submit():
        invitations.revoke_invitation(invitation, current_user)
        flash("The link is revoked. Submissions already made are kept.", "success")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))


@bp.post("/invitations/<int:invitation_id>/extend")
@requires(Capability.INVITE)
def invitation_extend(invitation_id: int) -> Response:
    """Move an invitation's deadline later."""
    invitation = invitations.get_invitation(invitation_id)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            invitations.extend_invitation(
                invitation, to_utc(form.due_at.data, form.timezone.data), current_user
            )
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash("The deadline is extended.", "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("admin.invitation_detail", invitation_id=invitation.id))
