"""Rater leniency adjusted for which candidates each interviewer saw, and plain distributions.

Leniency comes from `rater_effects.fit_rater_effects`: candidates fixed, raters random (REML,
shrunken), reported against a precision-weighted reference, with the least-squares estimate
beside it. "Overall" fits one mean per scorecard (a halo carries a rater's impression across the
dimensions of one scorecard, so its ratings are not independent); each dimension fits its
ratings. A rater "stands out" when the shrunken effect's interval excludes zero after a
Bonferroni correction for the number of raters compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assessments.stats.rater_effects import corrected_z, fit_rater_effects
from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    OVERALL,
    RECOMMENDATIONS,
    CodedRatings,
    MinN,
    check_scorecards,
    code_ratings,
)

LENIENCY_COLUMNS = [
    "interviewer",
    "dimension",
    "effect",
    "se",
    "ci_low",
    "ci_high",
    "stands_out",
    "fixed_effect",
    "fixed_se",
    "n_candidates",
    "n_ratings",
    "naive_deviation",
    "reference_weight",
    "group_size",
    "rater_sd",
    "residual_sd",
    "z_corrected",
    "min_n_warning",
    "note",
]
REFERENCE = (
    "0 = the average interviewer, each weighted by the information their scorecards "
    "carry (candidates they shared with other interviewers)"
)


def _leniency_rows(
    label: object,
    unit: np.ndarray,
    rater: np.ndarray,
    y: np.ndarray,
    n_ratings: np.ndarray,
    interviewers: np.ndarray,
    min_n: MinN,
    naive: np.ndarray,
    confidence: float,
) -> pd.DataFrame:
    n_raters = interviewers.size
    fit = fit_rater_effects(unit, rater, y, n_raters)
    rated = fit.n > 0
    isolated = np.isnan(fit.effect) & rated
    linked = rated & ~isolated
    compared = int(linked.sum())
    z_corrected = corrected_z(compared)
    half = fit.se * float(np.sqrt(2) * _erfinv(confidence))
    stands_out = linked & (np.abs(fit.effect) > z_corrected * fit.se) & (fit.se > 0)
    # a rater whose effect is exactly estimated (no noise at all) stands out when it is not zero
    stands_out |= linked & (fit.se == 0) & (np.abs(fit.effect) > 1e-9)
    groups = np.unique(fit.group_size[linked]).size > 1 or (compared > fit.group_size[linked].max(initial=0))
    small = fit.n < min_n.rater_candidates
    notes = [
        np.where(isolated, "shares no candidate with another interviewer", ""),
        np.where(linked & groups, "compared only within its group of interviewers who share candidates", ""),
        np.where(small, f"fewer than {min_n.rater_candidates} candidates", ""),
    ]
    note = ["; ".join(part for part in parts if part) for parts in zip(*notes, strict=True)]
    frame = pd.DataFrame(
        {
            "interviewer": interviewers,
            "dimension": label,
            "effect": fit.effect,
            "se": fit.se,
            "ci_low": fit.effect - half,
            "ci_high": fit.effect + half,
            "stands_out": stands_out,
            "fixed_effect": fit.fixed_effect,
            "fixed_se": fit.fixed_se,
            "n_candidates": fit.n,
            "n_ratings": n_ratings,
            "naive_deviation": naive,
            "reference_weight": fit.reference_weight,
            "group_size": fit.group_size,
            "rater_sd": fit.rater_sd,
            "residual_sd": fit.residual_sd,
            "z_corrected": z_corrected,
            "min_n_warning": small,
            "note": note,
        }
    )
    return frame[rated]


def _erfinv(confidence: float) -> float:
    from scipy.special import erfinv

    return float(erfinv(confidence))


def scorecard_means(coded: CodedRatings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One row per scorecard: (candidate, interviewer, mean rating, number of ratings)."""
    key = coded.candidate.astype(np.int64) * max(coded.interviewers.size, 1) + coded.interviewer
    card, first = pd.factorize(key)
    n = np.bincount(card, minlength=len(first))
    mean = np.bincount(card, weights=coded.rating, minlength=len(first)) / np.maximum(n, 1)
    first = np.asarray(first, dtype=np.int64)
    return first // max(coded.interviewers.size, 1), first % max(coded.interviewers.size, 1), mean, n


def rater_leniency(
    ratings: pd.DataFrame | CodedRatings,
    *,
    min_n: MinN = DEFAULT_MIN_N,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each interviewer's leniency overall and per dimension, adjusted for the candidates they saw.

    `effect` is the shrunken (random-effects) estimate in rating points against the
    precision-weighted reference (`REFERENCE`; positive = rates higher than colleagues would on
    the same candidates), `se` its prediction standard error and `ci_low`..`ci_high` its
    `confidence` interval; `stands_out` is True when the interval excludes zero at the
    Bonferroni-corrected level `z_corrected` (family-wise 5% over the raters compared).
    `fixed_effect` and `fixed_se` are least squares against the same reference, for comparison;
    `naive_deviation` is the unadjusted mean deviation from the grand mean. `n_candidates` is
    the number of candidates the row rests on (overall: scorecards), `n_ratings` the ratings.

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    """
    coded = code_ratings(ratings)
    frames = []
    n_raters = coded.interviewers.size
    if coded.n_ratings:
        candidate, interviewer, mean, per_card = scorecard_means(coded)
        n_ratings = np.bincount(coded.interviewer, minlength=n_raters)
        naive = _naive(coded.interviewer, coded.rating, n_raters)
        frames.append(
            _leniency_rows(
                OVERALL, candidate, interviewer, mean, n_ratings, coded.interviewers, min_n, naive, confidence
            )
        )
    for code, dimension in enumerate(coded.dimensions):
        candidate, interviewer, rating = coded.for_dimension(code)
        if rating.size == 0:
            continue
        n_ratings = np.bincount(interviewer, minlength=n_raters)
        frames.append(
            _leniency_rows(
                dimension,
                candidate,
                interviewer,
                rating,
                n_ratings,
                coded.interviewers,
                min_n,
                _naive(interviewer, rating, n_raters),
                confidence,
            )
        )
    if not frames:
        return pd.DataFrame(columns=LENIENCY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[LENIENCY_COLUMNS]


def standout_raters(leniency: pd.DataFrame) -> tuple[pd.Series | None, pd.Series | None]:
    """The overall rows of the most lenient and most severe rater that stand out, else None.

    Only raters whose shrunken effect's interval excludes zero after the Bonferroni correction
    (`stands_out`) can be named: on panels with no real leniency this names someone in well under
    5% of reports (tests/stats/test_simulation.py).
    """
    overall = leniency[(leniency["dimension"] == OVERALL) & leniency["stands_out"].astype(bool)]
    overall = overall.dropna(subset=["effect"])
    lenient = overall[overall["effect"] > 0]
    severe = overall[overall["effect"] < 0]
    return (
        lenient.loc[lenient["effect"].idxmax()] if len(lenient) else None,
        severe.loc[severe["effect"].idxmin()] if len(severe) else None,
    )


def _naive(rater: np.ndarray, y: np.ndarray, n_raters: int) -> np.ndarray:
    n = np.bincount(rater, minlength=n_raters)
    mean = np.bincount(rater, weights=y, minlength=n_raters) / np.maximum(n, 1)
    return mean - (y.mean() if y.size else np.nan)


def naive_leniency(ratings: pd.DataFrame | CodedRatings, *, min_n: MinN = DEFAULT_MIN_N) -> pd.DataFrame:
    """Each interviewer's mean rating minus the grand mean, per dimension and overall (unadjusted).

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    """
    coded = code_ratings(ratings)
    n_raters = coded.interviewers.size
    frames = []
    labels = [OVERALL, *coded.dimensions] if coded.n_ratings else []
    for position, label in enumerate(labels):
        if position == 0:
            rater, y = coded.interviewer, coded.rating
        else:
            _, rater, y = coded.for_dimension(position - 1)
        n = np.bincount(rater, minlength=n_raters)
        mean = np.bincount(rater, weights=y, minlength=n_raters) / np.maximum(n, 1)
        deviation = mean - (y.mean() if y.size else np.nan)
        frame = pd.DataFrame(
            {
                "interviewer": coded.interviewers,
                "dimension": label,
                "deviation": deviation,
                "n": n,
                "min_n_warning": n < min_n.rater_ratings,
            }
        )
        frames.append(frame[n > 0])
    if not frames:
        return pd.DataFrame(columns=["interviewer", "dimension", "deviation", "n", "min_n_warning"])
    return pd.concat(frames, ignore_index=True)


def rating_distribution(
    ratings: pd.DataFrame | CodedRatings,
    *,
    by_dimension: bool = False,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Each interviewer's share of each rating level (`share_1`..`share_N`) and mean, overall or per dimension.

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    """
    coded = code_ratings(ratings)
    levels = len(coded.levels)
    n_groups = max(coded.dimensions.size, 1) if by_dimension else 1
    group = coded.dimension if by_dimension else np.zeros_like(coded.interviewer)
    key = (coded.interviewer * n_groups + group) * levels + coded.level_index
    counts = np.bincount(key, minlength=coded.interviewers.size * n_groups * levels)
    counts = counts.reshape(-1, levels)
    n = counts.sum(axis=1)
    shares = counts / np.maximum(n, 1)[:, None]
    frame = pd.DataFrame(shares, columns=[f"share_{level}" for level in coded.levels])
    frame.insert(0, "interviewer", np.repeat(coded.interviewers, n_groups))
    frame.insert(1, "dimension", np.tile(coded.dimensions, coded.interviewers.size) if by_dimension else OVERALL)
    frame["mean"] = (shares * np.array(coded.levels)).sum(axis=1)
    frame["n"] = n
    frame["min_n_warning"] = n < min_n.rater_ratings
    return frame[n > 0].reset_index(drop=True)


def recommendation_shares(
    scorecards: pd.DataFrame,
    *,
    recommendations: tuple[str, ...] = RECOMMENDATIONS,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Each interviewer's share of each recommendation (columns `share_<id>` in the order given),
    "no decision" included.

    :raises CalibrationInputError: a column is missing or a recommendation is unknown.
    """
    frame = check_scorecards(scorecards, recommendations=recommendations)
    interviewer, interviewers = pd.factorize(frame["interviewer"])
    choice = pd.Categorical(frame["recommendation"], categories=recommendations).codes
    counts = np.bincount(
        interviewer * len(recommendations) + choice, minlength=len(interviewers) * len(recommendations)
    )
    counts = counts.reshape(-1, len(recommendations))
    n = counts.sum(axis=1)
    result = pd.DataFrame(counts / np.maximum(n, 1)[:, None], columns=[f"share_{choice}" for choice in recommendations])
    result.insert(0, "interviewer", np.asarray(interviewers, dtype=object))
    result["n"] = n
    result["min_n_warning"] = n < min_n.rater_ratings
    return result
