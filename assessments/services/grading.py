"""Submissions and grading: accept an upload, record it, and grade it through the queue.

The database is the source of truth for what still needs grading. A grade run carries a state and
a lease; claiming it is one atomic UPDATE, so a duplicate task is a no-op; a periodic sweep
re-enqueues runs that the queue lost (a worker killed mid-run) or never delivered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import nbformat
from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from werkzeug.utils import secure_filename

from assessments.content.case import CaseSpec
from assessments.errors import DomainError, NotFound
from assessments.extensions import db
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.pipeline import grade_notebook
from assessments.grading.pool import SandboxPool
from assessments.grading.report import GRADER_VERSION, GradeReport
from assessments.grading.sandbox import SandboxUnavailable
from assessments.metrics import observe_grade_run
from assessments.models import Case, GradeRun, GradeStatus, Invitation, Submission, User
from assessments.models.types import utcnow
from assessments.outage import DATABASE_UNAVAILABLE, retry_while_unavailable
from assessments.queue import grading_queue
from assessments.services import catalog
from assessments.services.audit import record_event
from assessments.storage import submission_store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def lease() -> timedelta:
    """How long a worker holds a run before others may take it (longer than any grading)."""
    return timedelta(seconds=current_app.config["GRADE_LEASE_SECONDS"])


def unclaimed_after() -> timedelta:
    """A run queued this long ago and not claimed was lost on the way to a worker."""
    return timedelta(seconds=current_app.config["GRADE_UNCLAIMED_SECONDS"])


class UploadRefused(DomainError):
    """An upload that cannot be accepted: bad file, past the deadline, revoked link."""

    status_code = 400


@dataclass(frozen=True)
class GradingProgress:
    """What a person sees of a submission's grading: a state and, for staff, the report."""

    state: str  # queued | running | done | failed
    report: GradeReport | None
    error: str | None


def accept_submission(
    invitation: Invitation, filename: str, raw: bytes, now: datetime | None = None
) -> Submission:
    """Check, store and record an uploaded notebook as a new version, then queue its grading.

    The bytes are stored and the row committed before anything is graded: nothing is lost even
    if every worker is down. A refused upload leaves earlier versions untouched.

    :raises UploadRefused: for a revoked invitation, a closed deadline, or a bad notebook.
    """
    now = now or utcnow()
    state = invitation.state(now)
    if state == "revoked":
        raise UploadRefused("This invitation has been revoked, so uploads are closed.")
    if state == "not-open":
        raise UploadRefused("This invitation is not open yet.")
    late = state == "expired"
    if late and not invitation.allow_late:
        raise UploadRefused(
            "The deadline has passed, so uploads are closed. Your last upload before the "
            "deadline is the one that counts."
        )
    try:
        parse_submission(
            raw, case_slug=invitation.case.slug, case_version=invitation.case.content_hash
        )
    except SubmissionRejected as error:
        raise UploadRefused(str(error)) from error
    sha256 = submission_store().put(raw)
    version = (
        db.session.scalar(
            select(func.max(Submission.version)).where(Submission.invitation_id == invitation.id)
        )
        or 0
    ) + 1
    submission = Submission(
        invitation=invitation,
        version=version,
        sha256=sha256,
        size=len(raw),
        filename=(secure_filename(filename) or "notebook.ipynb")[:255],
        uploaded_at=now,
        is_late=late,
    )
    db.session.add(submission)
    db.session.flush()
    record_event(
        None, "submission.accepted", "submission", submission.id, version=version, late=late
    )
    run = _new_run(submission)
    db.session.commit()
    grading_queue().enqueue(run.id)
    return submission


def _new_run(submission: Submission) -> GradeRun:
    run = GradeRun(
        submission=submission,
        grader_version=GRADER_VERSION,
        case_version=submission.invitation.case.content_hash,
        status=GradeStatus.QUEUED,
    )
    db.session.add(run)
    db.session.flush()
    return run


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
    run = _new_run(submission)
    record_event(actor, "grade_run.requested", "grade_run", run.id, submission_id=submission.id)
    db.session.commit()
    grading_queue().enqueue(run.id)
    return run


def regrade_case(slug: str, actor: User | None = None) -> int:
    """Queue a new run for every submission of every version of a case; returns how many."""
    submissions = db.session.scalars(
        select(Submission).join(Invitation).join(Case).where(Case.slug == slug)
    ).all()
    return sum(1 for s in submissions if request_grading(s, actor) is not None)


def claim_grade_run(run_id: int, worker: str, now: datetime | None = None) -> bool:
    """Atomically take a queued run, or a running one whose lease expired; False if taken."""
    now = now or utcnow()
    result = db.session.execute(
        update(GradeRun)
        .where(
            GradeRun.id == run_id,
            or_(
                GradeRun.status == GradeStatus.QUEUED,
                and_(GradeRun.status == GradeStatus.RUNNING, GradeRun.lease_expires_at < now),
            ),
        )
        .values(
            status=GradeStatus.RUNNING,
            claimed_by=worker,
            lease_expires_at=now + lease(),
            started_at=now,
            attempts=GradeRun.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def run_grade(run_id: int, worker: str) -> None:
    """Claim a run and grade it; a run already claimed by another worker is left alone.

    The database connection is given back while the notebook runs, and the claim and the result
    are written with retries, so a database restart mid-run costs a few seconds, not the run.
    """
    if not retry_while_unavailable(lambda: claim_grade_run(run_id, worker), f"claiming grade run {run_id}"):
        return
    try:
        job = retry_while_unavailable(lambda: _grading_job(run_id), f"loading grade run {run_id}")
        materials = catalog.seed_materials(job.spec, job.seed)
        report = grade_notebook(job.notebook, job.spec, job.seed, pool=sandbox_pool(), materials=materials)
    except SandboxUnavailable as error:
        # An operator problem, not the candidate's: leave the run for the sweep to retry.
        log.error("grading run %s: no sandbox: %s", run_id, error)
        reason = str(error)
        retry_while_unavailable(lambda: _release(run_id, worker, reason), f"releasing grade run {run_id}")
        return
    except DATABASE_UNAVAILABLE:
        raise  # still unreachable after the retries: the lease runs out and the sweep re-enqueues
    except Exception as error:  # a broken case or store must not take the worker down
        log.exception("grading run %s failed", run_id)
        message = f"The grader failed: {error}"
        retry_while_unavailable(
            lambda: _finish_claimed(run_id, worker, None, message), f"recording grade run {run_id}"
        )
        return
    retry_while_unavailable(
        lambda: _finish_claimed(run_id, worker, report, report.error), f"recording grade run {run_id}"
    )


@dataclass(frozen=True)
class _GradingJob:
    notebook: nbformat.NotebookNode
    spec: CaseSpec
    seed: int


def _grading_job(run_id: int) -> _GradingJob:
    """What grading needs, read in one short transaction that ends before the notebook runs."""
    run = db.session.get(GradeRun, run_id)
    assert run is not None
    invitation = run.submission.invitation
    spec = catalog.spec_for(invitation.case)
    raw = submission_store().get(run.submission.sha256)
    notebook = parse_submission(raw, case_slug=invitation.case.slug, case_version=invitation.case.content_hash)
    job = _GradingJob(notebook=notebook, spec=spec, seed=invitation.seed)
    # Holding a connection idle in a transaction for the whole run would pin a pool slot and lose
    # the run to any dropped connection.
    db.session.commit()
    return job


def _still_claimed(run_id: int, worker: str) -> GradeRun | None:
    """The run, locked, if this worker still holds it (a lease that ran out passes it to another)."""
    run = db.session.get(GradeRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.status != GradeStatus.RUNNING or run.claimed_by != worker:
        log.warning(
            "grading run %s: not running under %s any more (finished, or its lease passed on)", run_id, worker
        )
        db.session.rollback()
        return None
    return run


def _finish_claimed(run_id: int, worker: str, report: GradeReport | None, error: str | None) -> None:
    run = _still_claimed(run_id, worker)
    if run is not None:
        _finish(run, report, error)


def sandbox_pool() -> SandboxPool | None:
    """The worker's pool of warm sandboxes, if this process runs one (see `flask worker`)."""
    return current_app.extensions.get("assessments.sandbox_pool")


def _release(run_id: int, worker: str, error: str) -> None:
    run = _still_claimed(run_id, worker)
    if run is None:
        return
    run.status = GradeStatus.QUEUED if run.attempts < MAX_ATTEMPTS else GradeStatus.FAILED
    run.error = error
    run.lease_expires_at = None
    db.session.commit()


def _finish(run: GradeRun, report: GradeReport | None, error: str | None) -> None:
    run.status = GradeStatus.DONE if report is not None else GradeStatus.FAILED
    run.results = report.to_dict() if report else None
    run.earned = report.earned if report else None
    run.possible = report.possible if report else None
    run.timings = report.to_dict()["timings"] if report else None
    run.error = error
    run.finished_at = utcnow()
    run.lease_expires_at = None
    db.session.commit()
    observe_grade_run(run)  # after the commit: a retried write must not count twice


def sweep_grade_runs(now: datetime | None = None) -> list[int]:
    """Re-enqueue runs whose lease expired or that were never claimed; fail runs that keep dying."""
    now = now or utcnow()
    lost = db.session.scalars(
        select(GradeRun).where(
            or_(
                and_(GradeRun.status == GradeStatus.QUEUED, GradeRun.created_at < now - unclaimed_after()),
                and_(GradeRun.status == GradeStatus.RUNNING, GradeRun.lease_expires_at < now),
            )
        )
    ).all()
    requeue = []
    for run in lost:
        if run.attempts >= MAX_ATTEMPTS:
            run.status = GradeStatus.FAILED
            run.error = (
                "Grading stopped before finishing several times (the worker running it died), "
                "so it was given up. An admin can regrade it."
            )
            run.finished_at = now
        else:
            requeue.append(run.id)
    db.session.commit()
    for run_id in requeue:
        grading_queue().enqueue(run_id)
    if requeue:
        log.warning("sweep re-enqueued grade runs %s", requeue)
    return requeue


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


def queue_status() -> list[GradeRun]:
    """Runs not yet done, oldest first, for operators."""
    return list(
        db.session.scalars(
            select(GradeRun)
            .where(GradeRun.status.in_([GradeStatus.QUEUED, GradeStatus.RUNNING]))
            .order_by(GradeRun.created_at)
        )
    )

