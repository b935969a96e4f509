"""Input conventions of the calibration statistics: the ratings and scorecards frames, coded once.

A ratings frame is long: one row per (candidate, interviewer, dimension) with a `rating` that is an
integer 1..N or missing (pandas NA / NaN). A scorecards frame has one row per (candidate,
interviewer) with a `recommendation` from the rubric's recommendation ids.

The scale and the recommendations belong to the rubric: callers with one (the calibration service)
pass its `levels` and `recommendations`; `RATING_LEVELS` and `RECOMMENDATIONS` are only the defaults
for frames without a rubric (tests, simulations), the same as the lead rubric's.

Every result row carries `min_n_warning`: True when the number behind it is below the threshold in
`MinN`, i.e. when the number is too small to mean anything and a page should grey it out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RATING_COLUMNS = ("candidate", "interviewer", "dimension", "rating")
SCORECARD_COLUMNS = ("candidate", "interviewer", "recommendation")
RATING_LEVELS = (1, 2, 3, 4)
RECOMMENDATIONS = ("strong_no", "no", "yes", "strong_yes", "no_decision")
OVERALL = "overall"


class CalibrationInputError(ValueError):
    """A ratings, scorecards or auto-grade frame that does not follow the input conventions."""


@dataclass(frozen=True)
class MinN:
    """Thresholds below which a result row gets `min_n_warning=True`.

    - alpha: fewer than 10 pairable candidates or 20 pairable ratings (our choice: with 4 rating
      levels, fewer values rarely show every level, and the bootstrap interval spans most of
      -1..1; Krippendorff (2004, ch. 11) sizes samples by the smallest alpha one must rule out).
    - ICC: fewer than 30 candidates or 3 raters in the complete block, after Koo & Li (2016),
      "at least 30 heterogeneous samples and at least 3 raters".
    - a rater's distribution, naive deviation or recommendation shares: fewer than 10 ratings
      (scorecards): below that one odd interview moves the estimate by > 0.1 on a 1-4 scale.
    - a rater's leniency: fewer than 10 candidates seen, for the same reason; ratings are not
      the unit, since a rater's eight dimension ratings of one candidate share one impression.
    - a disagreement cell: fewer than 3 raters (a range of two ratings says nothing about spread).
    - a correlation: fewer than 20 candidates (the 95% interval of r = 0.5 then spans ~0.07..0.77).
    - an item (check): fewer than 30 candidates.
    """

    alpha_units: int = 10
    alpha_values: int = 20
    icc_units: int = 30
    icc_raters: int = 3
    rater_ratings: int = 10
    rater_candidates: int = 10
    cell_raters: int = 3
    correlation_pairs: int = 20
    item_candidates: int = 30


DEFAULT_MIN_N = MinN()


@dataclass(frozen=True, eq=False)
class CodedRatings:
    """A ratings frame as integer codes: the non-missing ratings and the labels behind each code."""

    candidates: np.ndarray
    interviewers: np.ndarray
    dimensions: np.ndarray
    candidate: np.ndarray
    interviewer: np.ndarray
    dimension: np.ndarray
    rating: np.ndarray
    n_missing: int
    dimension_starts: np.ndarray
    levels: tuple[int, ...] = RATING_LEVELS

    @property
    def level_index(self) -> np.ndarray:
        """Each rating's position on the scale, 0 for the lowest level."""
        return self.rating.astype(np.int64) - self.levels[0]

    @property
    def n_ratings(self) -> int:
        """The number of non-missing ratings."""
        return int(self.rating.size)

    def for_dimension(self, code: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (candidate, interviewer, rating) arrays of one dimension (views: rows are sorted)."""
        rows = slice(int(self.dimension_starts[code]), int(self.dimension_starts[code + 1]))
        return self.candidate[rows], self.interviewer[rows], self.rating[rows]


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise CalibrationInputError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise CalibrationInputError(f"{what} is missing the column(s) {', '.join(missing)}")


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, labels = pd.factorize(series, sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        raise CalibrationInputError(f"the column {series.name!r} has missing values")
    return codes.astype(np.int64), np.asarray(labels, dtype=object)


def _numeric_ratings(series: pd.Series, levels: tuple[int, ...]) -> np.ndarray:
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
        values = series.to_numpy(dtype=np.float64)
    else:
        try:
            numeric = pd.to_numeric(series, errors="raise")
        except (TypeError, ValueError) as error:
            raise CalibrationInputError(f"ratings must be numbers or missing: {error}") from None
        values = pd.Series(numeric).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    present = values[~np.isnan(values)]
    if present.size and not np.isin(present, levels).all():
        bad = np.unique(present[~np.isin(present, levels)])[:5]
        raise CalibrationInputError(f"ratings must be whole numbers {levels[0]}..{levels[-1]}; found {bad.tolist()}")
    return values


def code_ratings(ratings: pd.DataFrame | CodedRatings, *, levels: tuple[int, ...] = RATING_LEVELS) -> CodedRatings:
    """Validate a ratings frame and code it as integers (a CodedRatings passes through).

    `levels` are the allowed ratings: consecutive integers (the rubric's 1..4 by default; an
    imported scale such as 1..5 or 0..10 otherwise).

    :raises CalibrationInputError: a column is missing, an id is missing, a rating is off the
        scale, or one interviewer rated one candidate twice on one dimension.
    :raises ValueError: `levels` are not consecutive integers.
    """
    if isinstance(ratings, CodedRatings):
        return ratings
    levels = tuple(int(level) for level in levels)
    if len(levels) < 2 or levels != tuple(range(levels[0], levels[0] + len(levels))):
        raise ValueError("levels must be two or more consecutive integers")
    _require_columns(ratings, RATING_COLUMNS, "the ratings frame")
    candidate, candidates = _factorize(ratings["candidate"])
    interviewer, interviewers = _factorize(ratings["interviewer"])
    dimension, dimensions = _factorize(ratings["dimension"])
    rating = _numeric_ratings(ratings["rating"], tuple(levels))
    n_interviewers, n_dimensions = max(len(interviewers), 1), max(len(dimensions), 1)
    cell = (candidate * n_interviewers + interviewer) * n_dimensions + dimension
    if pd.Index(cell).has_duplicates:
        raise CalibrationInputError(
            "an interviewer rated the same candidate twice on one dimension; pass one rating per "
            "(candidate, interviewer, dimension), e.g. the latest amendment"
        )
    return coded_from_codes(candidate, candidates, interviewer, interviewers, dimension, dimensions, rating, levels)


def coded_from_codes(
    candidate: np.ndarray,
    candidates: np.ndarray,
    interviewer: np.ndarray,
    interviewers: np.ndarray,
    dimension: np.ndarray,
    dimensions: np.ndarray,
    rating: np.ndarray,
    levels: tuple[int, ...],
) -> CodedRatings:
    """CodedRatings from integer codes the caller has already validated (one rating per cell,
    ratings on `levels` or NaN): the CSV reader checks both by line, so it skips a second pass.
    """
    present = ~np.isnan(rating)
    # sorted by dimension once, so every per-dimension stage takes a slice instead of a mask
    narrow = np.int16 if len(dimensions) < 2**15 else np.int64  # small ints sort by radix
    order = np.flatnonzero(present)[np.argsort(dimension[present].astype(narrow), kind="stable")]
    starts = np.searchsorted(dimension[order], np.arange(len(dimensions) + 1))
    return CodedRatings(
        candidates=np.asarray(candidates, dtype=object),
        interviewers=np.asarray(interviewers, dtype=object),
        dimensions=np.asarray(dimensions, dtype=object),
        candidate=candidate[order].astype(np.int64),
        interviewer=interviewer[order].astype(np.int64),
        dimension=dimension[order].astype(np.int64),
        rating=rating[order].astype(np.float64),
        n_missing=int((~present).sum()),
        dimension_starts=starts,
        levels=tuple(levels),
    )


def check_scorecards(scorecards: pd.DataFrame, *, recommendations: tuple[str, ...] = RECOMMENDATIONS) -> pd.DataFrame:
    """Validate a scorecards frame and return its three columns.

    :raises CalibrationInputError: a column is missing or a recommendation is not one of
        `recommendations`.
    """
    _require_columns(scorecards, SCORECARD_COLUMNS, "the scorecards frame")
    frame = scorecards.loc[:, list(SCORECARD_COLUMNS)]
    unknown = set(frame["recommendation"].dropna().unique()) - set(recommendations)
    if unknown or frame["recommendation"].isna().any():
        shown = sorted(map(str, unknown))[:5] or ["<missing>"]
        raise CalibrationInputError(
            f"recommendations must be one of {', '.join(recommendations)}; found {', '.join(shown)}"
        )
    return frame


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along axis 0, NaN where no resample gave a finite value."""
    samples = np.asarray(samples, dtype=np.float64)
    tail = (1.0 - confidence) / 2.0 * 100.0
    finite = np.isfinite(samples)
    low = np.full(samples.shape[1:], np.nan)
    high = np.full(samples.shape[1:], np.nan)
    usable = finite.any(axis=0)
    if usable.any():
        # columns without a finite resample would make nanpercentile warn (warnings are errors)
        picked = np.where(finite, samples, np.nan)[:, usable]
        low[usable] = np.nanpercentile(picked, tail, axis=0)
        high[usable] = np.nanpercentile(picked, 100.0 - tail, axis=0)
    return low, high
