"""Candidates and their invitations: issuing, opening by link, revoking and extending."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.content.bundle import bundle_filename
from assessments.errors import InvalidInput, InvitationUnavailable, NotFound
from assessments.extensions import db
from assessments.models import (
    Candidate,
    Case,
    Invitation,
    InvitationStatus,
    LinkState,
    PanelMember,
    User,
)
from assessments.models.types import utcnow
from assessments.permissions import Capability, can
from assessments.services import catalog
from assessments.services.accounts import normalise_email
from assessments.services.audit import record_event

UNAVAILABLE = (
    "This invitation link is not valid. Check that you copied the whole link from your email, "
    "or contact the person who invited you."
)
EXPIRED = (
    "The deadline for this invitation has passed, so it can no longer be opened. If you need "
    "more time, contact the person who invited you."
)


def hash_token(token: str) -> str:
    """The stored form of an invitation token."""
    return hashlib.sha256(token.encode()).hexdigest()


def list_candidates() -> list[Candidate]:
    """Every candidate, newest first."""
    return list(db.session.scalars(select(Candidate).order_by(Candidate.created_at.desc())))


def invite_candidate(
    name: str,
    email: str,
    case: Case,
    *,
    due_at: datetime,
    panel: Sequence[User],
    actor: User,
    opens_at: datetime | None = None,
    time_limit_minutes: int | None = None,
    allow_late: bool = False,
    seed: int | None = None,
    token: str | None = None,
) -> tuple[Invitation, str]:
    """Add a candidate and invite them to a case in one transaction; returns the invitation and
    its token, shown only once. A refused invitation adds no candidate.

    :raises InvalidInput: for a missing name or email, a deadline not after the opening, a
        non-hiring case or a panel member who is not an active interviewer.
    """
    opens_at = opens_at or utcnow()
    if not name.strip() or not email.strip():
        raise InvalidInput("Give the candidate's name and email.")
    _check_invitation(case, opens_at=opens_at, due_at=due_at, panel=panel)
    candidate = Candidate(name=name.strip(), email=normalise_email(email), created_by_id=actor.id)
    db.session.add(candidate)
    db.session.flush()
    record_event(actor, "candidate.created", "candidate", candidate.id, email=candidate.email)
    invitation, token = _add_invitation(
        candidate, case, opens_at=opens_at, due_at=due_at, panel=panel, actor=actor,
        time_limit_minutes=time_limit_minutes, allow_late=allow_late, seed=seed, token=token,
    )
    db.session.commit()
    return invitation, token


def issue_invitation(
    candidate: Candidate,
    case: Case,
    *,
    due_at: datetime,
    panel: Sequence[User],
    actor: User,
    opens_at: datetime | None = None,
    time_limit_minutes: int | None = None,
    allow_late: bool = False,
    seed: int | None = None,
    token: str | None = None,
) -> tuple[Invitation, str]:
    """Invite an existing candidate to a case; returns the invitation and its token, shown only once.

    :raises InvalidInput: for a deadline not after the opening, a non-hiring case or a panel
        member who is not an active interviewer.
    """
    opens_at = opens_at or utcnow()
    _check_invitation(case, opens_at=opens_at, due_at=due_at, panel=panel)
    invitation, token = _add_invitation(
        candidate, case, opens_at=opens_at, due_at=due_at, panel=panel, actor=actor,
        time_limit_minutes=time_limit_minutes, allow_late=allow_late, seed=seed, token=token,
    )
    db.session.commit()
    return invitation, token


def _check_invitation(case: Case, *, opens_at: datetime, due_at: datetime, panel: Sequence[User]) -> None:
    """Every rule an invitation must meet, checked before anything is added to the session."""
    if due_at <= opens_at:
        raise InvalidInput("The deadline must be after the time the invitation opens.")
    if not case.hiring:
        raise InvalidInput(f"The case {case.title!r} is for practice only, not for hiring.")
    for member in panel:
        if not can(member, Capability.SIT_ON_PANEL) or not member.active:
            raise InvalidInput(f"{member.display_name} is not an active interviewer.")


def _add_invitation(
    candidate: Candidate,
    case: Case,
    *,
    opens_at: datetime,
    due_at: datetime,
    panel: Sequence[User],
    actor: User,
    time_limit_minutes: int | None,
    allow_late: bool,
    seed: int | None,
    token: str | None,
) -> tuple[Invitation, str]:
    # Adds the invitation, its panel and its audit event; the calling use case commits.
    token = token or secrets.token_urlsafe(32)
    invitation = Invitation(
        candidate=candidate,
        case=case,
        seed=seed if seed is not None else secrets.randbelow(2**31 - 1),
        token_hash=hash_token(token),
        opens_at=opens_at,
        due_at=due_at,
        time_limit_minutes=time_limit_minutes or case.time_limit_minutes,
        allow_late=allow_late,
        created_by_id=actor.id,
    )
    db.session.add(invitation)
    for member in panel:
        db.session.add(PanelMember(invitation=invitation, interviewer_id=member.id))
    db.session.flush()
    record_event(
        actor,
        "invitation.issued",
        "invitation",
        invitation.id,
        candidate_id=candidate.id,
        case=case.slug,
        case_version=case.content_hash,
        due_at=due_at.isoformat(),
        panel=[m.id for m in panel],
    )
    return invitation, token


def get_invitation(invitation_id: int) -> Invitation:
    """The invitation with this id.

    :raises NotFound: when there is none.
    """
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


def list_invitations() -> list[Invitation]:
    """Every invitation with its candidate and case, newest first."""
    query = (
        select(Invitation)
        .options(selectinload(Invitation.candidate), selectinload(Invitation.case))
        .order_by(Invitation.created_at.desc())
    )
    return list(db.session.scalars(query))


def open_invitation(token: str, now: datetime | None = None) -> Invitation:
    """The invitation a candidate's link refers to, recording the first opening.

    :raises InvitationUnavailable: the same message for an unknown or revoked link, and a
        message about the deadline for an expired one.
    """
    now = now or utcnow()
    if not token or len(token) > 100:
        raise InvitationUnavailable(UNAVAILABLE)
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    )
    if invitation is None:
        raise InvitationUnavailable(UNAVAILABLE)
    state = invitation.state(now)
    if state == LinkState.REVOKED:
        raise InvitationUnavailable(UNAVAILABLE)
    if state == LinkState.EXPIRED and not invitation.allow_late:
        raise InvitationUnavailable(EXPIRED)
    if state == LinkState.NOT_OPEN:
        raise InvitationUnavailable(
            f"This invitation opens on {invitation.opens_at:%d %B %Y at %H:%M} UTC. "
            "Come back then."
        )
    if invitation.first_opened_at is None:
        invitation.first_opened_at = now
        record_event(None, "invitation.opened", "invitation", invitation.id)
        db.session.commit()
    return invitation


def invitation_bundle(invitation: Invitation) -> tuple[str, bytes]:
    """The candidate's bundle for an invitation: the name it downloads as, and its bytes.

    :raises CaseUnavailable: when the invitation's case version is no longer on disk.
    """
    spec = catalog.spec_for(invitation.case)
    return bundle_filename(spec, invitation.seed), catalog.candidate_bundle(invitation.case, invitation.seed)


def revoke_invitation(invitation: Invitation, actor: User) -> None:
    """Make the link stop working; submissions already made are kept."""
    if invitation.status == InvitationStatus.REVOKED:
        return
    invitation.status = InvitationStatus.REVOKED
    record_event(actor, "invitation.revoked", "invitation", invitation.id)
    db.session.commit()


def extend_invitation(invitation: Invitation, due_at: datetime, actor: User) -> None:
    """Move the deadline later (the old one stays in the audit trail).

    :raises InvalidInput: for a deadline earlier than the current one, or a revoked invitation.
    """
    if invitation.status == InvitationStatus.REVOKED:
        raise InvalidInput("A revoked invitation cannot be extended; issue a new one.")
    if due_at <= invitation.due_at:
        raise InvalidInput("The new deadline must be later than the current one.")
    record_event(
        actor,
        "invitation.extended",
        "invitation",
        invitation.id,
        old_due_at=invitation.due_at.isoformat(),
        new_due_at=due_at.isoformat(),
    )
    invitation.due_at = due_at
    db.session.commit()


def invitations_for_interviewer(user: User) -> list[Invitation]:
    """The invitations this interviewer is on the panel of, soonest deadline first."""
    query = (
        select(Invitation)
        .join(PanelMember)
        .where(PanelMember.interviewer_id == user.id)
        .options(selectinload(Invitation.candidate), selectinload(Invitation.case))
        .order_by(Invitation.due_at)
    )
    return list(db.session.scalars(query))
