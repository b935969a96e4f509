"""Demo applicant pool for the adverse impact report: self-identification, auto-grades and decisions.

The pool is simulated: auto-grades are drawn independently of every group, so the auto-grade stage
shows no planted difference, while the debrief advances one group (`PLANTED_GROUP`) at a third of
the others' rate among those who passed, the one disparity the report and its browser test must
find. The past panels of `demo_panels` get self-identification too (drawn the same way), so the
scorecard dimensions' standardised differences have data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select

from assessments.extensions import db
from assessments.grading.report import CheckResult, GradeReport, Timings
from assessments.models import (
    Candidate,
    Case,
    DecisionOutcome,
    GradeRun,
    GradeStatus,
    HiringDecision,
    Invitation,
    SelfIdentification,
    SelfIdSource,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.services import adverse_impact, fairness, invitations, seeds
from assessments.services.demo_outcomes import store_simulated_notebook
from assessments.services.demo_panels import HISTORY_EMAIL_DOMAIN

POOL_SEED = 17
POOL_SIZE = 400
POOL_EMAIL_DOMAIN = "applicants.example.org"
PLANTED_STAGE = "advanced"
PLANTED_GROUP = "Hispanic or Latino"
ADVANCE_RATE = 0.6
PLANTED_ADVANCE_RATE = 0.2

# Shares of the pool per answer; the declining answer is the configured `decline`.
_SEX = {"Female": 0.45, "Male": 0.50, "Another gender identity": 0.02, None: 0.03}
_RACE = {
    "White": 0.34,
    "Asian": 0.25,
    "Black or African American": 0.15,
    "Hispanic or Latino": 0.16,
    "Two or more races": 0.05,
    "American Indian or Alaska Native": 0.015,
    None: 0.035,
}


@dataclass(frozen=True)
class PlantedDisparity:
    """Where the demo planted its one disparity, for the browser test and the README."""

    stage_label: str
    breakdown_label: str
    group: str


def planted_disparity() -> PlantedDisparity:
    """The stage and group the demo pool disadvantages."""
    return PlantedDisparity(adverse_impact.APP_STAGES[PLANTED_STAGE], "Race/ethnicity", PLANTED_GROUP)


def _draw(rng: np.random.Generator, shares: dict[str | None, float], decline: str) -> str:
    labels = list(shares)
    choice = labels[int(rng.choice(len(labels), p=np.array(list(shares.values())) / sum(shares.values())))]
    return decline if choice is None else choice


def seed_fairness_pool(admin: User, cases: list[Case]) -> int:
    """Create the applicant pool once (and the past candidates' self-identification); returns its size."""
    existing = db.session.scalar(
        select(func.count()).select_from(Candidate).where(Candidate.email.like(f"%@{POOL_EMAIL_DOMAIN}"))
    )
    if existing or not cases:
        return existing or 0
    options = fairness.categories()
    rng = np.random.default_rng(POOL_SEED)
    now = utcnow()
    for number in range(POOL_SIZE):
        case = cases[number % len(cases)]
        sex, race = _draw(rng, _SEX, options.decline), _draw(rng, _RACE, options.decline)
        days_ago = int(rng.integers(15, 200))
        candidate = Candidate(
            name=f"Applicant {number + 1:03d}",
            email=f"applicant{number + 1:03d}@{POOL_EMAIL_DOMAIN}",
            created_by_id=admin.id,
        )
        issued = seeds.issue_seed(int(rng.integers(1, 2**31 - 1)))
        invitation = Invitation(
            candidate=candidate,
            case=case,
            seed=issued.public_id,
            seed_scheme=issued.scheme,
            seed_key_id=issued.key_id,
            token_hash=invitations.hash_token(secrets.token_urlsafe(32)),
            opens_at=now - timedelta(days=days_ago + 7),
            due_at=now - timedelta(days=days_ago),
            time_limit_minutes=case.time_limit_minutes,
            created_by_id=admin.id,
        )
        share = float(np.clip(rng.normal(0.62, 0.16), 0.0, 1.0))
        passed = share >= options.auto_grade_threshold
        rate = PLANTED_ADVANCE_RATE if race == PLANTED_GROUP else ADVANCE_RATE
        advanced = passed and bool(rng.random() < rate)
        db.session.add_all([candidate, invitation])
        db.session.flush()
        _graded_submission(invitation, case, share, now - timedelta(days=days_ago + 1))
        db.session.add(
            SelfIdentification(candidate_id=candidate.id, sex=sex, race_ethnicity=race, source=SelfIdSource.IMPORT)
        )
        if passed:
            outcome = DecisionOutcome.ADVANCE if advanced else DecisionOutcome.REJECT
            db.session.add(
                HiringDecision(invitation_id=invitation.id, outcome=outcome, note="", decided_by_id=admin.id)
            )
    past = db.session.scalars(select(Candidate).where(Candidate.email.like(f"%@{HISTORY_EMAIL_DOMAIN}")))
    for candidate in past:
        sex, race = _draw(rng, _SEX, options.decline), _draw(rng, _RACE, options.decline)
        db.session.add(
            SelfIdentification(candidate_id=candidate.id, sex=sex, race_ethnicity=race, source=SelfIdSource.IMPORT)
        )
    db.session.commit()
    return POOL_SIZE


def _graded_submission(invitation: Invitation, case: Case, share: float, at: object) -> None:
    points = 10.0
    digest, size = store_simulated_notebook()
    submission = Submission(invitation_id=invitation.id, version=1, sha256=digest, size=size, filename="notebook.ipynb")
    report = GradeReport(
        "demo",
        case.slug,
        case.content_hash,
        0,
        round(share * points, 2),
        points,
        (CheckResult("simulated", round(share * points, 2), points, "partial", "Simulated demo grade."),),
        (),
        Timings(),
    )
    submission.grade_runs.append(
        GradeRun(
            grader_version="demo",
            case_version=case.content_hash,
            status=GradeStatus.DONE,
            results=report.to_dict(),
            earned=report.earned,
            possible=points,
            finished_at=at,
        )
    )
    db.session.add(submission)
