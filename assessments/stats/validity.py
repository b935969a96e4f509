"""Predictive validity: does the assessment predict what happened after the hire?

Pure functions over one frame with a row per assessed candidate: predictor columns (the
auto-grade, each scorecard dimension's mean over interviewers, the mean recommendation) and
outcome columns (hired 0/1 for everyone assessed; performance ratings only for hires).

- Correlations are Pearson's r from scipy with its Fisher-z interval.
- Performance ratings exist only for hires, so their correlations are range-restricted; beside
  each observed r stands Thorndike's Case II correction for direct restriction (`case_ii`), with
  the predictor's SD over everyone assessed as unrestricted and over the hires rated as
  restricted. Its interval is the observed interval's ends corrected (the correction is
  increasing in r), which ignores the sampling error of the SD ratio, so it is a little narrow.
- Incremental validity of the auto-grade over the scorecards is the change in R² between two
  statsmodels OLS fits, with the F test of the added predictor and a percentile bootstrap
  interval (cases resampled).

Every result carries its n; below the stated minimum a result says "not enough data" instead of
a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

# Fewer pairs than this and a correlation's interval spans most of [-1, 1]: not shown.
MIN_CORRELATION_N = 10
# A regression needs this many complete cases, and at least this many per predictor fitted.
MIN_REGRESSION_N = 20
MIN_CASES_PER_PREDICTOR = 5
NOT_ENOUGH = "not enough data"


class ValidityInputError(ValueError):
    """The frame handed to a validity function breaks its conventions."""


@dataclass(frozen=True)
class Correlation:
    """One predictor against one outcome: observed r with its interval, and corrected r if restricted."""

    predictor: str
    outcome: str
    n: int
    r: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None
    corrected: float | None = None
    corrected_low: float | None = None
    corrected_high: float | None = None
    sd_unrestricted: float | None = None
    sd_restricted: float | None = None
    n_unrestricted: int | None = None
    note: str = ""

    @property
    def enough(self) -> bool:
        """True when the observed r is shown."""
        return self.r is not None


@dataclass(frozen=True)
class IncrementalValidity:
    """The change in R² when the added predictor joins the base predictors, for one outcome."""

    outcome: str
    added: str
    base: tuple[str, ...]
    n: int
    min_n: int
    r2_base: float | None = None
    r2_full: float | None = None
    delta_r2: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None
    n_boot: int = 0
    note: str = ""

    @property
    def enough(self) -> bool:
        """True when the change in R² is shown."""
        return self.delta_r2 is not None


def case_ii(r: float, sd_unrestricted: float, sd_restricted: float) -> float:
    """Thorndike's (1949) Case II: the correlation corrected for direct range restriction on the predictor.

    With u = S / s (unrestricted over restricted SD of the predictor):
    R = r u / sqrt(1 - r² + r² u²).

    :raises ValidityInputError: for an SD that is not positive or an r outside [-1, 1].
    """
    if not (sd_unrestricted > 0 and sd_restricted > 0):
        raise ValidityInputError("Both standard deviations must be positive.")
    if not -1.0 <= r <= 1.0:
        raise ValidityInputError(f"A correlation lies in [-1, 1], not {r}.")
    u = sd_unrestricted / sd_restricted
    return float(r * u / np.sqrt(1.0 - r**2 + (r**2) * (u**2)))


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValidityInputError(f"The frame is missing the column(s) {', '.join(missing)}.")


def correlation(
    frame: pd.DataFrame,
    predictor: str,
    outcome: str,
    *,
    restricted: bool,
    confidence: float = 0.95,
    min_n: int = MIN_CORRELATION_N,
) -> Correlation:
    """Pearson's r of predictor with outcome over the rows that have both, with its Fisher-z interval.

    With `restricted`, the outcome exists only for a selected subset, and the Case II correction
    is added: unrestricted SD over every row with the predictor, restricted SD over the pairs.

    :raises ValidityInputError: when a column is missing.
    """
    _require(frame, [predictor, outcome])
    pairs = frame[[predictor, outcome]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(pairs)
    if n < min_n:
        return Correlation(predictor, outcome, n, note=f"{NOT_ENOUGH}: {n} pairs, at least {min_n} needed")
    x, y = pairs[predictor].to_numpy(float), pairs[outcome].to_numpy(float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(predictor, outcome, n, note=f"{NOT_ENOUGH}: one side does not vary over the {n} pairs")
    result = stats.pearsonr(x, y)
    interval = result.confidence_interval(confidence_level=confidence)
    r, low, high = float(result.statistic), float(interval.low), float(interval.high)
    base = Correlation(predictor, outcome, n, r, low, high, float(result.pvalue))
    if not restricted:
        return base
    everyone = pd.to_numeric(frame[predictor], errors="coerce").dropna()
    sd_all, sd_pairs = float(everyone.std(ddof=1)), float(np.std(x, ddof=1))
    corrected = [case_ii(value, sd_all, sd_pairs) for value in (r, low, high)]
    return Correlation(
        predictor,
        outcome,
        n,
        r,
        low,
        high,
        float(result.pvalue),
        corrected=corrected[0],
        corrected_low=corrected[1],
        corrected_high=corrected[2],
        sd_unrestricted=sd_all,
        sd_restricted=sd_pairs,
        n_unrestricted=len(everyone),
    )


def _r_squared(y: np.ndarray, predictors: np.ndarray) -> float:
    return float(sm.OLS(y, sm.add_constant(predictors, has_constant="add")).fit().rsquared)


def incremental_validity(
    frame: pd.DataFrame,
    outcome: str,
    base: Sequence[str],
    added: str,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_n: int = MIN_REGRESSION_N,
) -> IncrementalValidity:
    """ΔR² of OLS(outcome ~ base + added) over OLS(outcome ~ base), complete cases only.

    The p-value is the F test of the added predictor (statsmodels' `compare_f_test`); the
    interval is the percentile bootstrap over `n_boot` resamples of the cases.

    :raises ValidityInputError: when a column is missing.
    """
    base = tuple(base)
    _require(frame, [outcome, *base, added])
    data = frame[[outcome, *base, added]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(data)
    needed = max(min_n, MIN_CASES_PER_PREDICTOR * (len(base) + 1))
    if n < needed:
        note = f"{NOT_ENOUGH}: {n} complete cases, at least {needed} needed"
        return IncrementalValidity(outcome, added, base, n, needed, note=note)
    y = data[outcome].to_numpy(float)
    x_base, x_full = data[list(base)].to_numpy(float), data[[*base, added]].to_numpy(float)
    if np.ptp(y) == 0 or np.ptp(x_full[:, -1]) == 0:
        note = f"{NOT_ENOUGH}: the outcome or {added} does not vary over the {n} cases"
        return IncrementalValidity(outcome, added, base, n, needed, note=note)
    fit_base = sm.OLS(y, sm.add_constant(x_base, has_constant="add")).fit()
    fit_full = sm.OLS(y, sm.add_constant(x_full, has_constant="add")).fit()
    _, p, _ = fit_full.compare_f_test(fit_base)
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_boot)
    for i in range(n_boot):
        rows = rng.integers(0, n, n)
        deltas[i] = _r_squared(y[rows], x_full[rows]) - _r_squared(y[rows], x_base[rows])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(deltas, [tail, 1.0 - tail]) if n_boot else (np.nan, np.nan)
    return IncrementalValidity(
        outcome,
        added,
        base,
        n,
        needed,
        r2_base=float(fit_base.rsquared),
        r2_full=float(fit_full.rsquared),
        delta_r2=float(fit_full.rsquared - fit_base.rsquared),
        ci_low=float(low) if n_boot else None,
        ci_high=float(high) if n_boot else None,
        p=float(p),
        n_boot=n_boot,
    )
