"""Intraclass correlations in the Shrout & Fleiss (1979) forms, on complete blocks, bootstrapped.

ICC needs a complete targets x judges matrix. Interview panels are incomplete (each candidate
meets a few of many interviewers), so per dimension we pick a complete block greedily: start
from the pair of interviewers who rated the most candidates in common, then keep adding the
interviewer who keeps the most of those candidates while the number of cells (candidates x
raters) grows. The block's raters and size are reported beside every value.

All six forms are functions of four sums over the matrix (sum of squares, row sums squared,
column sums squared, total), which are linear in how often each row is drawn; rows with the
same ratings are interchangeable, so a bootstrap over candidates is a multinomial draw over the
distinct rows and all resamples are one matrix product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    CodedRatings,
    MinN,
    code_ratings,
    percentile_interval,
)

ICC_FORMS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")
ICC_COLUMNS = [
    "dimension",
    "form",
    "icc",
    "ci_low",
    "ci_high",
    "n_units",
    "n_raters",
    "raters",
    "n_boot",
    "min_n_warning",
    "note",
]


def _icc_from_sums(
    n: int,
    k: int,
    sum_squares: np.ndarray,
    row_squares: np.ndarray,
    column_squares: np.ndarray,
    total: np.ndarray,
) -> np.ndarray:
    """The six forms (last axis) from the matrix sums; any leading axes are resamples."""
    correction = total**2 / (n * k)
    ss_total = sum_squares - correction
    ss_rows = row_squares / k - correction
    ss_columns = column_squares / n - correction
    ss_error = ss_total - ss_rows - ss_columns
    bms = ss_rows / (n - 1)
    wms = (ss_total - ss_rows) / (n * (k - 1))
    jms = ss_columns / (k - 1)
    ems = ss_error / ((n - 1) * (k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        forms = np.stack(
            [
                (bms - wms) / (bms + (k - 1) * wms),
                (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
                (bms - ems) / (bms + (k - 1) * ems),
                (bms - wms) / bms,
                (bms - ems) / (bms + (jms - ems) / n),
                (bms - ems) / bms,
            ],
            axis=-1,
        )
    return np.where(np.isfinite(forms), forms, np.nan)


def _icc_matrix(matrix: np.ndarray) -> np.ndarray:
    n, k = matrix.shape
    return _icc_from_sums(
        n,
        k,
        (matrix**2).sum(),
        (matrix.sum(axis=1) ** 2).sum(),
        (matrix.sum(axis=0) ** 2).sum(),
        matrix.sum(),
    )


def weighted_icc(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The six forms of the matrix that repeats row p of `rows` weights[b, p] times, per b."""
    n, k = int(round(weights[0].sum())), rows.shape[1]
    row_sums = rows.sum(axis=1)
    column_sums = weights @ rows
    return _icc_from_sums(
        n,
        k,
        weights @ (rows**2).sum(axis=1),
        weights @ row_sums**2,
        (column_sums**2).sum(axis=1),
        weights @ row_sums,
    )


def bootstrap_icc(matrix: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """The six forms on `n_boot` resamples of the rows (targets), shape (n_boot, 6), seeded."""
    n = matrix.shape[0]
    rows, frequency = np.unique(matrix, axis=0, return_counts=True)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, frequency / n, size=n_boot).astype(np.float64)
    return weighted_icc(rows, weights)


def shrout_fleiss_icc(matrix: ArrayLike, *, n_boot: int = 0, seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """The six Shrout & Fleiss ICC forms of a complete targets x judges matrix.

    :raises ValueError: the matrix is not 2-D, has missing cells, or has < 2 rows or columns.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 2:
        raise ValueError("ICC needs a targets x judges matrix with at least 2 of each")
    if np.isnan(values).any():
        raise ValueError("ICC needs a complete matrix: no missing cells")
    point = _icc_matrix(values)
    low = high = np.full(len(ICC_FORMS), np.nan)
    if n_boot > 0:
        low, high = percentile_interval(bootstrap_icc(values, n_boot, seed), confidence)
    return pd.DataFrame(
        {
            "form": ICC_FORMS,
            "icc": point,
            "ci_low": low,
            "ci_high": high,
            "n_units": values.shape[0],
            "n_raters": values.shape[1],
        }
    )


def complete_block(candidate: np.ndarray, interviewer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A large complete block: (candidate codes, interviewer codes) all rated by all (greedy)."""
    if candidate.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    n_candidates, n_raters = int(candidate.max()) + 1, int(interviewer.max()) + 1
    incidence = sp.csr_matrix((np.ones(candidate.size), (candidate, interviewer)), shape=(n_candidates, n_raters))
    shared = (incidence.T @ incidence).toarray()
    np.fill_diagonal(shared, 0)
    if shared.max() < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    first, second = np.unravel_index(np.argmax(shared), shared.shape)
    chosen = [int(first), int(second)]
    column = incidence.tocsc()
    members = (column[:, first].toarray().ravel() > 0) & (column[:, second].toarray().ravel() > 0)
    cells = 2 * int(members.sum())
    while True:
        kept = np.asarray(incidence[members].sum(axis=0)).ravel()
        kept[chosen] = -1
        best = int(np.argmax(kept))
        if kept[best] < 2 or (len(chosen) + 1) * kept[best] <= cells:
            break
        members &= column[:, best].toarray().ravel() > 0
        chosen.append(best)
        cells = len(chosen) * int(members.sum())
    return np.flatnonzero(members), np.array(sorted(chosen), dtype=np.int64)


def _block_matrix(
    candidate: np.ndarray,
    interviewer: np.ndarray,
    rating: np.ndarray,
    units: np.ndarray,
    raters: np.ndarray,
) -> np.ndarray:
    unit_position = np.full(int(candidate.max()) + 1, -1)
    unit_position[units] = np.arange(units.size)
    rater_position = np.full(int(interviewer.max()) + 1, -1)
    rater_position[raters] = np.arange(raters.size)
    inside = (unit_position[candidate] >= 0) & (rater_position[interviewer] >= 0)
    matrix = np.full((units.size, raters.size), np.nan)
    matrix[unit_position[candidate[inside]], rater_position[interviewer[inside]]] = rating[inside]
    return matrix


def icc_by_dimension(
    ratings: pd.DataFrame | CodedRatings,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """The six Shrout & Fleiss ICC forms per dimension, on each dimension's complete block.

    The block is chosen by `complete_block`; `raters` lists its interviewers. Forms that are
    undefined (e.g. all ratings identical, or no two interviewers share two candidates) are NaN
    with the reason in `note`.

    :raises CalibrationInputError: the ratings frame breaks the input conventions.
    """
    coded = code_ratings(ratings)
    rows: list[dict[str, object]] = []
    for code, dimension in enumerate(coded.dimensions):
        candidate, interviewer, rating = coded.for_dimension(code)
        units, raters = complete_block(candidate, interviewer)
        base = {
            "dimension": dimension,
            "n_units": int(units.size),
            "n_raters": int(raters.size),
            "raters": tuple(coded.interviewers[raters].tolist()),
            "n_boot": 0,
        }
        if units.size < 2:
            for form in ICC_FORMS:
                rows.append(
                    {
                        **base,
                        "form": form,
                        "icc": np.nan,
                        "ci_low": np.nan,
                        "ci_high": np.nan,
                        "min_n_warning": True,
                        "note": "no two interviewers rated two or more candidates in common",
                    }
                )
            continue
        matrix = _block_matrix(candidate, interviewer, rating, units, raters)
        point = _icc_matrix(matrix)
        low = high = np.full(len(ICC_FORMS), np.nan)
        if n_boot > 0:
            low, high = percentile_interval(bootstrap_icc(matrix, n_boot, seed + code), confidence)
            base["n_boot"] = n_boot
        warn = units.size < min_n.icc_units or raters.size < min_n.icc_raters
        note = (
            (f"complete block has fewer than {min_n.icc_units} candidates or {min_n.icc_raters} raters") if warn else ""
        )
        if np.isnan(point).all():
            note = "ratings in the complete block do not vary: ICC undefined"
        for index, form in enumerate(ICC_FORMS):
            rows.append(
                {
                    **base,
                    "form": form,
                    "icc": point[index],
                    "ci_low": low[index],
                    "ci_high": high[index],
                    "min_n_warning": warn,
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=ICC_COLUMNS)
