"""Validity statistics: Case II against published examples and a simulation; r and ΔR² against direct computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assessments.stats.validity import (
    NOT_ENOUGH,
    ValidityInputError,
    case_ii,
    correlation,
    incremental_validity,
)


def test_case_ii_reproduces_cohen_cohen_west_aiken_example() -> None:
    # Cohen, Cohen, West & Aiken (2003), Applied Multiple Regression/Correlation Analysis for the
    # Behavioral Sciences, 3rd ed., section 2.10.3: r = .25 observed where the predictor's SD is 5,
    # against 12 in the full population; the corrected r is about .53 (the same inputs are the
    # example of R's psychometric::cRRr).
    assert case_ii(0.25, 12.0, 5.0) == pytest.approx(0.5267, abs=5e-4)


def test_case_ii_reproduces_revelle_example() -> None:
    # Revelle, An Introduction to Psychometric Theory with Applications in R, ch. 4, the example
    # of R's psych::rangeCorrection: r = .33, unrestricted SD 100.32, restricted SD 48.19.
    u = 100.32 / 48.19
    by_hand = 0.33 * u / np.sqrt(1 - 0.33**2 + 0.33**2 * u**2)
    assert case_ii(0.33, 100.32, 48.19) == pytest.approx(by_hand, rel=1e-12)
    assert case_ii(0.33, 100.32, 48.19) == pytest.approx(0.588, abs=1e-3)


def test_case_ii_is_identity_without_restriction_and_keeps_the_sign() -> None:
    assert case_ii(0.4, 2.0, 2.0) == pytest.approx(0.4)
    assert case_ii(-0.3, 3.0, 1.5) == pytest.approx(-case_ii(0.3, 3.0, 1.5))
    with pytest.raises(ValidityInputError):
        case_ii(0.3, 1.0, 0.0)


@pytest.mark.parametrize("rho", [0.2, 0.5])
def test_case_ii_recovers_the_population_correlation_after_top_down_selection(rho: float) -> None:
    # Independent check: a bivariate normal applicant pool, hire the top 30% on the predictor,
    # observe r among hires only; the correction with the two SDs lands on the pool's r.
    rng = np.random.default_rng(11)
    n = 200_000
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    hired = x > np.quantile(x, 0.7)
    observed = float(np.corrcoef(x[hired], y[hired])[0, 1])
    assert observed < rho - 0.08
    corrected = case_ii(observed, float(x.std(ddof=1)), float(x[hired].std(ddof=1)))
    assert corrected == pytest.approx(float(np.corrcoef(x, y)[0, 1]), abs=0.01)


def _pool(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ability = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "auto_grade": ability + rng.normal(0, 0.8, n),
            "scorecard": ability + rng.normal(0, 0.8, n),
        }
    )
    hired = frame["scorecard"] > frame["scorecard"].quantile(0.6)
    frame["hired"] = hired.astype(float)
    frame["rating"] = np.where(hired, ability + rng.normal(0, 0.6, n), np.nan)
    return frame


def test_correlation_matches_scipy_and_fisher_z_by_hand() -> None:
    frame = _pool(3, 120)
    result = correlation(frame, "auto_grade", "rating", restricted=True)
    pairs = frame[["auto_grade", "rating"]].dropna()
    r, p = stats.pearsonr(pairs["auto_grade"], pairs["rating"])
    n = len(pairs)
    half = stats.norm.ppf(0.975) / np.sqrt(n - 3)
    assert result.n == n
    assert result.r == pytest.approx(r)
    assert result.p == pytest.approx(p)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half))
    )
    assert result.sd_unrestricted == pytest.approx(frame["auto_grade"].std())
    assert result.sd_restricted == pytest.approx(pairs["auto_grade"].std())
    assert result.n_unrestricted == 120
    assert result.corrected == pytest.approx(case_ii(r, frame["auto_grade"].std(), pairs["auto_grade"].std()))
    assert result.corrected_low == pytest.approx(case_ii(result.ci_low, result.sd_unrestricted, result.sd_restricted))


def test_unrestricted_outcome_has_no_correction() -> None:
    result = correlation(_pool(4, 80), "scorecard", "hired", restricted=False)
    assert result.n == 80 and result.r is not None and result.corrected is None


def test_correlation_below_the_minimum_says_not_enough_data() -> None:
    frame = _pool(5, 20)
    result = correlation(frame, "auto_grade", "rating", restricted=True, min_n=10)
    assert result.n == int(frame["rating"].notna().sum()) < 10
    assert result.r is None and not result.enough
    assert result.note.startswith(NOT_ENOUGH) and str(result.n) in result.note


def test_incremental_validity_matches_two_regressions_by_least_squares() -> None:
    frame = _pool(6, 200).dropna()
    result = incremental_validity(frame, "rating", ["scorecard"], "auto_grade", n_boot=300, seed=1)

    def r2(columns: list[str]) -> float:
        design = np.column_stack([np.ones(len(frame)), frame[columns].to_numpy()])
        beta, *_ = np.linalg.lstsq(design, frame["rating"].to_numpy(), rcond=None)
        residual = frame["rating"].to_numpy() - design @ beta
        total = frame["rating"].to_numpy() - frame["rating"].mean()
        return 1 - residual @ residual / (total @ total)

    expected = r2(["scorecard", "auto_grade"]) - r2(["scorecard"])
    assert result.n == len(frame)
    assert result.delta_r2 == pytest.approx(expected)
    assert result.ci_low < result.delta_r2 < result.ci_high
    # The auto-grade carries independent signal about ability here, so it adds: F test and interval agree.
    assert result.p < 0.01 and result.ci_low > 0


def test_incremental_validity_of_pure_noise_has_an_interval_reaching_zero() -> None:
    frame = _pool(7, 200).dropna().copy()
    frame["noise"] = np.random.default_rng(8).normal(size=len(frame))
    result = incremental_validity(frame, "rating", ["scorecard"], "noise", n_boot=300, seed=2)
    assert result.ci_low < 0.01 and result.p > 0.01


def test_incremental_validity_below_the_minimum_says_not_enough_data() -> None:
    frame = _pool(9, 30)
    result = incremental_validity(frame, "rating", ["scorecard"], "auto_grade", n_boot=50)
    assert result.delta_r2 is None and result.note.startswith(NOT_ENOUGH)
    assert result.n == int(frame["rating"].notna().sum()) and result.min_n == 20
