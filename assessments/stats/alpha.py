"""Krippendorff's alpha per rubric dimension, with missing ratings and a unit bootstrap.

The point estimate comes from the `krippendorff` package. The bootstrap resamples candidates
(units): alpha depends on the data only through the coincidence matrix, which is a sum of one
small V x V matrix per unit, and units with the same value counts are interchangeable; so a
resample is a multinomial draw over the distinct value-count profiles and all resamples are one
matrix product.
"""

from __future__ import annotations

from typing import Literal

import krippendorff
import numpy as np
import pandas as pd

from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    RATING_LEVELS,
    CodedRatings,
    MinN,
    code_ratings,
    percentile_interval,
)

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
ALPHA_COLUMNS = [
    "dimension",
    "level",
    "alpha",
    "ci_low",
    "ci_high",
    "n_units",
    "n_raters",
    "n_values",
    "n_boot",
    "min_n_warning",
    "note",
]


def _squared_differences(level: Level, values: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """delta^2 between every pair of values, shape (..., V, V); `marginals` is (..., V)."""
    c = values[:, None]
    k = values[None, :]
    if level == "nominal":
        delta = (c != k).astype(np.float64)
    elif level == "interval":
        delta = (c - k) ** 2
    elif level == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.nan_to_num(((c - k) / (c + k)) ** 2)
    else:
        # ordinal: (sum of the marginals from c to k, minus half of the two ends) squared
        cumulative = np.cumsum(marginals, axis=-1)
        before = cumulative - marginals
        low = np.minimum(np.arange(values.size)[:, None], np.arange(values.size)[None, :])
        high = np.maximum(np.arange(values.size)[:, None], np.arange(values.size)[None, :])
        between = cumulative[..., high] - before[..., low]
        ends = (marginals[..., :, None] + marginals[..., None, :]) / 2.0
        return (between - ends) ** 2
    return np.broadcast_to(delta, marginals.shape[:-1] + delta.shape)


def alpha_from_coincidences(coincidences: np.ndarray, values: np.ndarray, level: Level) -> np.ndarray:
    """Alpha from coincidence matrices (..., V, V): 1 - (n - 1) sum(o d) / sum(n_c n_k d)."""
    marginals = coincidences.sum(axis=-1)
    total = marginals.sum(axis=-1)
    delta = _squared_differences(level, values, marginals)
    observed = (coincidences * delta).sum(axis=(-2, -1))
    expected = (marginals[..., :, None] * marginals[..., None, :] * delta).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (total - 1.0) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def unit_coincidences(value_counts: np.ndarray) -> np.ndarray:
    """Each unit's share of the coincidence matrix: (n_uc n_uk - [c = k] n_uc) / (m_u - 1)."""
    counts = value_counts.astype(np.float64)
    pairable = counts.sum(axis=1) - 1.0
    outer = counts[:, :, None] * counts[:, None, :]
    outer -= np.einsum("uv,vw->uvw", counts, np.eye(counts.shape[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairable[:, None, None] > 0, outer / pairable[:, None, None], 0.0)


def bootstrap_alpha(value_counts: np.ndarray, values: np.ndarray, level: Level, n_boot: int, seed: int) -> np.ndarray:
    """Alpha on `n_boot` resamples of the units (rows of `value_counts`), seeded."""
    # one integer key per value-count profile: a 1-D unique is far faster than unique(axis=0)
    base = int(value_counts.max()) + 1
    powers = base ** np.arange(value_counts.shape[1], dtype=np.int64)
    keys = value_counts.astype(np.int64) @ powers
    _, first, frequency = np.unique(keys, return_index=True, return_counts=True)
    profiles = value_counts[first]
    rng = np.random.default_rng(seed)
    n_units = int(frequency.sum())
    weights = rng.multinomial(n_units, frequency / n_units, size=n_boot).astype(np.float64)
    per_profile = unit_coincidences(profiles).reshape(len(profiles), -1)
    coincidences = (weights @ per_profile).reshape(n_boot, values.size, values.size)
    return alpha_from_coincidences(coincidences, values, level)


def _empty_row(dimension: object, level: Level, note: str, **counts: int) -> dict[str, object]:
    row: dict[str, object] = {
        "dimension": dimension,
        "level": level,
        "alpha": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "n_units": 0,
        "n_raters": 0,
        "n_values": 0,
        "n_boot": 0,
        "min_n_warning": True,
        "note": note,
    }
    row.update(counts)
    return row


def _dimension_alpha(
    dimension: object,
    candidate: np.ndarray,
    interviewer: np.ndarray,
    rating: np.ndarray,
    *,
    level: Level,
    levels: tuple[int, ...],
    n_boot: int,
    seed: int,
    confidence: float,
    min_n: MinN,
) -> dict[str, object]:
    # ratings are validated integers on the scale: value index and candidate code index a
    # dense table
    values = np.asarray(levels, dtype=np.float64)
    value_index = rating.astype(np.int64) - levels[0]
    n_candidates = int(candidate.max()) + 1 if candidate.size else 0
    counts = np.bincount(candidate * values.size + value_index, minlength=n_candidates * values.size)
    counts = counts.reshape(n_candidates, values.size)
    pairable = counts.sum(axis=1) >= 2
    counts = counts[pairable]
    n_units = int(pairable.sum())
    n_values = int(counts.sum())
    n_raters = int(np.count_nonzero(np.bincount(interviewer[pairable[candidate]]))) if candidate.size else 0
    sizes = {"n_units": n_units, "n_raters": n_raters, "n_values": n_values}
    if n_units == 0:
        return _empty_row(dimension, level, "no candidate has two or more ratings", **sizes)
    if n_units == 1:
        # one unit's disagreement is all there is: alpha (and any resample of one unit) says
        # nothing about reliability
        return _empty_row(dimension, level, "only one candidate has two or more ratings: alpha undefined", **sizes)
    present = counts.sum(axis=0) > 0
    if present.sum() < 2:
        return _empty_row(
            dimension,
            level,
            "all pairable ratings are identical: expected disagreement is zero, alpha undefined",
            **sizes,
        )
    counts, values = counts[:, present], values[present]
    point = float(krippendorff.alpha(value_counts=counts, value_domain=values, level_of_measurement=level))
    low = high = np.nan
    if n_boot > 0:
        samples = bootstrap_alpha(counts, values, level, n_boot, seed)
        low_, high_ = percentile_interval(samples[:, None], confidence)
        low, high = float(low_[0]), float(high_[0])
    warn = n_units < min_n.alpha_units or n_values < min_n.alpha_values
    return {
        "dimension": dimension,
        "level": level,
        "alpha": point,
        "ci_low": low,
        "ci_high": high,
        **sizes,
        "n_boot": n_boot,
        "min_n_warning": warn,
        "note": f"fewer than {min_n.alpha_units} candidates or {min_n.alpha_values} ratings" if warn else "",
    }


def krippendorff_alpha(
    ratings: pd.DataFrame | CodedRatings,
    *,
    level: Level = "ordinal",
    levels: tuple[int, ...] = RATING_LEVELS,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Krippendorff's alpha per dimension (missing ratings allowed), with a bootstrap interval.

    `levels` are the allowed ratings (1..4 by default; ignored when a CodedRatings is passed).
    Units are candidates; only candidates with two or more ratings on a dimension are pairable.
    A dimension whose ratings are all identical, or with no pairable candidate, gets alpha NaN and
    the reason in `note`.

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    :raises ValueError: `level` is not one of LEVELS.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    coded = code_ratings(ratings, levels=levels)
    rows = []
    for code, dimension in enumerate(coded.dimensions):
        candidate, interviewer, rating = coded.for_dimension(code)
        rows.append(
            _dimension_alpha(
                dimension,
                candidate,
                interviewer,
                rating,
                level=level,
                levels=coded.levels,
                n_boot=n_boot,
                seed=seed + code,
                confidence=confidence,
                min_n=min_n,
            )
        )
    return pd.DataFrame(rows, columns=ALPHA_COLUMNS)
