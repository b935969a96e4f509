"""Rater leniency: planted biases are recovered where a naive mean deviation is fooled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr

from assessments.stats import (
    naive_leniency,
    rater_leniency,
    rating_distribution,
    recommendation_shares,
    simulate_panel,
    simulate_scorecards,
)


def _merge(leniency: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Rows with the planted leniency against the report's own reference (`true_effect`)."""
    rows = leniency.merge(truth, on="interviewer", validate="many_to_one")
    reference = (rows["reference_weight"] * rows["leniency"]).groupby(rows["dimension"]).sum()
    rows["true_effect"] = rows["leniency"] - rows["dimension"].map(reference)
    return rows


def test_planted_leniency_is_recovered_within_standard_errors() -> None:
    within, adjusted_error, naive_error, overall_error, overall_naive = [], [], [], [], []
    for seed in range(6):
        ratings, truth = simulate_panel(
            seed,
            n_candidates=400,
            n_interviewers=30,
            raters_per_candidate=3,
            leniency_sd=0.3,
            strength_sd=0.5,
            missing_rate=0.05,
        )
        rows = _merge(rater_leniency(ratings), truth)
        z = (rows["effect"] - rows["true_effect"]) / rows["se"]
        within.extend((z.abs() <= 2).tolist())
        adjusted_error.extend((rows["effect"] - rows["true_effect"]).tolist())
        naive_error.extend((rows["naive_deviation"] - rows["true_effect"]).tolist())
        overall = rows[rows["dimension"] == "overall"]
        overall_error.extend((overall["effect"] - overall["true_effect"]).tolist())
        overall_naive.extend((overall["naive_deviation"] - overall["true_effect"]).tolist())
    assert np.mean(within) >= 0.90
    adjusted_rmse = np.sqrt(np.mean(np.square(adjusted_error)))
    naive_rmse = np.sqrt(np.mean(np.square(naive_error)))
    assert naive_rmse > 2 * adjusted_rmse
    # overall effects pool 8 dimensions: the adjusted error shrinks, the naive one does not
    overall_naive_rmse = np.sqrt(np.mean(np.square(overall_naive)))
    assert overall_naive_rmse > 4 * np.sqrt(np.mean(np.square(overall_error)))


def test_naive_deviation_blames_final_round_interviewers_for_their_strong_candidates() -> None:
    ratings, truth = simulate_panel(4, n_candidates=600, n_interviewers=24, leniency_sd=0.3)
    overall = _merge(rater_leniency(ratings).query("dimension == 'overall'"), truth)
    final = overall[overall["final_round"]]
    naive_bias = (final["naive_deviation"] - final["true_effect"]).mean()
    adjusted_bias = (final["effect"] - final["true_effect"]).mean()
    assert naive_bias > 0.3
    assert abs(adjusted_bias) < 0.1


def _dummy_design_fit(ratings: pd.DataFrame) -> pd.Series:
    """Independent fit: lsqr on the full candidate + sum-to-zero rater dummy design."""
    candidate, _ = pd.factorize(ratings["candidate"])
    rater, raters = pd.factorize(ratings["interviewer"])
    n, k, m = len(ratings), candidate.max() + 1, len(raters)
    # rater r < m-1 gets its own column; the last rater is minus the sum of the others
    last = np.flatnonzero(rater == m - 1)
    rows = np.r_[np.arange(n), np.flatnonzero(rater != m - 1), np.repeat(last, m - 1)]
    cols = np.r_[candidate, k + rater[rater != m - 1], k + np.tile(np.arange(m - 1), last.size)]
    vals = np.r_[np.ones(n), np.ones((rater != m - 1).sum()), -np.ones(last.size * (m - 1))]
    design = sp.csr_matrix((vals, (rows, cols)), shape=(n, k + m - 1))
    solution = lsqr(design, ratings["rating"].to_numpy(float), atol=1e-12, btol=1e-12, iter_lim=20000)[0]
    effects = solution[k:]
    return pd.Series(np.r_[effects, -effects.sum()], index=np.asarray(raters))


def test_effects_equal_least_squares_on_the_full_dummy_design() -> None:
    ratings, _ = simulate_panel(9, n_candidates=120, n_interviewers=10, dimensions=["modeling"])
    ours = rater_leniency(ratings).query("dimension == 'modeling'").set_index("interviewer")
    expected = _dummy_design_fit(ratings).loc[ours.index]
    # least squares identifies differences between raters: compare both centred
    fixed = ours["fixed_effect"] - ours["fixed_effect"].mean()
    np.testing.assert_allclose(fixed, expected - expected.mean(), atol=1e-6)
    # against the reference, the weighted mean of the effects is zero
    assert (ours["fixed_effect"] * ours["reference_weight"]).sum() == pytest.approx(0, abs=1e-9)
    assert ours["reference_weight"].sum() == pytest.approx(1.0)


def test_standard_errors_equal_classical_ols_covariance() -> None:
    ratings, _ = simulate_panel(10, n_candidates=60, n_interviewers=8, dimensions=["craft"])
    candidate, _ = pd.factorize(ratings["candidate"])
    rater, raters = pd.factorize(ratings["interviewer"])
    m = len(raters)
    contrast = np.vstack([np.eye(m - 1), -np.ones(m - 1)])  # sum-to-zero coding
    design = np.hstack([np.eye(candidate.max() + 1)[candidate], contrast[rater]])
    y = ratings["rating"].to_numpy(float)
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ beta
    dof = len(y) - np.linalg.matrix_rank(design)
    cov = residual @ residual / dof * np.linalg.pinv(design.T @ design)
    k = candidate.max() + 1
    rater_cov = contrast @ cov[k:, k:] @ contrast.T
    ours = rater_leniency(ratings).query("dimension == 'craft'").set_index("interviewer")
    ours = ours.loc[np.asarray(raters)]
    # each effect is the contrast e_r - w with the reference weights w
    against_reference = np.eye(m) - ours["reference_weight"].to_numpy()[None, :]
    expected = against_reference @ rater_cov @ against_reference.T
    np.testing.assert_allclose(ours["fixed_se"], np.sqrt(np.diag(expected)))


def test_disconnected_groups_are_centred_separately_and_said_so() -> None:
    frame = pd.DataFrame(
        {
            "candidate": ["a", "a", "b", "b", "c", "c", "d", "d", "e"],
            "interviewer": ["p", "q", "p", "q", "r", "s", "r", "s", "t"],
            "dimension": "modeling",
            "rating": [3, 2, 4, 2, 1, 2, 2, 4, 3],
        }
    )
    rows = rater_leniency(frame).query("dimension == 'modeling'").set_index("interviewer")
    assert rows.loc["p", "fixed_effect"] == pytest.approx(0.75)
    assert rows.loc["p", "fixed_effect"] + rows.loc["q", "fixed_effect"] == pytest.approx(0.0)
    assert rows.loc["r", "fixed_effect"] + rows.loc["s", "fixed_effect"] == pytest.approx(0.0)
    assert rows.loc["r", "effect"] + rows.loc["s", "effect"] == pytest.approx(0.0)
    assert np.isnan(rows.loc["t", "effect"]) and rows.loc["t", "reference_weight"] == 0
    assert "shares no candidate" in rows.loc["t", "note"]
    assert "within its group" in rows.loc["p", "note"]
    assert rows["min_n_warning"].all()


def test_naive_leniency_is_the_mean_deviation() -> None:
    ratings, _ = simulate_panel(3, n_candidates=50, n_interviewers=6, missing_rate=0.1)
    naive = naive_leniency(ratings).query("dimension == 'overall'").set_index("interviewer")
    present = ratings.dropna(subset=["rating"])
    expected = present.groupby("interviewer")["rating"].mean() - present["rating"].mean()
    np.testing.assert_allclose(naive.loc[expected.index, "deviation"], expected)
    assert (naive.loc[expected.index, "n"] == present.groupby("interviewer").size()).all()


def test_rating_distribution_matches_a_crosstab() -> None:
    ratings, _ = simulate_panel(5, n_candidates=80, n_interviewers=7, missing_rate=0.1)
    ours = rating_distribution(ratings, by_dimension=True).set_index(["interviewer", "dimension"])
    present = ratings.dropna(subset=["rating"])
    expected = pd.crosstab([present["interviewer"], present["dimension"]], present["rating"], normalize="index")
    for level in (1, 2, 3, 4):
        column = expected.get(float(level), 0.0)
        np.testing.assert_allclose(ours.loc[expected.index, f"share_{level}"], column)
    overall = rating_distribution(ratings).set_index("interviewer")
    np.testing.assert_allclose(overall["mean"], present.groupby("interviewer")["rating"].mean().loc[overall.index])


def test_recommendation_shares_count_no_decision() -> None:
    ratings, _ = simulate_panel(6, n_candidates=90, n_interviewers=8)
    scorecards = simulate_scorecards(ratings, seed=6, no_decision_rate=0.2)
    ours = recommendation_shares(scorecards).set_index("interviewer")
    expected = pd.crosstab(scorecards["interviewer"], scorecards["recommendation"], normalize="index")
    np.testing.assert_allclose(ours.loc[expected.index, "share_no_decision"], expected["no_decision"])
    share_columns = [c for c in ours.columns if c.startswith("share_")]
    np.testing.assert_allclose(ours[share_columns].sum(axis=1), 1.0)
    assert ours["share_no_decision"].mean() == pytest.approx(0.2, abs=0.06)
