"""Who on staff may see what about an invitation."""

from __future__ import annotations

from sqlalchemy import select

from assessments.errors import AccessDenied
from assessments.extensions import db
from assessments.models import Invitation, PanelMember, User
from assessments.permissions import Capability, can


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
