"""Simulation checks of what the page claims: interval coverage, shrinkage, false headlines.

Seeded and small: each test runs in a second or two. The coverage band is 0.92..0.98 for
nominal 95% intervals over 450 or more intervals from 30 panels (a panel's intervals share
its variance estimates, so the band is wider than the binomial one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assessments.stats import g_study, rater_leniency, simulate_panel
from assessments.stats.leniency import standout_raters
from assessments.stats.ratings import code_ratings

SEVEN = tuple(range(1, 8))
COVERAGE_BAND = (0.92, 0.98)


def _with_truth(leniency: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    rows = leniency.merge(truth, on="interviewer")
    reference = (rows["reference_weight"] * rows["leniency"]).groupby(rows["dimension"])
    rows["true_effect"] = rows["leniency"] - reference.transform("sum")
    return rows


def test_leniency_intervals_cover_planted_leniency_when_raters_have_a_halo() -> None:
    covered: dict[str, list[bool]] = {"overall": [], "overall least squares": [], "dimension": []}
    for seed in range(30):
        # a halo: each scorecard's eight ratings share one impression (SD 0.5 > noise SD 0.4)
        ratings, truth = simulate_panel(
            500 + seed,
            n_candidates=150,
            n_interviewers=15,
            dimensions=["a", "b", "c", "d"],
            leniency_sd=0.3,
            noise_sd=0.4,
            halo_sd=0.5,
            strength_sd=0.5,
            centre=4.0,
            scale=(1, 7),
        )
        rows = _with_truth(rater_leniency(code_ratings(ratings, levels=SEVEN)), truth)
        overall = rows[rows["dimension"] == "overall"]
        dimension = rows[rows["dimension"] != "overall"]
        covered["overall"] += list((overall["effect"] - overall["true_effect"]).abs() <= 1.96 * overall["se"])
        covered["overall least squares"] += list(
            (overall["fixed_effect"] - overall["true_effect"]).abs() <= 1.96 * overall["fixed_se"]
        )
        covered["dimension"] += list((dimension["effect"] - dimension["true_effect"]).abs() <= 1.96 * dimension["se"])
    for name, hits in covered.items():
        assert COVERAGE_BAND[0] <= np.mean(hits) <= COVERAGE_BAND[1], (name, np.mean(hits))


def _guest(ratings: pd.DataFrame, candidates: list[str], level: float) -> pd.DataFrame:
    """A guest interviewer who saw `candidates` once each and rated every dimension `level`."""
    dimensions = ratings["dimension"].unique()
    rows = [
        {"candidate": c, "interviewer": "guest", "dimension": d, "rating": level}
        for c in candidates
        for d in dimensions
    ]
    return pd.concat([ratings, pd.DataFrame(rows)], ignore_index=True)


def test_one_low_data_guest_neither_moves_the_regulars_nor_heads_the_report() -> None:
    ratings, truth = simulate_panel(
        21, n_candidates=240, n_interviewers=15, leniency_sd=0.3, halo_sd=0.4, final_round_share=0.0
    )
    before = rater_leniency(ratings).query("dimension == 'overall'").set_index("interviewer")
    with_guest = _guest(ratings, [ratings["candidate"].iloc[0]], 4.0)
    after = rater_leniency(with_guest).query("dimension == 'overall'").set_index("interviewer")
    regulars = before.index
    shift = (after.loc[regulars, "effect"] - before.loc[regulars, "effect"]).abs()
    assert (shift < 0.2 * before["se"]).all()
    # the guest is shrunk: its one generous scorecard is not read as the panel's most lenient
    guest = after.loc["guest"]
    assert abs(guest["effect"]) < 0.75 * abs(guest["fixed_effect"])
    assert guest["reference_weight"] < 0.01 and guest["min_n_warning"]
    top, _ = standout_raters(rater_leniency(with_guest))
    assert top is None or top["interviewer"] != "guest"
    # the regulars' planted leniency is still recovered
    rows = _with_truth(rater_leniency(with_guest).query("interviewer != 'guest'"), truth)
    overall = rows[rows["dimension"] == "overall"]
    assert np.corrcoef(overall["effect"], overall["true_effect"])[0, 1] > 0.95


def test_three_regulars_and_a_guest_keep_their_own_leniency() -> None:
    # three regulars rate 40 candidates; a guest rates one candidate 4 where the others gave 1
    rng = np.random.default_rng(5)
    planted = {"ana": 0.5, "bo": 0.0, "cy": -0.5}
    rows = []
    for c in range(40):
        strength = rng.normal(2.5, 0.6)
        for name, lenient in planted.items():
            level = np.clip(np.rint(strength + lenient + rng.normal(0, 0.3)), 1, 4)
            rows.append({"candidate": f"c{c}", "interviewer": name, "dimension": "x", "rating": level})
    ratings = _guest(pd.DataFrame(rows), ["c0"], 4.0)
    overall = rater_leniency(ratings).query("dimension == 'overall'").set_index("interviewer")
    regular = overall.loc[list(planted)]
    # against the plain average of four raters the guest would pull all three down together
    assert regular["effect"].tolist() == sorted(regular["effect"].tolist(), reverse=True)
    assert abs((regular["effect"] * regular["reference_weight"]).sum()) < 0.05
    assert regular.loc["ana", "effect"] - regular.loc["cy", "effect"] > 0.8


def test_null_panels_rarely_name_a_rater() -> None:
    named, panels = 0, 80
    for seed in range(panels):
        ratings, _ = simulate_panel(
            900 + seed, n_candidates=100, n_interviewers=12, dimensions=["a", "b"], leniency_sd=0.0, halo_sd=0.4
        )
        top, bottom = standout_raters(rater_leniency(ratings))
        named += top is not None or bottom is not None
    assert named / panels < 0.10


def test_g_intervals_cover_the_reliability_of_a_rotating_panel() -> None:
    # 150 candidates each meet 3 of 12 interviewers; components on a fine scale so rounding
    # hardly adds error: candidate SD 6, interviewer SD 3, residual SD 5
    components = np.array([36.0, 9.0, 25.0 + 1 / 12])
    one = components[0] / components.sum()
    panel = components[0] / (components[0] + (components[1] + components[2]) / 3)
    hits_one = hits_panel = 0
    panels = 120
    for seed in range(panels):
        ratings, _ = simulate_panel(
            2000 + seed,
            n_candidates=150,
            n_interviewers=12,
            raters_per_candidate=3,
            dimensions=["x"],
            leniency_sd=3.0,
            noise_sd=5.0,
            strength_sd=6.0,
            dimension_sd=0.0,
            centre=50.0,
            scale=(1, 100),
            final_round_share=0.0,
        )
        row = g_study(code_ratings(ratings, levels=tuple(range(1, 101))), n_boot=200, seed=seed).iloc[0]
        hits_one += row["g_one_low"] <= one <= row["g_one_high"]
        hits_panel += row["g_panel_low"] <= panel <= row["g_panel_high"]
    assert 0.90 <= hits_one / panels <= 0.99
    assert 0.90 <= hits_panel / panels <= 0.99
