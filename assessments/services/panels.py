"""Who on staff may see what about an invitation."""

from __future__ import annotations

from sqlalchemy import select

from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import Invitation, PanelMember, Scorecard, ScorecardStatus, User
from assessments.permissions import Capability, can
from assessments.services import accounts
from assessments.services.audit import record_event


def panel_choices() -> list[User]:
    """Active accounts that may sit on a panel: interviewers first, then those who oversee every panel."""
    # A stable sort keeps each group in name order.
    return sorted(accounts.list_users(Capability.SIT_ON_PANEL), key=lambda u: can(u, Capability.SEE_EVERY_PANEL))


def is_on_panel(user: User, invitation: Invitation) -> bool:
    """True when the user sits on the invitation's panel."""
    return (
        db.session.scalar(
            select(PanelMember.id).where(
                PanelMember.invitation_id == invitation.id, PanelMember.interviewer_id == user.id
            )
        )
        is not None
    )


def require_staff_access(user: User, invitation: Invitation) -> None:
    """Those who see every panel see every invitation; others only those they are on the panel of.

    :raises AccessDenied: otherwise.
    """
    if can(user, Capability.SEE_EVERY_PANEL) or is_on_panel(user, invitation):
        return
    raise AccessDenied("You are not on this candidate's interview panel.")


def add_panel_member(invitation: Invitation, interviewer: User, actor: User) -> None:
    """Put an interviewer on an invitation's panel (at any time; adding someone twice changes nothing).

    :raises InvalidInput: for an account that is not an active interviewer.
    """
    if not can(interviewer, Capability.SIT_ON_PANEL) or not interviewer.active:
        raise InvalidInput(f"{interviewer.display_name} is not an active interviewer.")
    if is_on_panel(interviewer, invitation):
        return
    db.session.add(PanelMember(invitation_id=invitation.id, interviewer_id=interviewer.id))
    record_event(actor, "panel.member_added", "invitation", invitation.id, interviewer_id=interviewer.id)
    db.session.commit()


def remove_panel_member(invitation: Invitation, interviewer: User, actor: User) -> bool:
    """Take an interviewer off an invitation's panel; a scorecard they submitted is kept.
    Returns True when they had submitted one (so the caller can say it stays).

    :raises InvalidInput: when they are not on the panel.
    """
    member = db.session.scalar(
        select(PanelMember).where(
            PanelMember.invitation_id == invitation.id, PanelMember.interviewer_id == interviewer.id
        )
    )
    if member is None:
        raise InvalidInput(f"{interviewer.display_name} is not on this panel.")
    submitted = has_submitted(invitation, interviewer)
    db.session.delete(member)
    record_event(
        actor, "panel.member_removed", "invitation", invitation.id,
        interviewer_id=interviewer.id, scorecard_kept=submitted,
    )
    db.session.commit()
    return submitted


def has_submitted(invitation: Invitation, interviewer: User) -> bool:
    """True when the interviewer has submitted a scorecard for this invitation."""
    return (
        db.session.scalar(
            select(Scorecard.id).where(
                Scorecard.invitation_id == invitation.id,
                Scorecard.interviewer_id == interviewer.id,
                Scorecard.status == ScorecardStatus.SUBMITTED,
            ).limit(1)
        )
        is not None
    )
