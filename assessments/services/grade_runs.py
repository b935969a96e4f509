"""The one grading job: a grade run, whether it grades a hiring submission or a practice attempt.

The database is the source of truth for what still needs grading. A run carries a state and a
lease; claiming it is one atomic UPDATE, so a duplicate task is a no-op; the claim and the result
are written with retries while the database is out of reach (outage.py), the result only while
the worker still holds the run; a periodic sweep re-enqueues runs that the queue lost (a worker
killed mid-run) or never delivered, and gives up on a run after MAX_ATTEMPTS.

What a run grades is a kind of `GradedWork`, defined by the service that owns it (`grading`:
submissions, `practice`: practice attempts) and handed to `init_app` by the app factory: it says
where the notebook, case and seed come from, and carries a finished run's outcome over to its own
rows in the run's transaction.
"""

from __future__ import annotations

import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import nbformat
from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update
from werkzeug.utils import secure_filename

from assessments import queue
from assessments.config import upload_max_bytes
from assessments.content.case import CaseSpec
from assessments.errors import UploadRefused
from assessments.extensions import db
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.pipeline import grade_notebook
from assessments.grading.pool import SandboxPool
from assessments.grading.report import GRADER_VERSION, GradeReport
from assessments.grading.sandbox import SandboxUnavailable
from assessments.metrics import observe_grade_run
from assessments.models import Case, GradeRun, GradeStatus, PracticeAttempt, RunSubject, Submission
from assessments.models.types import utcnow
from assessments.outage import DATABASE_UNAVAILABLE, retry_while_unavailable
from assessments.services import catalog
from assessments.storage import submission_store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3

GAVE_UP = (
    "Grading stopped before finishing several times (the worker running it died), so it was given up. "
    "An admin can regrade it."
)


def lease() -> timedelta:
    """How long a worker holds a run before others may take it (longer than any grading)."""
    return timedelta(seconds=current_app.config["GRADE_LEASE_SECONDS"])


def unclaimed_after() -> timedelta:
    """A run queued this long ago and not claimed was lost on the way to a worker."""
    return timedelta(seconds=current_app.config["GRADE_UNCLAIMED_SECONDS"])


@dataclass(frozen=True)
class StoredNotebook:
    """An uploaded notebook that passed intake, stored by sha256."""

    sha256: str
    size: int
    filename: str


def store_notebook(case: Case, filename: str, raw: bytes) -> StoredNotebook:
    """Check an upload against its case version's release and store its bytes.

    :raises UploadRefused: for a file that is not this case's notebook (the message says why).
    """
    try:
        parse_submission(
            raw,
            case_slug=case.slug,
            case_version=case.content_hash,
            max_bytes=upload_max_bytes(current_app.config["UPLOAD_MAX_MB"]),
        )
    except SubmissionRejected as error:
        raise UploadRefused(str(error)) from error
    return StoredNotebook(
        sha256=submission_store().put(raw),
        size=len(raw),
        filename=(secure_filename(filename) or "notebook.ipynb")[:255],
    )


@dataclass(frozen=True)
class NotebookToGrade:
    """Where a run's notebook comes from: its bytes, the case version and the seed of the data."""

    case: Case
    sha256: str
    seed: int


class GradedWork(ABC):
    """A kind of thing a grade run grades (one per RunSubject), given to `init_app`."""

    subject: ClassVar[RunSubject]

    @abstractmethod
    def notebook(self, run: GradeRun) -> NotebookToGrade:
        """The notebook, case version and seed this run grades."""

    @abstractmethod
    def finished(self, run: GradeRun) -> None:
        """Carry a finished (done or failed) run's outcome over, before the run's commit."""


def _work_for(run: GradeRun) -> GradedWork:
    """The kind of work the run grades, as the app was given it."""
    work: dict[RunSubject, GradedWork] = current_app.extensions["assessments.graded_work"]
    return work[run.subject]


def new_grade_run(
    case: Case, *, submission: Submission | None = None, practice_attempt: PracticeAttempt | None = None
) -> GradeRun:
    """Add a queued run (flushed, not committed); `enqueue` it once the caller has committed."""
    run = GradeRun(
        submission=submission,
        practice_attempt=practice_attempt,
        grader_version=GRADER_VERSION,
        case_version=case.content_hash,
        status=GradeStatus.QUEUED,
    )
    db.session.add(run)
    db.session.flush()
    return run


def enqueue(run: GradeRun) -> None:
    """Hand a committed run to the queue (if the queue loses it, the sweep finds it)."""
    queue.grading_queue().enqueue(run.id)


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
    # The claim, not only the process, holds the run: a worker's consumer threads share its name, and
    # one of them may take over a run whose lease ran out under another.
    worker = f"{worker}/{secrets.token_hex(3)}"
    if not retry_while_unavailable(lambda: claim_grade_run(run_id, worker), f"claiming grade run {run_id}"):
        return
    try:
        job = retry_while_unavailable(lambda: _grading_job(run_id), f"loading grade run {run_id}")
        materials = catalog.seed_materials(job.spec, job.seed)
        report = grade_notebook(job.notebook, job.spec, job.seed, pool=sandbox_pool(), materials=materials)
    except SandboxUnavailable as error:
        # An operator problem, not the author's: leave the run for the sweep to retry.
        log.error("grade run %s: no sandbox: %s", run_id, error)
        reason = str(error)
        retry_while_unavailable(lambda: _release(run_id, worker, reason), f"releasing grade run {run_id}")
        return
    except DATABASE_UNAVAILABLE:
        raise  # still unreachable after the retries: the lease runs out and the sweep re-enqueues
    except Exception as error:  # a broken case or store must not take the worker down
        log.exception("grade run %s failed", run_id)
        message = f"The grader failed: {error}"
        retry_while_unavailable(lambda: _finish_claimed(run_id, worker, None, message), f"recording grade run {run_id}")
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
    source = _work_for(run).notebook(run)
    spec = catalog.spec_for(source.case)
    raw = submission_store().get(source.sha256)
    notebook = parse_submission(raw, case_slug=source.case.slug, case_version=source.case.content_hash)
    job = _GradingJob(notebook=notebook, spec=spec, seed=source.seed)
    # Holding a connection idle in a transaction for the whole run would pin a pool slot and lose
    # the run to any dropped connection.
    db.session.commit()
    return job


def sandbox_pool() -> SandboxPool | None:
    """The worker's pool of warm sandboxes, if this process runs one (see `flask worker`)."""
    return current_app.extensions.get("assessments.sandbox_pool")


def _still_claimed(run_id: int, worker: str) -> GradeRun | None:
    """The run, locked, if this worker still holds it (a lease that ran out passes it to another)."""
    run = db.session.get(GradeRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.status != GradeStatus.RUNNING or run.claimed_by != worker:
        log.warning("grade run %s: not running under %s any more (finished, or its lease passed on)", run_id, worker)
        db.session.rollback()
        return None
    return run


def _finish_claimed(run_id: int, worker: str, report: GradeReport | None, error: str | None) -> None:
    run = _still_claimed(run_id, worker)
    if run is not None:
        _finish(run, report, error)


def _release(run_id: int, worker: str, error: str) -> None:
    """Put a run the worker could not grade back in the queue, or give it up after MAX_ATTEMPTS."""
    run = _still_claimed(run_id, worker)
    if run is None:
        return
    if run.attempts >= MAX_ATTEMPTS:
        _finish(run, None, error)
        return
    run.status = GradeStatus.QUEUED
    run.error = error
    run.lease_expires_at = None
    db.session.commit()


def _finish(run: GradeRun, report: GradeReport | None, error: str | None) -> None:
    """Record a run's end (a report, or None when it could not be graded) and commit it."""
    _end(run, report, error, utcnow())
    db.session.commit()
    observe_grade_run(run)  # after the commit: a retried write must not count twice


def _end(run: GradeRun, report: GradeReport | None, error: str | None, now: datetime) -> None:
    """Every way a run ends goes through here, so what it graded always hears of it."""
    run.status = GradeStatus.DONE if report is not None else GradeStatus.FAILED
    run.results = report.to_dict() if report else None
    run.earned = report.earned if report else None
    run.possible = report.possible if report else None
    run.timings = report.to_dict()["timings"] if report else None
    run.error = error
    run.finished_at = now
    run.lease_expires_at = None
    _work_for(run).finished(run)


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
    requeue, given_up = [], []
    for run in lost:
        if run.attempts >= MAX_ATTEMPTS:
            _end(run, None, GAVE_UP, now)
            given_up.append(run)
        else:
            requeue.append(run.id)
    db.session.commit()
    for run in given_up:
        observe_grade_run(run)
    for run_id in requeue:
        queue.grading_queue().enqueue(run_id)
    if requeue:
        log.warning("sweep re-enqueued grade runs %s", requeue)
    return requeue


def queue_status() -> list[GradeRun]:
    """Runs not yet done, oldest first, for operators."""
    return list(
        db.session.scalars(
            select(GradeRun)
            .where(GradeRun.status.in_([GradeStatus.QUEUED, GradeStatus.RUNNING]))
            .order_by(GradeRun.created_at)
        )
    )


def init_app(app: Flask, work: Iterable[GradedWork]) -> None:
    """Make this job path what the app's queue tasks run, for these kinds of work.

    :raises ValueError: when a kind of run has no GradedWork (found when the app is built, not
        when such a run first finishes).
    """
    kinds = {kind.subject: kind for kind in work}
    missing = set(RunSubject) - set(kinds)
    if missing:
        raise ValueError(f"No GradedWork for grade runs of: {', '.join(sorted(missing))}.")
    app.extensions["assessments.graded_work"] = kinds
    queue.set_handlers(app, queue.GradingHandlers(grade=run_grade, sweep=sweep_grade_runs))
