"""Practice for mentees: the catalogue, their own seed per case, rate-limited graded attempts, solutions.

A mentee only ever sees cases whose audience includes practice; a hiring-only case is "not found"
for them, exactly like a case that does not exist. Grading is limited per mentee × case (a minimum
interval and a daily cap) so that the grader cannot be used as an answer oracle. A notebook
attempt is graded by a grade run, the same job as a hiring submission's (`grade_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import nbformat
from flask import current_app
from sqlalchemy import func, select

from assessments.content.bundle import build_bundle, bundle_filename
from assessments.content.case import CaseSpec
from assessments.content.seeds import SeedKind
from assessments.errors import DomainError, NotFound
from assessments.extensions import db
from assessments.grading.report import GradeReport
from assessments.models import (
    AttemptRoute,
    AttemptStatus,
    Case,
    GradeRun,
    GradeStatus,
    Practice,
    PracticeAttempt,
    RunSubject,
    UnlockReason,
    User,
)
from assessments.models.types import utcnow
from assessments.services import catalog, grade_runs, seeds
from assessments.services import review_exercise as review
from assessments.services.audit import record_event
from assessments.services.notifications import practice_attempt_graded
from assessments.storage import submission_store

NOT_PRACTICE = "There is no practice case called {slug!r}."
NOT_GRADED = (
    "The grader could not grade this attempt (a problem on our side, not in your notebook), so it "
    "does not count towards your limits. Try again later."
)


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


MAIN_DIMENSION_SHARE = 0.15
MAIN_DIMENSIONS_AT_MOST = 3


def dimension_weights(spec: CaseSpec) -> dict[str, float]:
    """Each dimension's share of the case's points, largest first: a part's points are split evenly
    over the dimensions it lists, so a part tagged with everything says little about each."""
    weights: dict[str, float] = {}
    for part in spec.parts:
        for dimension in part.dimensions:
            weights[dimension] = weights.get(dimension, 0.0) + part.points / len(part.dimensions)
    total = sum(weights.values())
    if total <= 0:
        return {}
    return dict(sorted(((d, w / total) for d, w in weights.items()), key=lambda item: -item[1]))


def main_dimensions(spec: CaseSpec) -> tuple[str, ...]:
    """The dimensions a case mainly exercises: those carrying at least MAIN_DIMENSION_SHARE of its
    points, at most MAIN_DIMENSIONS_AT_MOST, and always the largest one; largest first."""
    weights = dimension_weights(spec)
    main = [d for d, share in weights.items() if share >= MAIN_DIMENSION_SHARE][:MAIN_DIMENSIONS_AT_MOST]
    return tuple(main or list(weights)[:1])


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
                skills=main_dimensions(spec),
                is_review=review.is_review_case(spec),
                attempts=len(attempts),
                best=max(shares) if shares else None,
            )
        )
    return entries


def own_practice(mentee: User, case: Case) -> Practice | None:
    """The mentee's practice of this case version, if they started it."""
    return db.session.scalar(select(Practice).where(Practice.mentee_id == mentee.id, Practice.case_id == case.id))


def start_practice(mentee: User, slug: str, seed: int | None = None) -> Practice:
    """Start (or return) the mentee's practice of a case, with a seed of their own.

    :raises NotFound: when there is no practice case with this slug.
    """
    case = find_practice_case(slug)
    practice = own_practice(mentee, case)
    if practice is not None:
        return practice
    issued = seeds.issue_seed(seed)
    practice = Practice(
        mentee_id=mentee.id,
        case_id=case.id,
        seed=issued.public_id,
        seed_scheme=issued.scheme,
        seed_key_id=issued.key_id,
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


def data_seed(practice: Practice) -> int:
    """The seed a practice's data, answer key and review notebook come from (never shown to the mentee).

    :raises SeedKeyMismatch: when this process holds another seed key than the practice was started under.
    """
    return seeds.data_seed_of(SeedKind.PRACTICE, practice.seed, practice.seed_scheme, practice.seed_key_id)


def practice_bundle(practice: Practice) -> tuple[str, bytes]:
    """The mentee's own bundle (release notebook, their data, README): file name and bytes."""
    spec = practice_spec(practice)
    return bundle_filename(spec, practice.seed), build_bundle(spec, data_seed(practice), public_id=practice.seed)


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
    """Check and store an uploaded practice notebook as a new attempt, and queue its grade run.

    The upload is stored and the attempt committed before grading, so a grader failure loses nothing.

    :raises PracticeLimited: when the rate limit refuses the attempt (nothing is stored).
    :raises UploadRefused: for a file that is not this case's notebook.
    """
    now = now or utcnow()
    check_attempt_allowed(practice, now)
    stored = grade_runs.store_notebook(practice.case, filename, raw)
    attempt = _new_attempt(practice, AttemptRoute.NOTEBOOK, now)
    attempt.sha256 = stored.sha256
    attempt.size = stored.size
    attempt.filename = stored.filename
    db.session.flush()
    record_event(practice.mentee, "practice.attempt_submitted", "practice_attempt", attempt.id, route="notebook")
    run = grade_runs.new_grade_run(practice.case, practice_attempt=attempt)
    db.session.commit()
    grade_runs.enqueue(run)
    db.session.refresh(attempt)
    return attempt


class AttemptGrading(grade_runs.GradedWork):
    """A notebook attempt's run grades the upload with the mentee's own seed; its outcome is the feedback."""

    subject = RunSubject.PRACTICE_ATTEMPT

    def notebook(self, run: GradeRun) -> grade_runs.NotebookToGrade:
        """The attempt's stored upload, its practice's case version and seed."""
        attempt = run.practice_attempt
        assert attempt is not None and attempt.sha256 is not None
        return grade_runs.NotebookToGrade(
            case=attempt.practice.case, sha256=attempt.sha256, seed=data_seed(attempt.practice)
        )

    def finished(self, run: GradeRun) -> None:
        """A graded run becomes the attempt's feedback; a failed one leaves an attempt that does not count."""
        attempt = run.practice_attempt
        assert attempt is not None and run.finished_at is not None
        if run.status == GradeStatus.DONE:
            _set_outcome(attempt, run.results, run.earned, run.possible, run.error, run.finished_at)
        else:
            attempt.status = AttemptStatus.FAILED
            attempt.error = NOT_GRADED
            attempt.graded_at = run.finished_at


def _set_outcome(
    attempt: PracticeAttempt,
    results: dict[str, Any] | None,
    earned: float | None,
    possible: float | None,
    error: str | None,
    at: datetime,
) -> None:
    """Record a graded attempt and tell the mentee's mentors (at most hourly); the graded attempt
    that reaches PRACTICE_SOLUTION_AFTER_ATTEMPTS opens the solution (audited)."""
    attempt.status = AttemptStatus.DONE
    attempt.results = results
    attempt.earned = earned
    attempt.possible = possible
    attempt.error = error
    attempt.graded_at = at
    practice = attempt.practice
    after = current_app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"]
    if practice.solution_unlocked_at is None and after > 0 and graded_attempts(practice) >= after:
        practice.solution_unlocked_at = at
        practice.solution_unlock_reason = UnlockReason.AFTER_ATTEMPTS
        record_event(
            practice.mentee,
            "practice.solution_unlocked",
            "practice",
            practice.id,
            reason=UnlockReason.AFTER_ATTEMPTS,
            attempt_id=attempt.id,
        )
    # Graded, not submitted: the mail's link shows the mentor the feedback, and an attempt the
    # grader could not grade (which does not count) mails nobody.
    practice_attempt_graded(attempt, at)


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
    report = review.score_flags(spec, data_seed(practice), flags)
    attempt = _new_attempt(practice, AttemptRoute.BROWSER, now)
    attempt.flags = [{"label": f.label, "defect": f.defect, "note": f.note} for f in flags]
    db.session.flush()
    record_event(practice.mentee, "practice.attempt_submitted", "practice_attempt", attempt.id, route="browser")
    _set_outcome(attempt, report.to_dict(), report.earned, report.possible, report.error, utcnow())
    db.session.commit()
    return attempt


def graded_attempts(practice: Practice) -> int:
    """How many of the practice's attempts have been graded (failed runs do not count)."""
    return sum(1 for a in practice.attempts if a.status == AttemptStatus.DONE)


def attempts_until_solution(practice: Practice) -> int | None:
    """Graded attempts still needed before the solution opens by itself; None when it never does
    (PRACTICE_SOLUTION_AFTER_ATTEMPTS = 0) or is already open."""
    after = current_app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"]
    if practice.solution_unlocked_at is not None or after <= 0:
        return None
    return max(0, after - graded_attempts(practice))


def unlock_solution(practice: Practice, mentee: User) -> None:
    """Open the model solution on the mentee's explicit, confirmed request (audited)."""
    if practice.solution_unlocked_at is not None:
        return
    practice.solution_unlocked_at = utcnow()
    practice.solution_unlock_reason = UnlockReason.REQUESTED
    record_event(mentee, "practice.solution_unlocked", "practice", practice.id, reason=UnlockReason.REQUESTED)
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
