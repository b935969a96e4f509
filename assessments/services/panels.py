"""Who on staff may see what about an invitation."""

from __future__ import annotations

from sqlalchemy import select

from assessments.errors import AccessDenied
from assessments.extensions import db
from assessments.models import Invitation, PanelMember, User
from assessments.permissions import Capability, can
from assessments.services import accounts


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
