"""Mails that tell people something happened or is due: scorecards waiting, reminders, new practice attempts.

Each mail is queued through the outbox in the transaction of the event it reports, so it goes out
exactly when that event is committed. A blind invitation's mails name the candidate by their code
only (`blinding.candidate_code`), whoever on the panel reads them: a mail is forwarded and previewed
where a page is not.

Reminders come from `sweep_reminders`, which the workers run every minute. Each reminder is claimed
with one conditional UPDATE on the row it concerns (`panel_member.scorecard_reminded_at`,
`invitation.deadline_reminded_for`) and queued in the same transaction as that claim: two workers
sweeping at once cannot both win a claim, and a worker that dies before its commit leaves the
claim free for the next sweep, so a reminder is never sent twice and never lost. The mentor's
"new attempt" mail is limited the same way, on `mentor_pairing.attempt_mailed_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import ColumnElement, Update, exists, or_, select, tuple_, update

from assessments import queue
from assessments.extensions import db
from assessments.models import (
    HiringDecision,
    Invitation,
    InvitationStatus,
    MentorPairing,
    OutboxMail,
    PanelMember,
    PracticeAttempt,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.services import blinding, outbox

log = logging.getLogger(__name__)

# A panelist who has not submitted a scorecard this long after the first version is reminded once.
SCORECARD_REMINDER_AFTER = timedelta(days=2)
# A candidate with no submission this long before the deadline is reminded once.
DEADLINE_REMINDER_BEFORE = timedelta(hours=24)
# At most one "new attempt" mail per mentor and mentee in this long.
ATTEMPT_MAIL_INTERVAL = timedelta(hours=1)

WHEN = "%a %d %b %Y, %H:%M UTC"


def candidate_label(invitation: Invitation) -> str:
    """How staff mails name the candidate: their code on a blind invitation, else their name."""
    return blinding.candidate_code(invitation) if invitation.blind_first_read else invitation.candidate.name


def _panelists(invitation: Invitation) -> list[User]:
    """Active accounts on the invitation's panel (a deactivated one cannot sign in to score)."""
    return [member.interviewer for member in invitation.panel if member.interviewer.active]


def _queue_scorecard_waiting(invitation: Invitation, panelist: User, submission: Submission) -> None:
    outbox.add_mails([_scorecard_waiting(invitation, panelist, submission)])


def _scorecard_waiting(invitation: Invitation, panelist: User, submission: Submission) -> OutboxMail:
    case_title = invitation.case.title
    return outbox.render_mail(
        panelist.email,
        f"Scorecard waiting: {candidate_label(invitation)} ({case_title})",
        "scorecard_waiting",
        about=f"scorecard-waiting:{invitation.id}:{panelist.id}",
        panelist=panelist,
        candidate=candidate_label(invitation),
        case_title=case_title,
        submitted_at=submission.uploaded_at,
        link=outbox.absolute_url("panels.scorecard", invitation_id=invitation.id),
    )


def panelist_added(invitation: Invitation, panelist: User) -> None:
    """Tell a panelist added after the candidate's first version that a scorecard waits for them
    (one added before it hears when it arrives). Added to the caller's transaction.
    """
    if not invitation.submissions or invitation.status == InvitationStatus.REVOKED or not panelist.active:
        return
    _queue_scorecard_waiting(invitation, panelist, invitation.submissions[0])


def submission_accepted(invitation: Invitation, submission: Submission) -> list[OutboxMail]:
    """The mails telling each panelist that a scorecard waits for them, on an invitation's first
    version only (a later version changes what they read, not what they have to do). Rendered,
    not yet added: the caller adds them to its transaction (outbox.add_mails) and commits.
    """
    if submission.version != 1:
        return []
    return [_scorecard_waiting(invitation, panelist, submission) for panelist in _panelists(invitation)]


def _claim(statement: Update) -> bool:
    """Run a conditional UPDATE that claims one mail; True when this transaction won it."""
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1


def _scorecard_submitted() -> ColumnElement[bool]:
    """Whether the panel seat's interviewer has submitted a hiring scorecard for its invitation."""
    # One set of (invitation, interviewer) pairs, built once per query, rather than a lookup per
    # seat: SQLite without statistics looked each seat up through the interviewer's index
    # (thousands of scorecards each), 60 s over 100,000 seats.
    submitted = select(Scorecard.invitation_id, Scorecard.interviewer_id).where(
        Scorecard.purpose == ScorecardPurpose.HIRING,
        Scorecard.status == ScorecardStatus.SUBMITTED,
        Scorecard.invitation_id.is_not(None),  # NOT IN meets no NULL
    )
    return tuple_(PanelMember.invitation_id, PanelMember.interviewer_id).in_(submitted)


def due_scorecard_reminders(now: datetime) -> list[int]:
    """Panel seats whose reminder is due: panel member ids.

    Due two days after the later of the first version and the seat's `added_at` (a panelist added
    after the submission gets their full two days), for an active panelist with no submitted hiring
    scorecard, on an invitation that is not revoked and has no hiring decision yet.
    """
    cutoff = now - SCORECARD_REMINDER_AFTER
    # "The first version is older than the cutoff" is "some version is": an indexed EXISTS per
    # seat instead of grouping every submission each minute.
    uploaded = exists().where(Submission.invitation_id == PanelMember.invitation_id, Submission.uploaded_at <= cutoff)
    decided = exists().where(HiringDecision.invitation_id == PanelMember.invitation_id)
    query = (
        select(PanelMember.id)
        .join(Invitation, Invitation.id == PanelMember.invitation_id)
        .join(User, User.id == PanelMember.interviewer_id)
        .where(
            PanelMember.scorecard_reminded_at.is_(None),
            # max(first version, added) <= cutoff, said without a dialect's GREATEST
            PanelMember.added_at <= cutoff,
            uploaded,
            Invitation.status != InvitationStatus.REVOKED,
            User.active,
            ~_scorecard_submitted(),
            ~decided,
        )
        .order_by(PanelMember.id)
    )
    return list(db.session.scalars(query))


def remind_panelist(member_id: int, now: datetime) -> bool:
    """Claim one panel seat's reminder and queue it in the caller's transaction; False if already
    claimed, or if the scorecard arrived since the seat was found due.
    """
    claimed = _claim(
        update(PanelMember)
        .where(
            PanelMember.id == member_id,
            PanelMember.scorecard_reminded_at.is_(None),
            ~_scorecard_submitted(),
        )
        .values(scorecard_reminded_at=now)
    )
    if not claimed:
        return False
    member = db.session.get(PanelMember, member_id)
    assert member is not None
    invitation, panelist = member.invitation, member.interviewer
    case_title = invitation.case.title
    outbox.queue_mail(
        panelist.email,
        f"Reminder: your scorecard for {candidate_label(invitation)} ({case_title})",
        "scorecard_reminder",
        about=f"scorecard-reminder:{invitation.id}:{panelist.id}",
        panelist=panelist,
        candidate=candidate_label(invitation),
        case_title=case_title,
        submitted_at=invitation.submissions[0].uploaded_at,
        link=outbox.absolute_url("panels.scorecard", invitation_id=invitation.id),
    )
    return True


def due_deadline_reminders(now: datetime) -> list[int]:
    """Invitations whose candidate is due a deadline reminder: ids.

    Open now (not revoked, opened, before the deadline), the deadline within 24 hours, no version
    uploaded, and not yet reminded for this deadline. An invitation issued less than 24 hours
    before its deadline gets none: its invitation mail is that recent.
    """
    uploaded = exists().where(Submission.invitation_id == Invitation.id)
    query = select(Invitation.id, Invitation.created_at, Invitation.due_at).where(
        Invitation.status == InvitationStatus.ACTIVE,
        Invitation.opens_at <= now,
        Invitation.due_at > now,
        Invitation.due_at <= now + DEADLINE_REMINDER_BEFORE,
        or_(Invitation.deadline_reminded_for.is_(None), Invitation.deadline_reminded_for != Invitation.due_at),
        ~uploaded,
    )
    return [
        invitation_id
        for invitation_id, created_at, due_at in db.session.execute(query.order_by(Invitation.id))
        if created_at <= due_at - DEADLINE_REMINDER_BEFORE
    ]


def remind_candidate(invitation_id: int) -> bool:
    """Claim one invitation's deadline reminder and queue it in the caller's transaction; False if already claimed."""
    claimed = _claim(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            or_(Invitation.deadline_reminded_for.is_(None), Invitation.deadline_reminded_for != Invitation.due_at),
        )
        .values(deadline_reminded_for=Invitation.due_at)
    )
    if not claimed:
        return False
    invitation = db.session.get(Invitation, invitation_id)
    assert invitation is not None
    db.session.refresh(invitation)
    inviter = db.session.get(User, invitation.created_by_id) if invitation.created_by_id else None
    case_title = invitation.case.title
    outbox.queue_mail(
        invitation.candidate.email,
        f"Reminder: your case {case_title} is due {invitation.due_at.strftime(WHEN)}",
        "deadline_reminder",
        about=f"deadline-reminder:{invitation.id}",
        candidate=invitation.candidate,
        case_title=case_title,
        due_at=invitation.due_at,
        inviter=inviter if inviter is not None and inviter.active else None,
    )
    return True


def sweep_reminders(now: datetime | None = None) -> int:
    """Queue every reminder that is due (the workers' minute task); returns how many this run claimed.

    Each reminder is claimed and queued in a transaction of its own, so one that fails to render
    or write does not hold back the others, and is tried again by the next sweep.
    """
    now = now or utcnow()
    sent = 0
    for member_id in due_scorecard_reminders(now):
        sent += _commit_one(lambda m=member_id: remind_panelist(m, now), f"panel member {member_id}")
    for invitation_id in due_deadline_reminders(now):
        sent += _commit_one(lambda i=invitation_id: remind_candidate(i), f"invitation {invitation_id}")
    return sent


def _commit_one(remind: Callable[[], bool], what: str) -> int:
    try:
        claimed = remind()
        db.session.commit()
    # One broken reminder (a template error, a lost row) must not stop the sweep for the others.
    except Exception:
        db.session.rollback()
        log.exception("reminder for %s not queued; the next sweep tries again", what)
        return 0
    return int(claimed)


def practice_attempt_graded(attempt: PracticeAttempt, now: datetime | None = None) -> int:
    """Tell the mentee's active mentors that an attempt was graded, at most once an hour per mentor
    and mentee (attempts in between are on the progress page the mail links to). Added to the
    caller's transaction; returns how many mails were queued.
    """
    now = now or utcnow()
    mentee = attempt.practice.mentee
    pairings = db.session.scalars(
        select(MentorPairing)
        .join(User, User.id == MentorPairing.mentor_id)
        .where(MentorPairing.mentee_id == mentee.id, User.active)
        .order_by(MentorPairing.id)
    ).all()
    queued = 0
    for pairing in pairings:
        claimed = _claim(
            update(MentorPairing)
            .where(
                MentorPairing.id == pairing.id,
                or_(
                    MentorPairing.attempt_mailed_at.is_(None),
                    MentorPairing.attempt_mailed_at <= now - ATTEMPT_MAIL_INTERVAL,
                ),
            )
            .values(attempt_mailed_at=now)
        )
        if not claimed:
            continue
        case_title = attempt.practice.case.title
        outbox.queue_mail(
            pairing.mentor.email,
            f"{mentee.display_name} has a new practice attempt: {case_title}",
            "mentee_new_attempt",
            about=f"new-attempt:{mentee.id}:{pairing.mentor_id}",
            mentor=pairing.mentor,
            mentee=mentee,
            case_title=case_title,
            attempt=attempt,
            link=outbox.absolute_url("mentoring.mentee", mentee_id=mentee.id),
        )
        queued += 1
    return queued


def init_app(app: Flask) -> None:
    """Make the workers' minute reminder task sweep for due reminders."""
    queue.set_reminder_sweep(app, sweep_reminders)
