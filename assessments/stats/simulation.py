"""Realistic interview panels with planted rater leniency, for the demo, the tests and the bench.

Candidates differ in strength; some interviewers ("final round") only ever see candidates in the
top part of the pool, the others see anyone. Each interviewer has a planted leniency (centred so
the planted values sum to zero, the same constraint the leniency model uses). A rating is
round(centre + candidate ability on the dimension + leniency + noise), clipped to 1..4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from assessments.stats.ratings import RECOMMENDATIONS

DEFAULT_DIMENSIONS = (
    "problem-framing",
    "modeling",
    "evaluation-rigor",
    "production-ml",
    "communication",
    "leadership",
    "craft",
    "responsible-ai",
)


def _assign_panels(rng: np.random.Generator, strong: np.ndarray, final_round: np.ndarray, size: int) -> np.ndarray:
    """(n_candidates, size) interviewer codes, drawn uniformly from each eligible pool."""
    keys = rng.random((strong.size, final_round.size))
    # final-round interviewers are ineligible for candidates who are not strong
    keys[np.ix_(~strong, final_round)] = np.inf
    return np.argpartition(keys, size - 1, axis=1)[:, :size]


def simulate_panel(
    seed: int,
    n_candidates: int = 300,
    n_interviewers: int = 20,
    raters_per_candidate: int = 3,
    dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
    leniency_sd: float = 0.4,
    noise_sd: float = 0.5,
    *,
    strength_sd: float = 0.6,
    dimension_sd: float = 0.3,
    centre: float = 2.5,
    final_round_share: float = 0.25,
    strong_quantile: float = 0.6,
    missing_rate: float = 0.0,
    halo_sd: float = 0.0,
    scale: tuple[int, int] = (1, 4),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A ratings frame from a simulated panel, and the truth: each interviewer's planted leniency.

    Final-round interviewers (`final_round_share` of them) see only candidates above the
    `strong_quantile` of strength, so a naive mean deviation mistakes who they saw for how they
    rate. `missing_rate` leaves that share of ratings missing (NaN). `halo_sd` adds one shared
    draw per scorecard to all its dimensions (a rater's overall impression of a candidate), so
    the ratings of one scorecard are correlated as they are in real panels. `scale` is the
    rating scale ratings are rounded and clipped to (the rubric's 1..4 by default). The truth frame has columns
    interviewer, leniency (sums to zero), final_round.

    :raises ValueError: a panel is larger than the pool of interviewers who may see a candidate.
    """
    rng = np.random.default_rng(seed)
    n_final = int(round(final_round_share * n_interviewers))
    if raters_per_candidate > n_interviewers - n_final or raters_per_candidate < 1:
        raise ValueError(
            f"raters_per_candidate must be between 1 and the {n_interviewers - n_final} "
            "interviewers who see every candidate"
        )
    final_round = np.zeros(n_interviewers, dtype=bool)
    final_round[rng.choice(n_interviewers, n_final, replace=False)] = True
    leniency = rng.normal(0.0, leniency_sd, n_interviewers)
    leniency -= leniency.mean()
    strength = rng.normal(0.0, strength_sd, n_candidates)
    strong = strength > np.quantile(strength, strong_quantile) if n_candidates else strength > 0
    panels = _assign_panels(rng, strong, final_round, raters_per_candidate)

    n_dimensions = len(dimensions)
    ability = strength[:, None] + rng.normal(0.0, dimension_sd, (n_candidates, n_dimensions))
    candidate = np.repeat(np.arange(n_candidates), raters_per_candidate * n_dimensions)
    interviewer = np.repeat(panels.ravel(), n_dimensions)
    dimension = np.tile(np.arange(n_dimensions), n_candidates * raters_per_candidate)
    latent = centre + ability[candidate, dimension] + leniency[interviewer] + rng.normal(0.0, noise_sd, candidate.size)
    missing = rng.random(latent.size) < missing_rate
    if halo_sd > 0:
        # drawn last, so panels without a halo are the same as before it existed
        latent += np.repeat(rng.normal(0.0, halo_sd, n_candidates * raters_per_candidate), n_dimensions)
    rating = np.clip(np.rint(latent), *scale)
    rating[missing] = np.nan

    width = len(str(max(n_candidates, n_interviewers)))
    candidate_ids = np.array([f"c{i:0{width}d}" for i in range(n_candidates)], dtype=object)
    interviewer_ids = np.array([f"i{i:0{width}d}" for i in range(n_interviewers)], dtype=object)
    ratings = pd.DataFrame(
        {
            "candidate": candidate_ids[candidate],
            "interviewer": interviewer_ids[interviewer],
            "dimension": np.asarray(dimensions, dtype=object)[dimension],
            "rating": rating,
        }
    )
    truth = pd.DataFrame({"interviewer": interviewer_ids, "leniency": leniency, "final_round": final_round})
    return ratings, truth


def simulate_scorecards(ratings: pd.DataFrame, seed: int, no_decision_rate: float = 0.05) -> pd.DataFrame:
    """One scorecard per (candidate, interviewer), its recommendation from the mean rating.

    Mean < 1.75 is strong_no, < 2.5 no, < 3.25 yes, else strong_yes; `no_decision_rate` of the
    scorecards record no_decision instead.
    """
    rng = np.random.default_rng(seed)
    means = ratings.groupby(["candidate", "interviewer"], sort=False)["rating"].mean()
    choice = np.searchsorted([1.75, 2.5, 3.25], means.to_numpy(), side="right")
    choice = np.where(np.isnan(means.to_numpy()), 4, choice)
    choice[rng.random(choice.size) < no_decision_rate] = 4
    frame = means.index.to_frame(index=False)
    frame["recommendation"] = np.asarray(RECOMMENDATIONS, dtype=object)[choice]
    return frame
