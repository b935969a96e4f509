"""The candidate x dimension cells where interviewers disagreed most: a calibration agenda."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    CodedRatings,
    MinN,
    code_ratings,
)

DISAGREEMENT_COLUMNS = [
    "candidate",
    "dimension",
    "n_raters",
    "low",
    "high",
    "range",
    "sd",
    "mean",
    "raters",
    "ratings_given",
    "min_n_warning",
]


def top_disagreements(
    ratings: pd.DataFrame | CodedRatings, *, top_n: int = 20, min_n: MinN = DEFAULT_MIN_N
) -> pd.DataFrame:
    """The `top_n` cells with the widest spread of ratings, by range then SD (ddof=1).

    Only cells with two or more ratings count. `raters` and `ratings_given` list who rated the
    cell and what, lowest rating first.

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    """
    coded = code_ratings(ratings)
    if coded.n_ratings == 0 or top_n <= 0:
        return pd.DataFrame(columns=DISAGREEMENT_COLUMNS)
    n_dimensions = coded.dimensions.size
    levels = len(coded.levels)
    # cells are dense codes and ratings are on a small scale: per-level counts give min and max
    # without a sort
    cell = coded.candidate * n_dimensions + coded.dimension
    n_cells = coded.candidates.size * n_dimensions
    key = cell * levels  # built in place: at millions of ratings each temporary is 8 bytes a rating
    key += coded.level_index
    per_level = np.bincount(key, minlength=n_cells * levels).reshape(-1, levels)
    del key
    n = per_level.sum(axis=1)
    seen = per_level > 0
    low = np.argmax(seen, axis=1) + float(coded.levels[0])
    high = float(coded.levels[-1]) - np.argmax(seen[:, ::-1], axis=1)
    total = per_level @ np.asarray(coded.levels, dtype=np.float64)
    squares = per_level @ np.asarray(coded.levels, dtype=np.float64) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        sd = np.sqrt(np.clip((squares - n * mean**2) / (n - 1), 0.0, None))
    spread = high - low
    eligible = np.flatnonzero(n >= 2)
    ranked = eligible[np.lexsort((-sd[eligible], -spread[eligible]))][:top_n]
    rows = []
    in_agenda = np.flatnonzero(np.isin(cell, ranked))
    by_cell = in_agenda[np.lexsort((coded.rating[in_agenda], cell[in_agenda]))]
    for index in ranked:
        members = by_cell[cell[by_cell] == index]
        rows.append(
            {
                "candidate": coded.candidates[index // n_dimensions],
                "dimension": coded.dimensions[index % n_dimensions],
                "n_raters": int(n[index]),
                "low": low[index],
                "high": high[index],
                "range": spread[index],
                "sd": sd[index],
                "mean": mean[index],
                "raters": tuple(coded.interviewers[coded.interviewer[members]].tolist()),
                "ratings_given": tuple(int(value) for value in coded.rating[members]),
                "min_n_warning": bool(n[index] < min_n.cell_raters),
            }
        )
    return pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS)
