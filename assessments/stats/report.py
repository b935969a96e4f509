"""The calibration report: every stage in one call, so pages, exports and the CLI agree."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TypeVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from assessments.stats.alpha import Level, krippendorff_alpha
from assessments.stats.autograde import (
    AGREEMENT_COLUMNS,
    ITEM_COLUMNS,
    auto_grade_agreement,
    item_analysis,
)
from assessments.stats.disagreement import top_disagreements
from assessments.stats.generalizability import G_COLUMNS, g_study
from assessments.stats.icc import icc_by_dimension
from assessments.stats.leniency import rater_leniency, rating_distribution, recommendation_shares
from assessments.stats.ratings import (
    DEFAULT_MIN_N,
    RATING_LEVELS,
    RECOMMENDATIONS,
    CodedRatings,
    MinN,
    code_ratings,
)

DEFAULT_BOOTSTRAP = 1000
Result = TypeVar("Result")


@dataclass(frozen=True, eq=False)
class CalibrationReport:
    """Every calibration frame for one set of ratings and scorecards, plus how it was computed."""

    alpha: pd.DataFrame
    icc: pd.DataFrame
    leniency: pd.DataFrame
    rating_distribution: pd.DataFrame
    recommendation_shares: pd.DataFrame
    disagreements: pd.DataFrame
    auto_agreement: pd.DataFrame
    item_analysis: pd.DataFrame
    n_ratings: int
    n_missing_ratings: int
    n_scorecards: int
    alpha_level: str
    n_boot: int
    seed: int
    seconds: Mapping[str, float] = field(default_factory=dict)
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)
    levels: tuple[int, ...] = ()  # the rating scale, lowest first
    generalizability: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=G_COLUMNS))


FRAME_FIELDS = (
    "alpha",
    "icc",
    "generalizability",
    "leniency",
    "rating_distribution",
    "recommendation_shares",
    "disagreements",
    "auto_agreement",
    "item_analysis",
)


def calibration_report(
    ratings: pd.DataFrame | CodedRatings,
    scorecards: pd.DataFrame,
    *,
    auto_scores: pd.DataFrame | None = None,
    part_dimensions: Mapping[str, Sequence[str]] | None = None,
    check_scores: pd.DataFrame | None = None,
    alpha_level: Level = "ordinal",
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    top_n: int = 20,
    min_n: MinN = DEFAULT_MIN_N,
    levels: tuple[int, ...] = RATING_LEVELS,
    recommendations: tuple[str, ...] = RECOMMENDATIONS,
) -> CalibrationReport:
    """Run every calibration stage; auto-grade stages run only when their inputs are given.

    `levels` and `recommendations` are the rubric's rating scale and recommendation ids.

    `check_scores` (candidate, check, score_fraction) feeds the item analysis; `auto_scores`
    with `part_dimensions` feeds the auto-grade vs human agreement. `seconds` and
    `cpu_seconds` record each stage's wall and CPU time.

    :raises CalibrationInputError: an input frame breaks the input conventions.
    """
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}

    def timed(stage: str, compute: Callable[[], Result]) -> Result:
        start, cpu_start = time.perf_counter(), time.process_time()
        result = compute()
        seconds[stage] = time.perf_counter() - start
        cpu_seconds[stage] = time.process_time() - cpu_start
        return result

    # the dense algebra here is on m x m matrices (m interviewers): more BLAS threads only spin,
    # which tripled the CPU time at 100,000 scorecards on a busy two-core machine
    with threadpool_limits(limits=1, user_api="blas"):
        coded = timed("code ratings", lambda: code_ratings(ratings, levels=levels))
        alpha = timed(
            "alpha", lambda: krippendorff_alpha(coded, level=alpha_level, n_boot=n_boot, seed=seed, min_n=min_n)
        )
        icc = timed("icc", lambda: icc_by_dimension(coded, n_boot=n_boot, seed=seed, min_n=min_n))
        g = timed("g study", lambda: g_study(coded, n_boot=n_boot, seed=seed, min_n=min_n))
        leniency = timed("leniency", lambda: rater_leniency(coded, min_n=min_n))
        distribution = timed("rating distribution", lambda: rating_distribution(coded, min_n=min_n))
        shares = timed(
            "recommendation shares",
            lambda: recommendation_shares(scorecards, recommendations=recommendations, min_n=min_n),
        )
        disagreements = timed("disagreements", lambda: top_disagreements(coded, top_n=top_n, min_n=min_n))
        agreement = pd.DataFrame(columns=AGREEMENT_COLUMNS)
        if auto_scores is not None and part_dimensions is not None:
            agreement = timed(
                "auto-grade agreement", lambda: auto_grade_agreement(auto_scores, part_dimensions, coded, min_n=min_n)
            )
        items = pd.DataFrame(columns=ITEM_COLUMNS)
        if check_scores is not None:
            items = timed("item analysis", lambda: item_analysis(check_scores, min_n=min_n))
    return CalibrationReport(
        alpha=alpha,
        icc=icc,
        leniency=leniency,
        rating_distribution=distribution,
        recommendation_shares=shares,
        disagreements=disagreements,
        auto_agreement=agreement,
        item_analysis=items,
        n_ratings=coded.n_ratings,
        n_missing_ratings=coded.n_missing,
        n_scorecards=len(scorecards),
        alpha_level=alpha_level,
        n_boot=n_boot,
        seed=seed,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        levels=tuple(coded.levels),
        generalizability=g,
    )


def _plain(value: object) -> object:
    """A JSON-ready value: NaN/NA become None, numpy scalars become Python, tuples become lists."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_to_json(report: CalibrationReport) -> dict[str, object]:
    """The report as a JSON-ready dict: one list of records per frame, NaN as null."""
    result: dict[str, object] = {}
    for item in fields(report):
        value = getattr(report, item.name)
        if isinstance(value, pd.DataFrame):
            result[item.name] = [
                {str(column): _plain(cell) for column, cell in zip(value.columns, row, strict=True)}
                for row in value.itertuples(index=False, name=None)
            ]
        elif isinstance(value, Mapping):
            result[item.name] = {key: _plain(seconds) for key, seconds in value.items()}
        else:
            result[item.name] = _plain(value)
    return result
