"""Practice for mentees: the catalogue, their own seed per case, rate-limited graded attempts, solutions.

A mentee only ever sees cases whose audience includes practice; a hiring-only case is "not found"
for them, exactly like a case that does not exist. Grading is limited per mentee × case (a minimum
interval and a daily cap) so that the grader cannot be used as an answer oracle.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import nbformat
from flask import current_app
from sqlalchemy import func, select
from werkzeug.utils import secure_filename

from assessments.content.bundle import build_bundle, bundle_filename
from assessments.content.case import CaseSpec
from assessments.errors import DomainError, NotFound
from assessments.extensions import db
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import GradeReport
from assessments.grading.sandbox import SandboxUnavailable
from assessments.models import (
    AttemptRoute,
    AttemptStatus,
    Case,
    Practice,
    PracticeAttempt,
    User,
)
from assessments.models.types import utcnow
from assessments.queue import grading_queue
from assessments.services import catalog
from assessments.services import review_exercise as review
from assessments.services.audit import record_event
from assessments.services.grading import sandbox_pool
from assessments.storage import submission_store

log = logging.getLogger(__name__)

NOT_PRACTICE = "There is no practice case called {slug!r}."


class UploadRefused(DomainError):
    """A practice notebook that cannot be graded (wrong file, wrong case, too large)."""

    status_code = 400


class PracticeLimited(DomainError):
    """Too many graded attempts too quickly; the message says when the next one is allowed."""

    status_code = 429

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class CatalogueEntry:
    """A practice case as the catalogue lists it, with this mentee's record on it."""

    case: Case
    effort: str
    skills: tuple[str, ...]
    is_review: bool
    attempts: int
    best: float | None  # best share of points (0..1) over graded attempts, None before any


def find_practice_case(slug: str) -> Case:
    """The current version of a case mentees may practise.

    :raises NotFound: for an unknown case and for a hiring-only case alike.
    """
    case = db.session.scalar(select(Case).where(Case.slug == slug, Case.is_current, Case.practice))
    if case is None:
        raise NotFound(NOT_PRACTICE.format(slug=slug))
    return case


def case_skills(spec: CaseSpec) -> tuple[str, ...]:
    """The rubric dimensions a case's parts exercise, in the order they first appear."""
    seen: dict[str, None] = {}
    for part in spec.parts:
        for dimension in part.dimensions:
            seen.setdefault(dimension)
    return tuple(seen)


def _mentee_attempts(mentee: User, slug: str | None = None) -> list[PracticeAttempt]:
    query = (
        select(PracticeAttempt)
        .join(Practice)
        .join(Case)
        .where(Practice.mentee_id == mentee.id)
        .order_by(PracticeAttempt.submitted_at)
    )
    if slug is not None:
        query = query.where(Case.slug == slug)
    return list(db.session.scalars(query))


def score_share(attempt: PracticeAttempt) -> float | None:
    """The attempt's share of the points (0..1), None until it is graded."""
    if attempt.status != AttemptStatus.DONE or not attempt.possible:
        return None
    return max(0.0, (attempt.earned or 0.0) / attempt.possible)


def practice_catalogue(mentee: User) -> list[CatalogueEntry]:
    """Every current practice case with its effort, skills, and this mentee's attempts and best score."""
    entries = []
    specs = catalog.case_specs()
    for case in catalog.current_cases(practice=True):
        spec = specs.get(case.slug)
        if spec is None:
            continue
        attempts = _mentee_attempts(mentee, case.slug)
        shares = [s for s in (score_share(a) for a in attempts) if s is not None]
        entries.append(
            CatalogueEntry(
                case=case,
                effort=spec.effort,
                skills=case_skills(spec),
                is_review=review.is_review_case(spec),
                attempts=len(attempts),
                best=max(shares) if shares else None,
            )
        )
    return entries


def own_practice(mentee: User, case: Case) -> Practice | None:
    """The mentee's practice of this case version, if they started it."""
    return db.session.scalar(
        select(Practice).where(Practice.mentee_id == mentee.id, Practice.case_id == case.id)
    )


def start_practice(mentee: User, slug: str, seed: int | None = None) -> Practice:
    """Start (or return) the mentee's practice of a case, with a seed of their own.

    :raises NotFound: when there is no practice case with this slug.
    """
    case = find_practice_case(slug)
    practice = own_practice(mentee, case)
    if practice is not None:
        return practice
    practice = Practice(
        mentee_id=mentee.id,
        case_id=case.id,
        seed=seed if seed is not None else secrets.randbelow(2**31 - 1),
    )
    db.session.add(practice)
    db.session.flush()
    record_event(mentee, "practice.started", "practice", practice.id, case=slug, case_version=case.content_hash)
    db.session.commit()
    return practice


def require_practice(mentee: User, slug: str) -> Practice:
    """The mentee's started practice of the current version of a case.

    :raises NotFound: for a case that is not for practice, or one the mentee has not started.
    """
    practice = own_practice(mentee, find_practice_case(slug))
    if practice is None:
        raise NotFound("Start this practice case first: it gives you your own data.")
    return practice


def practice_spec(practice: Practice) -> CaseSpec:
    """The case folder of the practice's case version.

    :raises NotFound: when that version is no longer on disk.
    """
    return catalog.spec_for(practice.case)


def practice_bundle(practice: Practice) -> tuple[str, bytes]:
    """The mentee's own bundle (release notebook, their data, README): file name and bytes."""
    spec = practice_spec(practice)
    return bundle_filename(spec, practice.seed), build_bundle(spec, practice.seed)


def next_attempt_at(practice: Practice, now: datetime | None = None) -> datetime | None:
    """When the next graded attempt is allowed, or None when it is allowed now."""
    now = now or utcnow()
    config = current_app.config
    counted = [a.submitted_at for a in practice.attempts if a.status != AttemptStatus.FAILED]
    waits = []
    if counted:
        waits.append(max(counted) + timedelta(seconds=config["PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS"]))
    today = sorted(t for t in counted if t > now - timedelta(days=1))
    cap = config["PRACTICE_ATTEMPTS_PER_DAY"]
    if len(today) >= cap:
        # The window frees up when the oldest attempt of the last 24 hours leaves it.
        waits.append(today[len(today) - cap] + timedelta(days=1))
    later = [w for w in waits if w > now]
    return max(later) if later else None


def check_attempt_allowed(practice: Practice, now: datetime | None = None) -> None:
    """Refuse a graded attempt that comes too soon after the last one or over the daily cap.

    :raises PracticeLimited: with a message saying when the mentee can try again.
    """
    now = now or utcnow()
    retry_at = next_attempt_at(practice, now)
    if retry_at is None:
        return
    config = current_app.config
    minutes = max(1, -(-int((retry_at - now).total_seconds()) // 60))
    raise PracticeLimited(
        f"You can try again at {retry_at:%H:%M} UTC on {retry_at:%d %B} (in {minutes} minute"
        f"{'' if minutes == 1 else 's'}). Graded attempts are limited to one every "
        f"{config['PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS'] // 60} minutes and "
        f"{config['PRACTICE_ATTEMPTS_PER_DAY']} a day, so that feedback stays a guide and not an "
        "answer machine. Meanwhile, re-read the feedback on your last attempt.",
        retry_at,
    )


def _new_attempt(practice: Practice, route: str, now: datetime) -> PracticeAttempt:
    number = (
        db.session.scalar(select(func.max(PracticeAttempt.number)).where(PracticeAttempt.practice_id == practice.id))
        or 0
    ) + 1
    attempt = PracticeAttempt(
        practice=practice,
        number=number,
        route=route,
        submitted_at=now,
        after_solution=practice.solution_unlocked_at is not None,
    )
    db.session.add(attempt)
    return attempt


def submit_notebook_attempt(
    practice: Practice, filename: str, raw: bytes, now: datetime | None = None
) -> PracticeAttempt:
    """Check and store an uploaded practice notebook as a new attempt, and queue its grading.

    The upload is stored and the attempt committed before grading, so a grader failure loses nothing.

    :raises PracticeLimited: when the rate limit refuses the attempt (nothing is stored).
    :raises UploadRefused: for a file that is not this case's notebook.
    """
    now = now or utcnow()
    check_attempt_allowed(practice, now)
    case = practice.case
    try:
        parse_submission(raw, case_slug=case.slug, case_version=case.content_hash)
    except SubmissionRejected as error:
        raise UploadRefused(str(error)) from error
    attempt = _new_attempt(practice, AttemptRoute.NOTEBOOK, now)
    attempt.sha256 = submission_store().put(raw)
    attempt.size = len(raw)
    attempt.filename = (secure_filename(filename) or "notebook.ipynb")[:255]
    db.session.flush()
    record_event(practice.mentee, "practice.attempt_submitted", "practice_attempt", attempt.id, route="notebook")
    db.session.commit()
    grading_queue().enqueue_attempt(attempt.id)
    db.session.refresh(attempt)
    return attempt


def grade_attempt(attempt_id: int) -> PracticeAttempt:
    """Grade a queued notebook attempt in the sandbox and record the report.

    Run by a grading worker (the `grade_practice` task); an attempt already graded is left alone.
    """
    attempt = db.session.get(PracticeAttempt, attempt_id)
    if attempt is None:
        raise NotFound("No such practice attempt.")
    if attempt.status != AttemptStatus.QUEUED or attempt.sha256 is None:
        return attempt
    case = attempt.practice.case
    try:
        spec = practice_spec(attempt.practice)
        notebook = parse_submission(
            submission_store().get(attempt.sha256), case_slug=case.slug, case_version=case.content_hash
        )
        report = grade_notebook(notebook, spec, attempt.practice.seed, pool=sandbox_pool(),
                                materials=catalog.seed_materials(spec, attempt.practice.seed))
    except SandboxUnavailable as error:
        log.error("practice attempt %s: no sandbox: %s", attempt_id, error)
        return _fail(attempt, "The grader is not available right now, so this attempt was not graded and "
                     "does not count towards your limits. Try again later.")
    except Exception as error:  # a broken case or store must not break the page
        log.exception("practice attempt %s failed", attempt_id)
        return _fail(attempt, f"The grader failed ({type(error).__name__}); this attempt does not count "
                     "towards your limits.")
    return _record(attempt, report)


def requeue_lost_attempts(now: datetime | None = None) -> list[int]:
    """Re-enqueue notebook attempts still queued after a grading lease: their task was lost.

    A practice attempt has no lease of its own; an attempt queued longer than a hiring run's lease
    (which outlasts any grading) can only be one whose worker died or whose task never arrived.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config["GRADE_LEASE_SECONDS"])
    lost = db.session.scalars(
        select(PracticeAttempt.id).where(
            PracticeAttempt.status == AttemptStatus.QUEUED,
            PracticeAttempt.sha256.is_not(None),
            PracticeAttempt.submitted_at < cutoff,
        )
    ).all()
    for attempt_id in lost:
        grading_queue().enqueue_attempt(attempt_id)
    if lost:
        log.warning("sweep re-enqueued practice attempts %s", lost)
    return list(lost)


def _fail(attempt: PracticeAttempt, message: str) -> PracticeAttempt:
    attempt.status = AttemptStatus.FAILED
    attempt.error = message
    attempt.graded_at = utcnow()
    db.session.commit()
    return attempt


def _record(attempt: PracticeAttempt, report: GradeReport) -> PracticeAttempt:
    attempt.status = AttemptStatus.DONE
    attempt.results = report.to_dict()
    attempt.earned = report.earned
    attempt.possible = report.possible
    attempt.error = report.error
    attempt.graded_at = utcnow()
    practice = attempt.practice
    if practice.solution_unlocked_at is None:
        practice.solution_unlocked_at = attempt.graded_at
        practice.solution_unlock_reason = "graded-attempt"
        record_event(practice.mentee, "practice.solution_unlocked", "practice", practice.id,
                     reason="graded-attempt", attempt_id=attempt.id)
    db.session.commit()
    return attempt


def submit_review_attempt(
    practice: Practice, flags: list[review.ReviewFlag], now: datetime | None = None
) -> PracticeAttempt:
    """Score defects flagged in the browser with the notebook route's check, as a new attempt.

    :raises PracticeLimited: when the rate limit refuses the attempt.
    :raises NotFound: when the case has no review exercise.
    """
    now = now or utcnow()
    spec = practice_spec(practice)
    if not review.is_review_case(spec):
        raise NotFound(f"The case {spec.title!r} has no review exercise in the browser.")
    check_attempt_allowed(practice, now)
    report = review.score_flags(spec, practice.seed, flags)
    attempt = _new_attempt(practice, AttemptRoute.BROWSER, now)
    attempt.flags = [{"label": f.label, "defect": f.defect, "note": f.note} for f in flags]
    db.session.flush()
    record_event(practice.mentee, "practice.attempt_submitted", "practice_attempt", attempt.id, route="browser")
    return _record(attempt, report)


def unlock_solution(practice: Practice, mentee: User) -> None:
    """Open the model solution before any graded attempt, on the mentee's explicit request (audited)."""
    if practice.solution_unlocked_at is not None:
        return
    practice.solution_unlocked_at = utcnow()
    practice.solution_unlock_reason = "requested"
    record_event(mentee, "practice.solution_unlocked", "practice", practice.id, reason="requested")
    db.session.commit()


def get_own_attempt(mentee: User, attempt_id: int) -> PracticeAttempt:
    """One of the mentee's own attempts.

    :raises NotFound: for an attempt that does not exist or is someone else's (the same answer).
    """
    attempt = db.session.get(PracticeAttempt, attempt_id)
    if attempt is None or attempt.practice.mentee_id != mentee.id:
        raise NotFound("No such practice attempt.")
    return attempt


def attempt_report(attempt: PracticeAttempt) -> GradeReport | None:
    """The attempt's grade report, once graded."""
    return GradeReport.from_dict(attempt.results) if attempt.results else None


def attempt_notebook(attempt: PracticeAttempt) -> nbformat.NotebookNode | None:
    """The uploaded notebook of a notebook attempt (None for browser attempts)."""
    if attempt.sha256 is None:
        return None
    return nbformat.reads(submission_store().get(attempt.sha256).decode("utf-8"), as_version=4)
