"""How the auto-grade relates to the humans: part-score vs rating agreement, and item analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    CalibrationInputError,
    CodedRatings,
    MinN,
    code_ratings,
)

AGREEMENT_COLUMNS = [
    "part",
    "dimension",
    "n",
    "pearson_r",
    "pearson_ci_low",
    "pearson_ci_high",
    "pearson_p",
    "spearman_rho",
    "spearman_ci_low",
    "spearman_ci_high",
    "spearman_p",
    "min_n_warning",
    "note",
]
ITEM_COLUMNS = [
    "item",
    "n",
    "difficulty",
    "difficulty_low",
    "difficulty_high",
    "mean_score",
    "point_biserial",
    "discrimination",
    "discrimination_low",
    "discrimination_high",
    "flag",
    "min_n_warning",
    "note",
]


def _fisher_interval(r: float, n: int, confidence: float, scale: float) -> tuple[float, float]:
    """Fisher-z interval for a correlation; `scale` 1.0 for Pearson, sqrt(1.06) for Spearman."""
    if n <= 3 or not np.isfinite(r):
        return np.nan, np.nan
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = stats.norm.ppf(0.5 + confidence / 2.0) * scale / np.sqrt(n - 3)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise CalibrationInputError(f"{what} is missing the column(s) {', '.join(missing)}")


def auto_grade_agreement(
    auto_scores: pd.DataFrame,
    part_dimensions: Mapping[str, Sequence[str]],
    ratings: pd.DataFrame | CodedRatings,
    *,
    confidence: float = 0.95,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Pearson and Spearman correlation of each part's auto-grade with each dimension it informs.

    `auto_scores` has columns candidate, part, score_fraction (0..1); the human side is the
    candidate's mean rating on the dimension over their interviewers. Intervals use Fisher's z
    (Spearman with the Fieller, Hartley & Pearson 1957 variance 1.06 / (n - 3)).

    :raises CalibrationInputError: a frame breaks the input conventions.
    """
    _require(auto_scores, ("candidate", "part", "score_fraction"), "the auto-scores frame")
    coded = code_ratings(ratings)
    # the human side as a dense (dimension, candidate) table of mean ratings, from the codes
    n_candidates = coded.candidates.size
    cell = coded.dimension * n_candidates + coded.candidate
    size = coded.dimensions.size * n_candidates
    with np.errstate(divide="ignore", invalid="ignore"):
        human = (np.bincount(cell, weights=coded.rating, minlength=size) / np.bincount(cell, minlength=size)).reshape(
            coded.dimensions.size, n_candidates
        )
    dimension_row = {dimension: row for row, dimension in enumerate(coded.dimensions)}
    # the auto side on the same candidate codes; candidates nobody rated cannot pair, so drop them
    candidate = pd.Index(coded.candidates).get_indexer(auto_scores["candidate"])
    part, parts = pd.factorize(auto_scores["part"])
    fraction = pd.to_numeric(auto_scores["score_fraction"], errors="coerce").to_numpy(np.float64)
    known = (candidate >= 0) & ~np.isnan(fraction)
    auto_cell = part[known] * n_candidates + candidate[known]
    auto_size = len(parts) * n_candidates
    with np.errstate(divide="ignore", invalid="ignore"):
        auto = (
            np.bincount(auto_cell, weights=fraction[known], minlength=auto_size)
            / np.bincount(auto_cell, minlength=auto_size)
        ).reshape(len(parts), n_candidates)
    part_row = {label: row for row, label in enumerate(parts)}
    rows = []
    for part_label, dimensions in part_dimensions.items():
        for dimension in dimensions:
            row: dict[str, object] = {"part": part_label, "dimension": dimension}
            if part_label in part_row and dimension in dimension_row:
                auto_side = auto[part_row[part_label]]
                human_side = human[dimension_row[dimension]]
                both = ~np.isnan(auto_side) & ~np.isnan(human_side)
                pairs = pd.DataFrame({"auto": auto_side[both], "human": human_side[both]})
            else:
                pairs = pd.DataFrame({"auto": [], "human": []})
            n = len(pairs)
            row["n"] = n
            constant = n > 0 and (pairs["auto"].nunique() < 2 or pairs["human"].nunique() < 2)
            if n < 3 or constant:
                row.update({column: np.nan for column in AGREEMENT_COLUMNS[3:11]})
                row["note"] = (
                    "a side does not vary: correlation undefined"
                    if constant
                    else "fewer than 3 candidates with both a score and a rating"
                )
            else:
                pearson = stats.pearsonr(pairs["auto"], pairs["human"])
                spearman = stats.spearmanr(pairs["auto"], pairs["human"])
                r, rho = float(pearson.statistic), float(spearman.statistic)
                row["pearson_r"], row["pearson_p"] = r, float(pearson.pvalue)
                row["pearson_ci_low"], row["pearson_ci_high"] = _fisher_interval(r, n, confidence, 1.0)
                row["spearman_rho"], row["spearman_p"] = rho, float(spearman.pvalue)
                row["spearman_ci_low"], row["spearman_ci_high"] = _fisher_interval(
                    rho, n, confidence, float(np.sqrt(1.06))
                )
                row["note"] = ""
            row["min_n_warning"] = n < min_n.correlation_pairs
            if row["min_n_warning"] and not row["note"]:
                row["note"] = f"fewer than {min_n.correlation_pairs} candidates"
            rows.append(row)
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3:
        return np.nan
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx @ dx) * (dy @ dy))
    return float(dx @ dy / denominator) if denominator > 0 else np.nan


def _wilson(successes: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for a proportion (NaN without data)."""
    if n == 0:
        return np.nan, np.nan
    share = successes / n
    centre = (share + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(centre - half), float(centre + half)


def item_analysis(
    item_scores: pd.DataFrame,
    *,
    item_column: str = "check",
    trivial_above: float = 0.9,
    confidence: float = 0.95,
    min_n: MinN = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Difficulty and discrimination of each auto-graded item, flagging only what the data supports.

    `item_scores` has columns candidate, `item_column`, score_fraction (0..1). `difficulty` is the
    share of candidates with full marks, with a Wilson interval; `discrimination` is the
    corrected item-total correlation (the item's score against the sum of the candidate's other
    items) with a Fisher-z interval; `point_biserial` correlates the full-marks indicator with
    that rest score. An item is flagged only with at least `min_n.item_candidates` candidates:
    "broken" when the whole discrimination interval is below zero at a Bonferroni-corrected
    level over the items judged (a pure-noise item is flagged in about 5% / items of reports,
    not half of them), "trivial" when the whole difficulty interval is above `trivial_above`.
    A statistic that is undefined (no variance, too few candidates) is NaN and `note` says why.

    :raises CalibrationInputError: a column is missing or a score is outside 0..1.
    """
    _require(item_scores, ("candidate", item_column, "score_fraction"), "the item-scores frame")
    scores = pd.to_numeric(item_scores["score_fraction"], errors="coerce")
    if ((scores < 0) | (scores > 1)).any():
        raise CalibrationInputError("score_fraction must be between 0 and 1")
    candidate, _ = pd.factorize(item_scores["candidate"])
    item, items = pd.factorize(item_scores[item_column])
    # a dense candidates x items table of mean scores; NaN where a candidate has no such item
    cell = candidate * len(items) + item
    n_candidates = int(candidate.max()) + 1 if candidate.size else 0
    size = n_candidates * len(items)
    score_values = scores.to_numpy(dtype=np.float64)
    known = ~np.isnan(score_values)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (
            np.bincount(cell[known], weights=score_values[known], minlength=size)
            / np.bincount(cell[known], minlength=size)
        ).reshape(n_candidates, len(items))
    total = np.nansum(values, axis=1)
    judged = max(int(((~np.isnan(values)).sum(axis=0) >= min_n.item_candidates).sum()), 1)
    corrected = 1.0 - (1.0 - confidence) / judged
    z_difficulty = float(stats.norm.ppf(0.5 + confidence / 2.0))
    rows = []
    for position, item_label in enumerate(items):
        present = ~np.isnan(values[:, position])
        score = values[present, position]
        rest = total[present] - score
        full = (score >= 1.0 - 1e-9).astype(np.float64)
        n = int(present.sum())
        difficulty = float(full.mean()) if n else np.nan
        difficulty_low, difficulty_high = _wilson(float(full.sum()), n, z_difficulty)
        discrimination = _correlation(score, rest)
        low, high = _fisher_interval(discrimination, n, confidence, 1.0)
        flag_low, flag_high = _fisher_interval(discrimination, n, corrected, 1.0)
        enough = n >= min_n.item_candidates
        flag = ""
        if enough and np.isfinite(flag_high) and flag_high < 0:
            flag = "broken"
        elif enough and difficulty_low > trivial_above:
            flag = "trivial"
        if n == 0:
            note = "undefined: no candidate has this item"
        elif not np.isfinite(discrimination):
            note = (
                "discrimination undefined: the item or the rest score does not vary"
                if n >= 3
                else "discrimination undefined: fewer than 3 candidates"
            )
        elif not enough:
            note = f"fewer than {min_n.item_candidates} candidates: not flagged"
        else:
            note = ""
        rows.append(
            {
                "item": item_label,
                "n": n,
                "difficulty": difficulty,
                "difficulty_low": difficulty_low,
                "difficulty_high": difficulty_high,
                "mean_score": float(score.mean()) if n else np.nan,
                "point_biserial": _correlation(full, rest),
                "discrimination": discrimination,
                "discrimination_low": low,
                "discrimination_high": high,
                "flag": flag,
                "min_n_warning": not enough,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=ITEM_COLUMNS)
