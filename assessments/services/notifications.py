"""Mails that tell people something happened or is due: scorecards waiting, reminders, new practice attempts.

Each mail is queued through the outbox in the transaction of the event it reports, so it goes out
exactly when that event is committed. A blind invitation's mails name the candidate by their code
only (`blinding.candidate_code`), whoever on the panel reads them: a mail is forwarded and previewed
where a page is not.
"""

from __future__ import annotations

from assessments.models import Invitation, Submission, User
from assessments.services import blinding, outbox


def candidate_label(invitation: Invitation) -> str:
    """How staff mails name the candidate: their code on a blind invitation, else their name."""
    return blinding.candidate_code(invitation) if invitation.blind_first_read else invitation.candidate.name


def _panelists(invitation: Invitation) -> list[User]:
    """Active accounts on the invitation's panel (a deactivated one cannot sign in to score)."""
    return [member.interviewer for member in invitation.panel if member.interviewer.active]


def _queue_scorecard_waiting(invitation: Invitation, panelist: User, submission: Submission) -> None:
    case_title = invitation.case.title
    outbox.queue_mail(
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


def submission_accepted(submission: Submission) -> None:
    """Tell each panelist that a scorecard waits for them, on an invitation's first version only
    (a later version changes what they read, not what they have to do). Added to the caller's
    transaction; the caller commits.
    """
    if submission.version != 1:
        return
    invitation = submission.invitation
    for panelist in _panelists(invitation):
        _queue_scorecard_waiting(invitation, panelist, submission)
