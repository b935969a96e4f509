"""Candidates and their invitations: issuing, opening by link, revoking and extending."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.content.bundle import bundle_filename
from assessments.content.seeds import SeedKind
from assessments.errors import CandidateExists, InvalidInput, InvitationUnavailable, InvitationWithdrawn, NotFound
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
from assessments.services import accounts, catalog, outbox, seeds
from assessments.services.accounts import normalise_email
from assessments.services.audit import record_event

UNAVAILABLE = (
    "This invitation link is not valid. Check that you copied the whole link from your email, "
    "or contact the person who invited you."
)
WITHDRAWN = (
    "This invitation has been withdrawn, so this link no longer opens it. If you think this is a "
    "mistake, contact the hiring team who invited you."
)


def hash_token(token: str) -> str:
    """The stored form of an invitation token."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_candidate_by_email(email: str) -> Candidate | None:
    """The candidate with this email (compared normalised), or None."""
    return db.session.scalar(
        select(Candidate).where(Candidate.email == normalise_email(email)).order_by(Candidate.id).limit(1)
    )


def candidate_history(candidate: Candidate) -> list[Invitation]:
    """A candidate's invitations, oldest first, with their cases and panels."""
    query = (
        select(Invitation)
        .where(Invitation.candidate_id == candidate.id)
        .options(selectinload(Invitation.case), selectinload(Invitation.panel))
        .order_by(Invitation.created_at)
    )
    return list(db.session.scalars(query))


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
    actor: User | None,
    opens_at: datetime | None = None,
    time_limit_minutes: int | None = None,
    allow_late: bool = False,
    seed: int | None = None,
    token: str | None = None,
    timed: bool = False,
    blind_first_read: bool = True,
    panel_later: bool = False,
    add_to_existing: bool = False,
    notify: bool = False,
) -> tuple[Invitation, str]:
    """Invite someone to a case in one transaction, adding them as a candidate unless their email
    already is one; returns the invitation and its token, shown only once. A refused invitation
    adds nothing. With `notify`, the invitation mail with the link goes to the candidate.

    :raises CandidateExists: when the email already belongs to a candidate and `add_to_existing`
        was not given (a person is one candidate: the caller asks whether to add another case).
    :raises InvalidInput: for a missing name or email, a deadline not after the opening, a
        non-hiring case, a panel member who is not an active interviewer, or no panel without
        `panel_later`.
    """
    opens_at = opens_at or utcnow()
    if not name.strip() or not email.strip():
        raise InvalidInput("Give the candidate's name and email.")
    _check_invitation(case, opens_at=opens_at, due_at=due_at, panel=panel, panel_later=panel_later)
    candidate = find_candidate_by_email(email)
    if candidate is not None and not add_to_existing:
        raise CandidateExists(
            f"{candidate.email} is already a candidate ({candidate.name}). Look at their history "
            "and confirm to add another case for them.",
            candidate.id,
        )
    if candidate is None:
        candidate = Candidate(
            name=name.strip(), email=normalise_email(email), created_by_id=actor.id if actor else None
        )
        db.session.add(candidate)
        db.session.flush()
        record_event(actor, "candidate.created", "candidate", candidate.id, email=candidate.email)
    invitation, token = _add_invitation(
        candidate,
        case,
        opens_at=opens_at,
        due_at=due_at,
        panel=panel,
        actor=actor,
        time_limit_minutes=time_limit_minutes,
        allow_late=allow_late,
        seed=seed,
        token=token,
        timed=timed,
        blind_first_read=blind_first_read,
    )
    if notify:
        _queue_invitation_mail(invitation, token, actor)
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
    timed: bool = False,
    blind_first_read: bool = True,
    panel_later: bool = False,
) -> tuple[Invitation, str]:
    """Invite an existing candidate to a case; returns the invitation and its token, shown only once.

    :raises InvalidInput: for a deadline not after the opening, a non-hiring case, a panel
        member who is not an active interviewer, or no panel without `panel_later`.
    """
    opens_at = opens_at or utcnow()
    _check_invitation(case, opens_at=opens_at, due_at=due_at, panel=panel, panel_later=panel_later)
    invitation, token = _add_invitation(
        candidate,
        case,
        opens_at=opens_at,
        due_at=due_at,
        panel=panel,
        actor=actor,
        time_limit_minutes=time_limit_minutes,
        allow_late=allow_late,
        seed=seed,
        token=token,
        timed=timed,
        blind_first_read=blind_first_read,
    )
    db.session.commit()
    return invitation, token


def _check_invitation(
    case: Case, *, opens_at: datetime, due_at: datetime, panel: Sequence[User], panel_later: bool
) -> None:
    """Every rule an invitation must meet, checked before anything is added to the session."""
    if due_at <= opens_at:
        raise InvalidInput("The deadline must be after the time the invitation opens.")
    if not case.hiring:
        raise InvalidInput(f"The case {case.title!r} is for practice only, not for hiring.")
    for member in panel:
        if not can(member, Capability.SIT_ON_PANEL) or not member.active:
            raise InvalidInput(f"{member.display_name} is not an active interviewer.")
    # Nobody can score a candidate without a panel: leaving it empty is a choice made explicitly.
    if not panel and not panel_later:
        raise InvalidInput("Choose the interview panel, or tick “panel later” to add it afterwards.")


def _add_invitation(
    candidate: Candidate,
    case: Case,
    *,
    opens_at: datetime,
    due_at: datetime,
    panel: Sequence[User],
    actor: User | None,
    time_limit_minutes: int | None,
    allow_late: bool,
    seed: int | None,
    token: str | None,
    timed: bool,
    blind_first_read: bool,
) -> tuple[Invitation, str]:
    # Adds the invitation, its panel and its audit event; the calling use case commits.
    token = token or secrets.token_urlsafe(32)
    issued = seeds.issue_seed(seed)
    invitation = Invitation(
        candidate=candidate,
        case=case,
        seed=issued.public_id,
        seed_scheme=issued.scheme,
        seed_key_id=issued.key_id,
        token_hash=hash_token(token),
        opens_at=opens_at,
        due_at=due_at,
        time_limit_minutes=time_limit_minutes or case.time_limit_minutes,
        allow_late=allow_late,
        timed=timed,
        blind_first_read=blind_first_read,
        created_by_id=actor.id if actor else None,
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


def _queue_invitation_mail(invitation: Invitation, token: str, actor: User | None, *, resent: bool = False) -> None:
    # The link is in the mail only: the outbox drops it from the stored parts once sent.
    outbox.queue_mail(
        invitation.candidate.email,
        f"{'A new link to' if resent else 'Your invitation:'} {invitation.case.title}",
        "candidate_invitation",
        about=f"invitation:{invitation.id}",
        candidate=invitation.candidate,
        case_title=invitation.case.title,
        due_at=invitation.due_at,
        inviter=actor,
        link=outbox.absolute_url("candidate.invitation", token=token),
        resent=resent,
    )


def invite_from_script(
    email: str,
    case_slug: str,
    *,
    due_at: datetime,
    panel_emails: Sequence[str] = (),
    name: str | None = None,
    timed: bool = False,
    notify: bool = False,
) -> tuple[Invitation, str, bool]:
    """The CLI's invitation: accounts and the case named by email and slug, no panel meaning
    "panel later", an existing candidate given another case. Returns the invitation, its token
    and whether the candidate already existed.

    :raises NotFound: for an unknown case.
    :raises InvalidInput: for a panel email without an active interviewer's account, a new
        candidate without a name, or any rule `invite_candidate` enforces.
    """
    case = catalog.find_current_case(case_slug)
    panel = []
    for address in panel_emails:
        user = accounts.find_user_by_email(address)
        if user is None:
            raise InvalidInput(f"There is no account for {address}.")
        panel.append(user)
    existing = find_candidate_by_email(email)
    if existing is None and not (name or "").strip():
        raise InvalidInput(f"{email} is not a candidate yet: give their name with --name.")
    invitation, token = invite_candidate(
        existing.name if existing else name or "",
        email,
        case,
        due_at=due_at,
        panel=panel,
        actor=None,
        timed=timed,
        panel_later=not panel,
        add_to_existing=True,
        notify=notify,
    )
    return invitation, token, existing is not None


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
    """The invitation a candidate's link refers to, recording the first opening. After the
    deadline the link still opens, read-only (`uploads_open` says whether uploads are).

    :raises InvitationWithdrawn: for a revoked link (a message that names nobody).
    :raises InvitationUnavailable: for an unknown link, or one that is not open yet.
    """
    now = now or utcnow()
    if not token or len(token) > 100:
        raise InvitationUnavailable(UNAVAILABLE)
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise InvitationUnavailable(UNAVAILABLE)
    state = invitation.state(now)
    if state == LinkState.REVOKED:
        raise InvitationWithdrawn(WITHDRAWN)
    if state == LinkState.NOT_OPEN:
        raise InvitationUnavailable(
            f"This invitation opens on {invitation.opens_at:%d %B %Y at %H:%M} UTC. Come back then."
        )
    if invitation.first_opened_at is None:
        invitation.first_opened_at = now
        record_event(None, "invitation.opened", "invitation", invitation.id)
        db.session.commit()
    return invitation


def uploads_open(invitation: Invitation, now: datetime | None = None) -> bool:
    """Whether the candidate may upload now: the link is open, or past the deadline with late uploads allowed."""
    state = invitation.state(now or utcnow())
    return state == LinkState.OPEN or (state == LinkState.EXPIRED and invitation.allow_late)


def clock_ends_at(invitation: Invitation) -> datetime | None:
    """When a timed invitation's time limit runs out: its first download plus the limit (None before it, or untimed)."""
    if not invitation.timed or invitation.first_downloaded_at is None:
        return None
    return invitation.first_downloaded_at + timedelta(minutes=invitation.time_limit_minutes)


def download_bundle(invitation: Invitation, now: datetime | None = None) -> tuple[str, bytes]:
    """The candidate's bundle, recording the first download (a timed invitation's clock starts there).

    :raises CaseUnavailable: when the invitation's case version is no longer on disk.
    """
    name, data = invitation_bundle(invitation)
    if invitation.first_downloaded_at is None:
        invitation.first_downloaded_at = now or utcnow()
        record_event(None, "invitation.downloaded", "invitation", invitation.id, timed=invitation.timed)
        db.session.commit()
    return name, data


def data_seed(invitation: Invitation) -> int:
    """The seed an invitation's data, answer key and holdout are generated from (never shown to anyone).

    :raises SeedKeyMismatch: when this process holds another seed key than the invitation was issued under.
    """
    return seeds.data_seed_of(SeedKind.INVITATION, invitation.seed, invitation.seed_scheme, invitation.seed_key_id)


def invitation_bundle(invitation: Invitation) -> tuple[str, bytes]:
    """The candidate's bundle for an invitation: the name it downloads as, and its bytes.

    :raises CaseUnavailable: when the invitation's case version is no longer on disk.
    """
    spec = catalog.spec_for(invitation.case)
    # Named by the public seed id; the data inside comes from the derived seed.
    name = bundle_filename(spec, invitation.seed)
    return name, catalog.candidate_bundle(invitation.case, data_seed(invitation), public_id=invitation.seed)


def revoke_invitation(invitation: Invitation, actor: User) -> None:
    """Make the link stop working; submissions already made are kept, and it can be undone until the deadline."""
    if invitation.status == InvitationStatus.REVOKED:
        return
    invitation.status = InvitationStatus.REVOKED
    record_event(actor, "invitation.revoked", "invitation", invitation.id)
    db.session.commit()


def can_restore(invitation: Invitation, now: datetime | None = None) -> bool:
    """True while a revoked invitation's deadline has not passed, so the revoke can be undone."""
    return invitation.status == InvitationStatus.REVOKED and (now or utcnow()) < invitation.due_at


def restore_invitation(invitation: Invitation, actor: User) -> None:
    """Undo a revoke: the same link works again.

    :raises InvalidInput: when the invitation is not revoked or its deadline has passed.
    """
    if not can_restore(invitation):
        raise InvalidInput("Only a revoked invitation whose deadline has not passed can be restored.")
    invitation.status = InvitationStatus.ACTIVE
    record_event(actor, "invitation.restored", "invitation", invitation.id)
    db.session.commit()


def resend_link(invitation: Invitation, actor: User) -> str:
    """A new link for the same seed and data, mailed to the candidate; the old link stops working.
    Returns the new token, shown once.

    :raises InvalidInput: for a revoked invitation (restore it first).
    """
    if invitation.status == InvitationStatus.REVOKED:
        raise InvalidInput("This invitation is revoked: undo the revoke before re-sending its link.")
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    record_event(actor, "invitation.link_resent", "invitation", invitation.id)
    _queue_invitation_mail(invitation, token, actor, resent=True)
    db.session.commit()
    return token


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
