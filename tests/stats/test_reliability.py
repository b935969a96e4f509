"""Inter-rater reliability against published values: Shrout & Fleiss (1979), Krippendorff (2011)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest

from assessments.stats import (
    g_study,
    icc_by_dimension,
    krippendorff_alpha,
    shrout_fleiss_icc,
    simulate_panel,
)
from assessments.stats.alpha import alpha_from_coincidences, unit_coincidences
from assessments.stats.icc import complete_block, weighted_icc
from assessments.stats.ratings import code_ratings

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges, and Table 4's published values.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]
SHROUT_FLEISS_PUBLISHED = {
    "ICC(1,1)": 0.17,
    "ICC(2,1)": 0.29,
    "ICC(3,1)": 0.71,
    "ICC(1,k)": 0.44,
    "ICC(2,k)": 0.62,
    "ICC(3,k)": 0.91,
}

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12
# units with missing values (values 1..5), and the alphas published for it.
NA = np.nan
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3],
    [NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA],
]
KRIPPENDORFF_PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def long_frame(matrix: list[list[float]], dimension: str = "craft") -> pd.DataFrame:
    """Observers x units matrix -> the ratings frame (units are candidates)."""
    rows = [
        {"candidate": f"u{unit}", "interviewer": f"o{observer}", "dimension": dimension, "rating": value}
        for observer, line in enumerate(matrix)
        for unit, value in enumerate(line)
    ]
    return pd.DataFrame(rows)


def test_icc_matches_shrout_fleiss_published_values() -> None:
    result = shrout_fleiss_icc(SHROUT_FLEISS).set_index("form")
    for form, published in SHROUT_FLEISS_PUBLISHED.items():
        assert round(result.loc[form, "icc"], 2) == published, form
    assert (result["n_units"] == 6).all() and (result["n_raters"] == 4).all()


def test_icc_bootstrap_interval_is_seeded_and_brackets_consistent_forms() -> None:
    first = shrout_fleiss_icc(SHROUT_FLEISS, n_boot=500, seed=3)
    again = shrout_fleiss_icc(SHROUT_FLEISS, n_boot=500, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert (first["ci_low"] <= first["ci_high"]).all()
    # ICC(3,1) is high for these judges; a 95% interval on 6 targets is still wide but above 0.3
    assert first.set_index("form").loc["ICC(3,1)", "ci_low"] > 0.3


def test_weighted_icc_equals_icc_of_the_explicitly_resampled_matrix() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.integers(1, 5, size=(25, 3)).astype(float)
    rows, frequency = np.unique(matrix, axis=0, return_counts=True)
    draw = rng.integers(0, len(matrix), size=len(matrix))
    resampled = matrix[draw]
    weights = np.array([[(resampled == row).all(axis=1).sum() for row in rows]], dtype=float)
    expected = shrout_fleiss_icc(resampled)["icc"].to_numpy()
    np.testing.assert_allclose(weighted_icc(rows, weights)[0], expected)
    assert frequency.sum() == len(matrix)


def test_icc_picks_the_complete_block_in_an_incomplete_design() -> None:
    rng = np.random.default_rng(11)
    core = rng.integers(1, 5, size=(40, 3))
    frame = pd.DataFrame(
        [
            {"candidate": f"c{c}", "interviewer": f"core{r}", "dimension": "modeling", "rating": int(core[c, r])}
            for c in range(40)
            for r in range(3)
        ]
    )
    # others rate a few candidates each: they share too few candidates to join the block
    extra = [
        {"candidate": f"c{c}", "interviewer": f"x{c % 7}", "dimension": "modeling", "rating": int(rng.integers(1, 5))}
        for c in range(0, 40, 3)
    ]
    frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    result = icc_by_dimension(frame, n_boot=200).set_index("form")
    expected = shrout_fleiss_icc(core).set_index("form")
    assert set(result.loc["ICC(2,1)", "raters"]) == {"core0", "core1", "core2"}
    assert result.loc["ICC(2,1)", "n_units"] == 40
    np.testing.assert_allclose(result["icc"], expected["icc"])


def test_complete_block_prefers_more_cells() -> None:
    # raters 0,1 share 10 candidates; raters 0,1,2 share 8: 24 cells beat 20
    candidate = np.r_[np.arange(10), np.arange(10), np.arange(8)]
    interviewer = np.r_[np.zeros(10), np.ones(10), np.full(8, 2)].astype(np.int64)
    units, raters = complete_block(candidate, interviewer)
    assert raters.tolist() == [0, 1, 2] and units.tolist() == list(range(8))


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_2011_published_values(level: str) -> None:
    # the example's values run 1..5, so widen the scale; unit 12 has one value and is unpairable
    result = krippendorff_alpha(long_frame(KRIPPENDORFF_2011), level=level, levels=(1, 2, 3, 4, 5), n_boot=300).iloc[0]
    assert round(result["alpha"], 3) == KRIPPENDORFF_PUBLISHED[level]
    assert (result["n_units"], result["n_values"], result["n_raters"]) == (11, 40, 4)
    assert result["ci_low"] <= result["alpha"] <= result["ci_high"]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_bootstrap_coincidences_equal_the_package_on_a_resample(level: str) -> None:
    rng = np.random.default_rng(8)
    matrix = rng.integers(1, 5, size=(4, 60)).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    matrix[1, :30] = matrix[0, :30]  # some agreement so alpha is away from zero
    resample = matrix[:, rng.integers(0, 60, size=60)]
    values = np.arange(1.0, 5.0)
    counts = np.stack([(resample == value).sum(axis=0) for value in values], axis=1)
    counts = counts[counts.sum(axis=1) >= 2]
    ours = alpha_from_coincidences(unit_coincidences(counts).sum(axis=0), values, level)
    assert ours == pytest.approx(krippendorff.alpha(resample, level_of_measurement=level))


def test_alpha_interval_narrows_with_more_candidates() -> None:
    rng = np.random.default_rng(2)

    def panel(n: int) -> pd.DataFrame:
        truth = rng.integers(1, 5, size=n)
        noisy = np.clip(truth[None, :] + rng.integers(-1, 2, size=(3, n)), 1, 4)
        return long_frame(noisy.astype(float).tolist())

    small = krippendorff_alpha(panel(30), n_boot=400).iloc[0]
    large = krippendorff_alpha(panel(600), n_boot=400).iloc[0]
    assert large["ci_high"] - large["ci_low"] < (small["ci_high"] - small["ci_low"]) / 2


def test_g_study_on_a_complete_matrix_equals_icc_2_1_and_2_k() -> None:
    # targets x judges -> judges x targets for long_frame (observers are the rows)
    frame = long_frame(np.asarray(SHROUT_FLEISS, dtype=float).T.tolist())
    row = g_study(code_ratings(frame, levels=tuple(range(1, 11))), n_boot=200).iloc[0]
    assert round(row["g_one"], 2) == SHROUT_FLEISS_PUBLISHED["ICC(2,1)"]
    assert round(row["g_panel"], 2) == SHROUT_FLEISS_PUBLISHED["ICC(2,k)"]
    assert row["panel_size"] == 4 and row["g_one_low"] < row["g_one"] < row["g_one_high"]


def test_g_study_uses_every_rating_of_a_rotating_panel() -> None:
    ratings, _ = simulate_panel(
        4, n_candidates=300, n_interviewers=12, raters_per_candidate=3, dimensions=["x"], final_round_share=0.0
    )
    g = g_study(ratings, n_boot=100).iloc[0]
    assert (g["n_candidates"], g["n_raters"], g["n_ratings"]) == (300, 12, 900)
    icc = icc_by_dimension(ratings, n_boot=0).iloc[0]
    assert icc["n_units"] * icc["n_raters"] < 100  # the complete block: a sliver of the data
    assert 0 < g["g_one"] < g["g_panel"] < 1 and g["panel_size"] == 3
    assert g["g_panel_high"] - g["g_panel_low"] < 0.2


def test_g_study_says_when_it_is_undefined() -> None:
    frame = pd.DataFrame({"candidate": ["a", "b"], "interviewer": ["x", "y"], "dimension": "craft", "rating": [1, 3]})
    row = g_study(frame).iloc[0]
    assert np.isnan(row["g_one"]) and "undefined" in row["note"]
