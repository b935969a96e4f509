"""Adverse impact statistics against published examples and independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assessments.stats.adverse_impact import (
    hedges_g,
    intersections,
    mean_differences,
    rate_table,
    scoring_rate_table,
)


def _people(counts: dict[str, tuple[int, int]], unknown: tuple[int, int] = (0, 0)) -> tuple[pd.Series, pd.Series]:
    """A group label and 0/1 outcome per person from {group: (applicants, selected)}."""
    groups, selected = [], []
    for group, (n, chosen) in [*counts.items(), (None, unknown)]:
        groups += [group] * n
        selected += [1] * chosen + [0] * (n - chosen)
    return pd.Series(groups, dtype=object), pd.Series(selected)


def _fisher_by_hand(a: int, n_a: int, b: int, n_b: int) -> float:
    """Two-sided Fisher p: the hypergeometric probabilities no larger than the observed table's, summed."""
    total, chosen = n_a + n_b, a + b

    def prob(k: int) -> float:
        return math.comb(n_a, k) * math.comb(n_b, chosen - k) / math.comb(total, chosen)

    observed = prob(a)
    support = range(max(0, chosen - n_b), min(chosen, n_a) + 1)
    return sum(prob(k) for k in support if prob(k) <= observed * (1 + 1e-7))


def _z_by_hand(a: int, n_a: int, b: int, n_b: int) -> tuple[float, float]:
    pooled = (a + b) / (n_a + n_b)
    z = (a / n_a - b / n_b) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return z, math.erfc(abs(z) / math.sqrt(2))


def test_uniform_guidelines_question_12_example():
    # Q&A on the Uniform Guidelines (1979), Q. 12: 80 White applicants, 48 hired (60%); 40 Black
    # applicants, 12 hired (30%); 30/60 = 50%, under four-fifths: evidence of adverse impact.
    groups, selected = _people({"White": (80, 48), "Black": (40, 12)})
    table = rate_table(groups, selected)
    rows = table.rows.set_index("group")
    assert table.reference == "White"
    assert rows.loc["White", "rate"] == pytest.approx(0.60)
    assert rows.loc["Black", "rate"] == pytest.approx(0.30)
    assert rows.loc["Black", "impact_ratio"] == pytest.approx(0.50)
    assert bool(rows.loc["Black", "below_four_fifths"]) and not bool(rows.loc["White", "below_four_fifths"])


def test_tests_match_independent_computations_on_a_hand_built_table():
    counts = {"A": (30, 18), "B": (25, 8), "C": (12, 8)}
    groups, selected = _people(counts, unknown=(9, 4))
    table = rate_table(groups, selected)
    rows = table.rows.set_index("group")
    assert table.unknown == 9 and rows["n"].sum() == 67
    assert table.reference == "C"  # 8/12 beats 18/30
    for group in ("A", "B"):
        n, chosen = counts[group]
        assert rows.loc[group, "impact_ratio"] == pytest.approx((chosen / n) / (8 / 12))
        assert rows.loc[group, "fisher_p"] == pytest.approx(_fisher_by_hand(chosen, n, 8, 12), rel=1e-9)
        z, p = _z_by_hand(chosen, n, 8, 12)
        assert rows.loc[group, "z"] == pytest.approx(z, rel=1e-9)
        assert rows.loc[group, "z_p"] == pytest.approx(p, rel=1e-9)
    assert math.isnan(rows.loc["C", "fisher_p"])
    assert bool(rows.loc["B", "below_four_fifths"]) and not bool(rows.loc["A", "below_four_fifths"])


def test_small_categories_are_listed_but_not_compared_when_asked():
    groups, selected = _people({"Big": (100, 40), "Mid": (60, 20), "Tiny": (2, 2)})
    kept = rate_table(groups, selected).rows.set_index("group")
    assert kept.loc["Tiny", "reference"]  # 100% of 2 people is the highest rate when nobody is left out
    cut = rate_table(groups, selected, exclude_small=True)
    rows = cut.rows.set_index("group")
    assert cut.reference == "Big"
    assert bool(rows.loc["Tiny", "excluded"]) and math.isnan(rows.loc["Tiny", "impact_ratio"])
    assert rows.loc["Mid", "impact_ratio"] == pytest.approx((20 / 60) / 0.4)


def test_nobody_or_everybody_selected_has_no_z_test():
    groups, selected = _people({"A": (5, 5), "B": (4, 4)})
    rows = rate_table(groups, selected).rows.set_index("group")
    assert rows.loc["B", "impact_ratio"] == pytest.approx(1.0)
    assert math.isnan(rows.loc["B", "z"]) and rows.loc["B", "fisher_p"] == pytest.approx(1.0)
    nobody = rate_table(*_people({"A": (5, 0), "B": (4, 0)}))
    assert nobody.reference is None and nobody.rows["impact_ratio"].isna().all()


def test_scoring_rate_is_the_share_above_the_median_of_everyone_scored():
    scores = pd.Series([10, 20, 30, 40, 50, 60, 70, 80, 90, np.nan])
    groups = pd.Series(["A", "A", "A", "A", "B", "B", "B", None, "B", "A"], dtype=object)
    table = scoring_rate_table(groups, scores)
    rows = table.rows.set_index("group")
    assert table.cut == 50.0  # median of the nine scores, the unknown person's 80 included
    assert table.unknown == 1
    assert rows.loc["A", "rate"] == 0.0 and rows.loc["B", "rate"] == pytest.approx(3 / 4)
    assert rows.loc["A", "impact_ratio"] == 0.0


def test_hedges_g_matches_borenstein_worked_example():
    # Borenstein et al. (2009), Introduction to Meta-Analysis, ch. 4: means 103 and 100, SDs 5.5 and
    # 4.5, 50 per group: d = 0.5970, V_d = 0.0418, J = 0.9923, g = 0.5924, V_g = 0.0411.
    diff = hedges_g(103.0, 5.5, 50, 100.0, 4.5, 50)
    assert diff.d == pytest.approx(0.5970, abs=5e-5)
    assert diff.g == pytest.approx(0.5924, abs=5e-5)
    assert diff.variance == pytest.approx(0.0411, abs=5e-5)
    assert diff.low == pytest.approx(0.5924 - 1.96 * math.sqrt(0.0411), abs=1e-3)


def test_mean_differences_against_the_largest_group():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.7, 0.1, 40), rng.normal(0.6, 0.12, 15)
    groups = pd.Series(["A"] * 40 + ["B"] * 15 + [None] * 3, dtype=object)
    values = pd.Series(np.concatenate([a, b, [0.1, 0.2, 0.3]]))
    rows = mean_differences(groups, values).set_index("group")
    assert rows.loc["A", "reference"] and math.isnan(rows.loc["A", "g"])
    pooled = math.sqrt((14 * b.var(ddof=1) + 39 * a.var(ddof=1)) / 53)
    expected = (1 - 3 / (4 * 53 - 1)) * (b.mean() - a.mean()) / pooled
    assert rows.loc["B", "g"] == pytest.approx(expected)
    assert rows.loc["B", "low"] < expected < rows.loc["B", "high"]


def test_intersection_is_unknown_when_either_part_is():
    sex = pd.Series(["Woman", None, "Man"], dtype=object)
    race = pd.Series(["Asian", "White", None], dtype=object)
    joined = intersections(sex, race)
    assert joined.iloc[0] == "Woman × Asian" and joined.iloc[1:].isna().all()
