"""Disagreement agenda, auto-grade vs human agreement, and item analysis of checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assessments.stats import (
    auto_grade_agreement,
    item_analysis,
    krippendorff_alpha,
    simulate_panel,
    top_disagreements,
)


def test_top_disagreements_rank_by_range_then_sd_with_raters() -> None:
    ratings, _ = simulate_panel(1, n_candidates=150, n_interviewers=12, missing_rate=0.1)
    agenda = top_disagreements(ratings, top_n=15)
    present = ratings.dropna(subset=["rating"])
    grouped = present.groupby(["candidate", "dimension"])["rating"]
    expected = pd.DataFrame({"range": grouped.max() - grouped.min(), "sd": grouped.std(), "n": grouped.size()}).query(
        "n >= 2"
    )
    expected = expected.sort_values(["range", "sd"], ascending=False)
    # the 15th place may tie with others: compare the (range, sd) keys, not the identities
    np.testing.assert_allclose(agenda["range"], expected["range"].iloc[:15])
    np.testing.assert_allclose(agenda["sd"], expected["sd"].iloc[:15])
    first = agenda.iloc[0]
    cell = present[(present["candidate"] == first["candidate"]) & (present["dimension"] == first["dimension"])]
    assert sorted(first["raters"]) == sorted(cell["interviewer"])
    assert list(first["ratings_given"]) == sorted(cell["rating"].astype(int))


def _auto_scores(seed: int, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ability = rng.normal(size=n)
    candidates = [f"c{i}" for i in range(n)]
    ratings = pd.DataFrame(
        [
            {
                "candidate": c,
                "interviewer": f"i{r}",
                "dimension": "evaluation-rigor",
                "rating": int(np.clip(np.rint(2.5 + ability[i] + rng.normal(0, 0.5)), 1, 4)),
            }
            for i, c in enumerate(candidates)
            for r in range(2)
        ]
    )
    auto = pd.DataFrame(
        {
            "candidate": candidates * 2,
            "part": ["srm_pvalue"] * n + ["noise_part"] * n,
            "score_fraction": np.r_[1 / (1 + np.exp(-2 * ability)), rng.random(n)],
        }
    )
    return auto, ratings


def test_auto_grade_agreement_matches_scipy_on_the_joined_frame() -> None:
    auto, ratings = _auto_scores(3, 120)
    result = auto_grade_agreement(
        auto, {"srm_pvalue": ["evaluation-rigor"], "noise_part": ["evaluation-rigor"]}, ratings
    ).set_index("part")
    human = ratings.groupby("candidate")["rating"].mean()
    joined = auto[auto["part"] == "srm_pvalue"].set_index("candidate")["score_fraction"]
    expected = stats.spearmanr(joined, human.loc[joined.index])
    assert result.loc["srm_pvalue", "spearman_rho"] == pytest.approx(expected.statistic)
    assert result.loc["srm_pvalue", "n"] == 120
    assert result.loc["srm_pvalue", "pearson_ci_low"] > 0.5
    noise = result.loc["noise_part"]
    assert noise["pearson_ci_low"] < 0 < noise["pearson_ci_high"]
    # Fisher z interval: tanh(atanh(r) +- 1.96 / sqrt(n - 3))
    z = np.arctanh(noise["pearson_r"])
    assert noise["pearson_ci_high"] == pytest.approx(np.tanh(z + 1.959964 / np.sqrt(117)), abs=1e-5)
    assert not result["min_n_warning"].any()


def test_auto_grade_agreement_flags_small_and_unrated() -> None:
    auto, ratings = _auto_scores(1, 12)
    result = auto_grade_agreement(auto, {"srm_pvalue": ["evaluation-rigor", "craft"]}, ratings)
    assert result["min_n_warning"].all()
    craft = result.set_index("dimension").loc["craft"]
    assert craft["n"] == 0 and np.isnan(craft["pearson_r"])


def test_item_analysis_flags_broken_and_trivial_checks() -> None:
    rng = np.random.default_rng(4)
    n = 300
    skill = rng.normal(size=n)
    checks = {
        "good_a": (skill + rng.normal(0, 0.7, n) > 0).astype(float),
        "good_b": (skill + rng.normal(0, 0.7, n) > 0.3).astype(float),
        "good_c": np.clip(0.5 + 0.3 * skill + rng.normal(0, 0.2, n), 0, 1),
        "broken": (skill + rng.normal(0, 0.7, n) < 0).astype(float),  # key inverted
        "trivial": (rng.random(n) < 0.98).astype(float),
    }
    frame = pd.DataFrame(
        [
            {"candidate": i, "check": name, "score_fraction": values[i]}
            for name, values in checks.items()
            for i in range(n)
        ]
    )
    result = item_analysis(frame).set_index("item")
    assert result.loc["broken", "flag"] == "broken"
    assert result.loc["trivial", "flag"] == "trivial"
    assert (result.loc[["good_a", "good_b", "good_c"], "flag"] == "").all()
    # corrected item-total correlation, computed by hand for one check
    matrix = pd.DataFrame(checks)
    rest = matrix.drop(columns="good_a").sum(axis=1)
    assert result.loc["good_a", "discrimination"] == pytest.approx(np.corrcoef(matrix["good_a"], rest)[0, 1])
    assert result.loc["good_c", "difficulty"] == pytest.approx((matrix["good_c"] >= 1).mean())
    full = (matrix["good_c"] >= 1).astype(float)
    rest_c = matrix.drop(columns="good_c").sum(axis=1)
    assert result.loc["good_c", "point_biserial"] == pytest.approx(np.corrcoef(full, rest_c)[0, 1])


def test_auto_grade_stages_accept_empty_frames() -> None:
    empty_auto = pd.DataFrame(columns=["candidate", "part", "score_fraction"])
    empty_ratings = pd.DataFrame(columns=["candidate", "interviewer", "dimension", "rating"])
    result = auto_grade_agreement(empty_auto, {"srm_pvalue": ["craft"]}, empty_ratings)
    assert result.loc[0, "n"] == 0 and result.loc[0, "min_n_warning"]
    assert item_analysis(empty_auto.rename(columns={"part": "check"})).empty


def _checks_frame(checks: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(checks.values())))
    return pd.DataFrame(
        [
            {"candidate": i, "check": name, "score_fraction": values[i]}
            for name, values in checks.items()
            for i in range(n)
        ]
    )


def test_a_pure_noise_check_is_rarely_flagged_broken() -> None:
    # before: any negative discrimination was "broken", so noise was flagged half the time
    flagged, runs = 0, 60
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        skill = rng.normal(size=100)
        checks = {f"good_{i}": (skill + rng.normal(0, 1, 100) > 0).astype(float) for i in range(5)}
        checks["noise"] = (rng.random(100) < 0.5).astype(float)
        result = item_analysis(_checks_frame(checks)).set_index("item")
        flagged += result.loc["noise", "flag"] == "broken"
        low, high = result.loc["noise", ["discrimination_low", "discrimination_high"]]
        assert low < result.loc["noise", "discrimination"] < high
    assert flagged / runs < 0.05


def test_items_on_few_candidates_are_not_flagged_and_undefined_says_so() -> None:
    rng = np.random.default_rng(3)
    skill = rng.normal(size=20)
    checks = {
        "a": (skill > 0).astype(float),
        "b": (skill > 0.5).astype(float),
        "inverted": (skill < 0).astype(float),
        "constant": np.ones(20),
    }
    result = item_analysis(_checks_frame(checks)).set_index("item")
    assert (result["flag"] == "").all() and result["min_n_warning"].all()
    assert "not flagged" in result.loc["inverted", "note"]
    assert np.isnan(result.loc["constant", "discrimination"])
    assert "undefined" in result.loc["constant", "note"]


def test_alpha_of_a_single_candidate_is_undefined_not_zero() -> None:
    frame = pd.DataFrame(
        {"candidate": "only", "interviewer": ["x", "y", "z"], "dimension": "craft", "rating": [2, 3, 3]}
    )
    row = krippendorff_alpha(frame).iloc[0]
    assert np.isnan(row["alpha"]) and np.isnan(row["ci_low"]) and "undefined" in row["note"]
