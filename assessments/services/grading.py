"""Hiring submissions: accept an upload, record it as a version, and grade it as a grade run.

Grading itself is the one job path in `grade_runs` (claim, lease, sweep, retries, metrics); this
module says what a submission's run grades and keeps a run per submission and grader version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from assessments.errors import NotFound, UploadRefused
from assessments.extensions import db
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.report import GRADER_VERSION, GradeReport
from assessments.models import Case, GradeRun, GradeStatus, Invitation, LinkState, RunSubject, Submission, User
from assessments.models.types import utcnow
from assessments.services import grade_runs, invitations, notifications, outbox
from assessments.services.audit import record_event
from assessments.storage import submission_store


class SubmissionGrading(grade_runs.GradedWork):
    """A hiring submission's run grades the uploaded version with the invitation's seed."""

    subject = RunSubject.SUBMISSION

    def notebook(self, run: GradeRun) -> grade_runs.NotebookToGrade:
        """The submission's stored bytes, its invitation's case version and seed."""
        assert run.submission is not None
        invitation = run.submission.invitation
        return grade_runs.NotebookToGrade(
            case=invitation.case, sha256=run.submission.sha256, seed=invitations.data_seed(invitation)
        )

    def finished(self, run: GradeRun) -> None:
        """Nothing to carry over: the run is the submission's grade (progress reads the newest run)."""


@dataclass(frozen=True)
class GradingProgress:
    """What a person sees of a submission's grading: a state and, for staff, the report."""

    state: str  # queued | running | done | failed
    report: GradeReport | None
    error: str | None


def accept_submission(invitation: Invitation, filename: str, raw: bytes, now: datetime | None = None) -> Submission:
    """Check, store and record an uploaded notebook as a new version, then queue its grading.

    The bytes are stored and the row committed before anything is graded: nothing is lost even
    if every worker is down. A refused upload leaves earlier versions untouched. The candidate's
    receipt mail, and on a first version the panel's "scorecard waiting" mails, are queued in the
    same transaction.

    :raises UploadRefused: for a revoked invitation, a closed deadline, or a bad notebook.
    """
    now = now or utcnow()
    state = invitation.state(now)
    if state == LinkState.REVOKED:
        raise UploadRefused("This invitation has been revoked, so uploads are closed.")
    if state == LinkState.NOT_OPEN:
        raise UploadRefused("This invitation is not open yet.")
    late = state == LinkState.EXPIRED
    if late and not invitation.allow_late:
        raise UploadRefused(
            "The deadline has passed, so uploads are closed. Your last upload before the "
            "deadline is the one that counts."
        )
    # A timed invitation takes uploads after its time limit, marked late for staff to weigh.
    clock_ends_at = invitations.clock_ends_at(invitation)
    over_time = clock_ends_at is not None and now > clock_ends_at
    late = late or over_time
    stored = grade_runs.store_notebook(invitation.case, filename, raw)
    version = (
        db.session.scalar(select(func.max(Submission.version)).where(Submission.invitation_id == invitation.id)) or 0
    ) + 1
    # Everything is read and every mail rendered before the first write: on SQLite the file's one
    # write lock, which every other writer waits for at a deadline, is held for the inserts only.
    with db.session.no_autoflush:
        submission = Submission(
            invitation_id=invitation.id,
            version=version,
            sha256=stored.sha256,
            size=stored.size,
            filename=stored.filename,
            uploaded_at=now,
            is_late=late,
        )
        receipt = outbox.render_mail(
            invitation.candidate.email,
            f"We received your notebook (version {version}): {invitation.case.title}",
            "candidate_receipt",
            candidate=invitation.candidate,
            case_title=invitation.case.title,
            submission=submission,
            due_at=invitation.due_at,
        )
        panel_mails = notifications.submission_accepted(invitation, submission)
    db.session.add(submission)
    db.session.flush()
    record_event(
        None,
        "submission.accepted",
        "submission",
        submission.id,
        version=version,
        late=late,
        over_time=over_time,
    )
    run = grade_runs.new_grade_run(invitation.case, submission=submission)
    receipt.about = f"submission:{submission.id}"
    outbox.add_mails([receipt, *panel_mails])
    db.session.commit()
    grade_runs.enqueue(run)
    return submission


@dataclass(frozen=True)
class VersionTiming:
    """For staff: how long after the first download a version came, and how far past a timed limit."""

    since_download: timedelta | None  # None when uploaded without a recorded download
    over_limit: timedelta | None  # timed invitations only; None when within the limit
    past_deadline: bool


def version_timing(submission: Submission) -> VersionTiming:
    """How a version's upload time sits against its invitation's first download, time limit and deadline."""
    invitation = submission.invitation
    downloaded = invitation.first_downloaded_at
    since = submission.uploaded_at - downloaded if downloaded and submission.uploaded_at >= downloaded else None
    ends = invitations.clock_ends_at(invitation)
    over = submission.uploaded_at - ends if ends is not None and submission.uploaded_at > ends else None
    return VersionTiming(since, over, submission.uploaded_at >= invitation.due_at)


def request_grading(submission: Submission, actor: User | None = None) -> GradeRun | None:
    """Queue a new run under the current grader (a regrade adds a run, keeping old ones).

    Returns None when a run of this grader is already queued or running for the submission.
    """
    pending = db.session.scalar(
        select(GradeRun).where(
            GradeRun.submission_id == submission.id,
            GradeRun.grader_version == GRADER_VERSION,
            GradeRun.status.in_([GradeStatus.QUEUED, GradeStatus.RUNNING]),
        )
    )
    if pending is not None:
        return None
    run = grade_runs.new_grade_run(submission.invitation.case, submission=submission)
    record_event(actor, "grade_run.requested", "grade_run", run.id, submission_id=submission.id)
    db.session.commit()
    grade_runs.enqueue(run)
    return run


def regrade_case(slug: str, actor: User | None = None) -> int:
    """Queue a new run for every submission of every version of a case; returns how many."""
    submissions = db.session.scalars(select(Submission).join(Invitation).join(Case).where(Case.slug == slug)).all()
    return sum(1 for s in submissions if request_grading(s, actor) is not None)


def latest_run(submission: Submission) -> GradeRun | None:
    """The newest grade run of a submission."""
    return submission.grade_runs[-1] if submission.grade_runs else None


def progress(submission: Submission) -> GradingProgress:
    """The grading state of a submission's newest run."""
    run = latest_run(submission)
    if run is None:
        return GradingProgress("queued", None, None)
    report = GradeReport.from_dict(run.results) if run.results else None
    return GradingProgress(run.status, report, run.error)


def progress_by_version(invitation: Invitation) -> list[tuple[int, GradingProgress]]:
    """Each version's grading state, oldest first, from one query: the candidate page polls this
    every few seconds while a version waits, so it builds no row objects and parses a report only
    where a run stored one."""
    newest = (
        select(GradeRun.submission_id, func.max(GradeRun.id).label("run_id"))
        .join(Submission, Submission.id == GradeRun.submission_id)
        .where(Submission.invitation_id == invitation.id)
        .group_by(GradeRun.submission_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Submission.version, GradeRun.status, GradeRun.error, GradeRun.results)
        .outerjoin(newest, newest.c.submission_id == Submission.id)
        .outerjoin(GradeRun, GradeRun.id == newest.c.run_id)
        .where(Submission.invitation_id == invitation.id)
        .order_by(Submission.version)
    ).all()
    return [
        (
            version,
            GradingProgress(status or "queued", GradeReport.from_dict(results) if results else None, error),
        )
        for version, status, error, results in rows
    ]


def get_submission(submission_id: int) -> Submission:
    """The submission with this id.

    :raises NotFound: when there is none.
    """
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("No such submission.")
    return submission


def submission_bytes(submission: Submission) -> bytes:
    """The stored file of a submission."""
    return submission_store().get(submission.sha256)


def submission_notebook(submission: Submission) -> dict[str, Any]:
    """A submission's notebook for staff to read: as intake parses it, or its raw JSON if intake now refuses it."""
    raw = submission_bytes(submission)
    case = submission.invitation.case
    try:
        return parse_submission(raw, case_slug=case.slug, case_version=case.content_hash)
    except SubmissionRejected:
        return json.loads(raw)
