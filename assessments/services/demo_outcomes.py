"""Demo outcomes: who of the simulated past candidates was hired, and how they performed later.

Synthetic, so the validity report has something to show. Each past candidate gets an auto-grade
(a graded run with no checks, so calibration's part-level statistics ignore it) that shares some
signal with their panel's scores and carries some of its own; hiring follows the panel's mean
recommendation (the top `HIRED`, with noise, as a debrief would); each hire's later performance
follows both the scorecards and the auto-grade's own signal plus noise, so both predict it, the
auto-grade adds to the scorecards, and the restriction to hires shrinks the observed correlations.
Hires who started over a year ago have a 12-month rating too.
"""

from __future__ import annotations

from datetime import timedelta

import nbformat
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.extensions import db
from assessments.models import (
    Candidate,
    GradeRun,
    GradeStatus,
    Invitation,
    Outcome,
    Scorecard,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.models.types import utcnow
from assessments.services import audit, scorecards
from assessments.services.demo_panels import HISTORY_EMAIL_DOMAIN
from assessments.services.outcomes import rating_scale
from assessments.storage import submission_store

OUTCOME_SEED = 29
HIRED = 26
TWELVE_MONTH_SHARE = 0.6


def seed_outcomes(admin: User) -> int:
    """Record the history's outcomes once; returns how many history candidates have one."""
    history = list(
        db.session.scalars(
            select(Candidate)
            .where(Candidate.email.like(f"%@{HISTORY_EMAIL_DOMAIN}"))
            .options(selectinload(Candidate.invitations).selectinload(Invitation.submissions))
            .order_by(Candidate.id)
        )
    )
    ids = [c.id for c in history]
    existing = db.session.scalars(select(Outcome).where(Outcome.candidate_id.in_(ids))).all()
    if existing or not history:
        return len(existing)
    panel_score = {c.id: _panel_score([i.id for i in c.invitations]) for c in history}
    rng = np.random.default_rng(OUTCOME_SEED)
    scored = np.array([panel_score[c.id] for c in history])
    centred = (scored - scored.mean()) / (scored.std() or 1.0)
    own_signal = rng.normal(0, 1, len(history))
    auto = np.clip(0.6 + 0.1 * (0.7 * centred + 0.7 * own_signal) + rng.normal(0, 0.04, len(history)), 0, 1)
    debrief = centred + rng.normal(0, 0.5, len(history))
    hired = set(np.argsort(-debrief)[:HIRED].tolist())
    low, high = rating_scale()
    middle, spread = (low + high) / 2, (high - low) / 4
    today = utcnow().date()
    for index, candidate in enumerate(history):
        if candidate.invitations and not candidate.invitations[-1].submissions:
            _graded_submission(candidate.invitations[-1], float(auto[index]))
        outcome = Outcome(candidate_id=candidate.id, hired=index in hired, recorded_by_id=admin.id)
        if index in hired:
            months = int(rng.integers(12, 25)) if rng.random() < TWELVE_MONTH_SHARE else int(rng.integers(7, 12))
            outcome.start_date = today - timedelta(days=30 * months)
            performance = middle + spread * (0.7 * centred[index] + 0.6 * own_signal[index] + rng.normal(0, 0.6))
            outcome.rating_6m = float(np.clip(np.rint(performance * 2) / 2, low, high))
            if months >= 12:
                later = performance + spread * rng.normal(0, 0.4)
                outcome.rating_12m = float(np.clip(np.rint(later * 2) / 2, low, high))
        db.session.add(outcome)
    audit.record_event(admin, "outcome.imported", "outcome", None, rows=len(history), demo=True)
    db.session.commit()
    return len(history)


def store_simulated_notebook() -> tuple[str, int]:
    """A one-cell notebook saying it is simulated, in the submission store: its sha256 and size.

    Simulated demo submissions point at it, so their submission pages open like any other.
    """
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("Simulated demo submission: the auto-grade beside it is synthetic.")]
    )
    data = nbformat.writes(notebook).encode()
    return submission_store().put(data), len(data)


def _graded_submission(invitation: Invitation, share: float) -> None:
    points = 10.0
    digest, size = store_simulated_notebook()
    submission = Submission(invitation_id=invitation.id, version=1, sha256=digest, size=size, filename="notebook.ipynb")
    submission.grade_runs.append(
        GradeRun(
            grader_version="demo",
            case_version=invitation.case.content_hash,
            status=GradeStatus.DONE,
            earned=round(share * points, 2),
            possible=points,
            finished_at=invitation.due_at,
        )
    )
    db.session.add(submission)


def _panel_score(invitation_ids: list[int]) -> float:
    cards = db.session.scalars(
        select(Scorecard)
        .join(Invitation, Scorecard.invitation_id == Invitation.id)
        .where(Invitation.id.in_(invitation_ids), Scorecard.status == ScorecardStatus.SUBMITTED)
    ).all()
    scores = []
    for card in cards:
        if card.recommendation:
            score = scorecards.rubric_for(card).recommendation(card.recommendation).score
            if score is not None:
                scores.append(score)
    return float(np.mean(scores)) if scores else 0.0
