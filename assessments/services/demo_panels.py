"""Demo interview history: past panels with planted rater leniency, and live panels in progress.

The history is simulated (`stats.simulation.simulate_panel`), so the calibration report has
something real to find: one interviewer rates clearly more leniently than the rest, and one
dimension is rated with much more noise than the others. `planted_story()` says which.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from assessments.extensions import db
from assessments.models import (
    Candidate,
    Case,
    Invitation,
    PanelMember,
    Rating,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    User,
)
from assessments.models.types import utcnow
from assessments.services import invitations, scorecards, seeds
from assessments.stats.ratings import DEFAULT_MIN_N
from assessments.stats.simulation import simulate_panel, simulate_scorecards

HISTORY_SEED = 7
HISTORY_CANDIDATES = 60
NOISY_DIMENSION = "leadership"
HISTORY_EMAIL_DOMAIN = "history.example.org"


@dataclass(frozen=True)
class PlantedStory:
    """What the demo history planted, for the calibration browser test and the README."""

    most_lenient_email: str
    noisy_dimension: str


def _simulate(n_interviewers: int, dimensions: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    # The first seed from HISTORY_SEED whose most lenient rater stands clearly apart and saw
    # enough candidates for the report to name them, so the demo tells one story rather than a
    # near tie or a rater known from two interviews.
    seed = HISTORY_SEED
    while True:
        ratings, truth = simulate_panel(
            seed,
            n_candidates=HISTORY_CANDIDATES,
            n_interviewers=n_interviewers,
            raters_per_candidate=3,
            dimensions=dimensions,
            leniency_sd=0.5,
            noise_sd=0.45,
        )
        top = np.sort(truth["leniency"].to_numpy())[::-1]
        lenient = truth["interviewer"].iloc[int(truth["leniency"].to_numpy().argmax())]
        seen = ratings.loc[ratings["interviewer"] == lenient, "candidate"].nunique()
        if top[0] - top[1] > 0.35 and seen >= DEFAULT_MIN_N.rater_candidates:
            break
        seed += 1
    rng = np.random.default_rng(seed)
    noisy = ratings["dimension"] == NOISY_DIMENSION
    jitter = rng.normal(0.0, 1.1, int(noisy.sum()))
    ratings.loc[noisy, "rating"] = np.clip(np.rint(ratings.loc[noisy, "rating"] + jitter), 1, 4)
    return ratings, truth


def planted_story(interviewers: list[User], dimensions: list[str]) -> PlantedStory:
    """Which interviewer the history makes most lenient and which dimension noisiest."""
    _, truth = _simulate(len(interviewers), dimensions)
    most = int(truth["leniency"].to_numpy().argmax())
    return PlantedStory(interviewers[most].email, NOISY_DIMENSION)


def seed_history(interviewers: list[User], admin: User, cases: list[Case]) -> int:
    """Create the past panels once; returns how many scorecards exist in the history."""
    existing = db.session.scalar(
        select(func.count()).select_from(Candidate).where(Candidate.email.like(f"%@{HISTORY_EMAIL_DOMAIN}"))
    )
    rubric = scorecards.rubric_for()
    dimensions = list(rubric.dimension_ids)
    if existing or not cases:
        return existing or 0
    ratings, _ = _simulate(len(interviewers), dimensions)
    recommendations = simulate_scorecards(ratings, HISTORY_SEED)
    by_label = {f"i{i:02d}": user for i, user in enumerate(interviewers)}
    now = utcnow()
    rng = np.random.default_rng(HISTORY_SEED)
    grouped = ratings.groupby(["candidate", "interviewer"], sort=True)
    invitations_by_candidate: dict[str, Invitation] = {}
    for number, label in enumerate(sorted(ratings["candidate"].unique())):
        days_ago = int(rng.integers(10, 120))
        candidate = Candidate(
            name=f"Past Candidate {number + 1:02d}",
            email=f"past{number + 1:02d}@{HISTORY_EMAIL_DOMAIN}",
            created_by_id=admin.id,
        )
        issued = seeds.issue_seed(int(rng.integers(1, 2**31 - 1)))
        invitation = Invitation(
            candidate=candidate,
            case=cases[number % len(cases)],
            seed=issued.public_id,
            seed_scheme=issued.scheme,
            seed_key_id=issued.key_id,
            token_hash=invitations.hash_token(secrets.token_urlsafe(32)),
            opens_at=now - timedelta(days=days_ago + 7),
            due_at=now - timedelta(days=days_ago),
            time_limit_minutes=cases[number % len(cases)].time_limit_minutes,
            created_by_id=admin.id,
        )
        db.session.add_all([candidate, invitation])
        invitations_by_candidate[label] = invitation
    db.session.flush()
    recommendation = {(row.candidate, row.interviewer): row.recommendation for row in recommendations.itertuples()}
    for (candidate_label, interviewer_label), rows in grouped:
        invitation = invitations_by_candidate[candidate_label]
        interviewer = by_label[interviewer_label]
        db.session.add(PanelMember(invitation=invitation, interviewer_id=interviewer.id))
        card = Scorecard(
            invitation=invitation,
            interviewer_id=interviewer.id,
            purpose=ScorecardPurpose.HIRING,
            rubric_slug=rubric.slug,
            rubric_version=rubric.content_hash,
            status=ScorecardStatus.SUBMITTED,
            recommendation=recommendation[(candidate_label, interviewer_label)],
            takeaways="Simulated demo scorecard.",
            red_flags=[],
            submitted_at=invitation.due_at + timedelta(days=int(rng.integers(1, 5))),
        )
        for row in rows.itertuples():
            level = None if np.isnan(row.rating) else int(row.rating)
            anchor = rubric.dimension(row.dimension).anchors[level][0] if level else ""
            card.ratings.append(Rating(dimension_id=row.dimension, level=level, evidence=f"Observed: {anchor}"))
        db.session.add(card)
    db.session.commit()
    return len(recommendations)
