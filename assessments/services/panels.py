"""Who on staff may see what about an invitation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import (
    Invitation,
    PanelMember,
    Scorecard,
    ScorecardDraft,
    ScorecardPurpose,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.permissions import Capability, can
from assessments.services import accounts, notifications
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
    Added after the candidate's first version, they are mailed that a scorecard waits for them.

    :raises InvalidInput: for an account that is not an active interviewer.
    """
    if not can(interviewer, Capability.SIT_ON_PANEL) or not interviewer.active:
        raise InvalidInput(f"{interviewer.display_name} is not an active interviewer.")
    if is_on_panel(interviewer, invitation):
        return
    db.session.add(PanelMember(invitation_id=invitation.id, interviewer_id=interviewer.id))
    record_event(actor, "panel.member_added", "invitation", invitation.id, interviewer_id=interviewer.id)
    # Someone put back on the panel after submitting has nothing waiting.
    if not has_submitted(invitation, interviewer):
        notifications.panelist_added(invitation, interviewer)
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
        actor,
        "panel.member_removed",
        "invitation",
        invitation.id,
        interviewer_id=interviewer.id,
        scorecard_kept=submitted,
    )
    db.session.commit()
    return submitted


def has_submitted(invitation: Invitation, interviewer: User) -> bool:
    """True when the interviewer has submitted a scorecard for this invitation."""
    return (
        db.session.scalar(
            select(Scorecard.id)
            .where(
                Scorecard.invitation_id == invitation.id,
                Scorecard.interviewer_id == interviewer.id,
                Scorecard.status == ScorecardStatus.SUBMITTED,
            )
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class Assignment:
    """An invitation on an interviewer's dashboard, with their own scorecard and the latest version."""

    invitation: Invitation
    own: Scorecard | None
    latest: Submission | None
    has_draft: bool = False

    @property
    def submitted(self) -> bool:
        """Whether the interviewer's own scorecard is in (what blind first read waits for)."""
        return self.own is not None and self.own.status == ScorecardStatus.SUBMITTED


@dataclass(frozen=True)
class InterviewerDashboard:
    """What waits for an interviewer first, then what is still to come, then their past panels."""

    to_write: list[Assignment]
    upcoming: list[Assignment]
    past: list[Assignment]


def interviewer_dashboard(user: User) -> InterviewerDashboard:
    """The interviewer's panels: scorecards to write (newest submission first), panels whose
    candidate has not submitted yet (soonest deadline first), then past panels (latest first)."""
    query = (
        select(Invitation)
        .join(PanelMember)
        .where(PanelMember.interviewer_id == user.id)
        .options(
            selectinload(Invitation.candidate),
            selectinload(Invitation.case),
            selectinload(Invitation.submissions),
        )
    )
    found = list(db.session.scalars(query))
    # Their current scorecard per invitation: the newest row (an amendment is newer than what it amends).
    own_by_invitation = {
        card.invitation_id: card
        for card in db.session.scalars(
            select(Scorecard)
            .where(
                Scorecard.interviewer_id == user.id,
                Scorecard.purpose == ScorecardPurpose.HIRING,
                Scorecard.invitation_id.in_([i.id for i in found]),
            )
            .order_by(Scorecard.id)
        )
    }
    drafted = set(
        db.session.scalars(
            select(ScorecardDraft.invitation_id).where(
                ScorecardDraft.interviewer_id == user.id, ScorecardDraft.invitation_id.in_([i.id for i in found])
            )
        )
    )
    to_write: list[Assignment] = []
    upcoming: list[Assignment] = []
    past: list[Assignment] = []
    for invitation in found:
        own = own_by_invitation.get(invitation.id)
        latest = invitation.submissions[-1] if invitation.submissions else None
        item = Assignment(invitation, own, latest, invitation.id in drafted)
        if item.submitted:
            past.append(item)
        elif latest is not None:
            to_write.append(item)
        else:
            upcoming.append(item)
    to_write.sort(key=lambda a: a.latest.uploaded_at, reverse=True)
    upcoming.sort(key=lambda a: a.invitation.due_at)
    past.sort(key=lambda a: a.own.submitted_at or a.own.created_at, reverse=True)
    return InterviewerDashboard(to_write, upcoming, past)
