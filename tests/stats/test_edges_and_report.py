"""Edge cases a report page will meet, the simulator's promises, and the one-call report."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from assessments.stats import (
    CalibrationInputError,
    calibration_report,
    icc_by_dimension,
    krippendorff_alpha,
    naive_leniency,
    rater_leniency,
    rating_distribution,
    report_to_json,
    simulate_panel,
    simulate_scorecards,
    top_disagreements,
)

EMPTY_RATINGS = pd.DataFrame(columns=["candidate", "interviewer", "dimension", "rating"])
EMPTY_SCORECARDS = pd.DataFrame(columns=["candidate", "interviewer", "recommendation"])


def test_one_rater_dimension_gives_nan_with_a_reason() -> None:
    frame = pd.DataFrame(
        {"candidate": ["a", "b", "c"], "interviewer": "solo", "dimension": "leadership", "rating": [1, 3, 4]}
    )
    alpha = krippendorff_alpha(frame).iloc[0]
    assert np.isnan(alpha["alpha"]) and alpha["n_units"] == 0
    assert "two or more ratings" in alpha["note"]
    icc = icc_by_dimension(frame)
    assert icc["icc"].isna().all() and icc["min_n_warning"].all()
    leniency = rater_leniency(frame).query("dimension == 'leadership'").iloc[0]
    assert np.isnan(leniency["effect"]) and "shares no candidate" in leniency["note"]


def test_identical_ratings_make_alpha_undefined_not_a_crash() -> None:
    frame = pd.DataFrame(
        {"candidate": ["a", "a", "b", "b", "c", "c"], "interviewer": ["x", "y"] * 3, "dimension": "craft", "rating": 3}
    )
    for level in ("nominal", "ordinal", "interval", "ratio"):
        row = krippendorff_alpha(frame, level=level).iloc[0]
        assert np.isnan(row["alpha"]) and "identical" in row["note"]
    icc = icc_by_dimension(frame)
    assert icc["icc"].isna().all() and "do not vary" in icc["note"].iloc[0]
    agenda = top_disagreements(frame)
    assert (agenda["range"] == 0).all()


def test_missing_ratings_as_pandas_na_are_skipped() -> None:
    frame = pd.DataFrame(
        {
            "candidate": ["a", "a", "b", "b", "c", "c"],
            "interviewer": ["x", "y"] * 3,
            "dimension": "craft",
            "rating": pd.array([1, 2, 3, pd.NA, 4, 4], dtype="Int64"),
        }
    )
    row = krippendorff_alpha(frame, n_boot=50).iloc[0]
    assert row["n_units"] == 2 and row["n_values"] == 4


def test_empty_input_gives_empty_frames_and_a_report() -> None:
    assert krippendorff_alpha(EMPTY_RATINGS).empty
    assert icc_by_dimension(EMPTY_RATINGS).empty
    assert rater_leniency(EMPTY_RATINGS).empty
    assert naive_leniency(EMPTY_RATINGS).empty
    assert rating_distribution(EMPTY_RATINGS).empty
    assert top_disagreements(EMPTY_RATINGS).empty
    report = calibration_report(EMPTY_RATINGS, EMPTY_SCORECARDS)
    assert report.n_ratings == 0 and report.recommendation_shares.empty
    json.dumps(report_to_json(report), allow_nan=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="dimension"), "missing the column"),
        (lambda f: f.assign(rating=[1, 5]), "whole numbers 1..4"),
        (lambda f: f.assign(rating=["good", "bad"]), "numbers"),
        (lambda f: f.assign(interviewer="x"), "twice"),
    ],
)
def test_bad_ratings_frames_raise_a_domain_error(change: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> None:
    frame = pd.DataFrame({"candidate": ["a", "a"], "interviewer": ["x", "y"], "dimension": "craft", "rating": [1, 2]})
    with pytest.raises(CalibrationInputError, match=message):
        krippendorff_alpha(change(frame))


def test_unknown_recommendation_is_refused() -> None:
    ratings, _ = simulate_panel(0, n_candidates=10, n_interviewers=6, raters_per_candidate=2)
    scorecards = simulate_scorecards(ratings, seed=0).assign(recommendation="maybe")
    with pytest.raises(CalibrationInputError, match="no_decision"):
        calibration_report(ratings, scorecards, n_boot=10)


def test_simulated_panels_keep_their_promises() -> None:
    ratings, truth = simulate_panel(12, n_candidates=200, n_interviewers=20, raters_per_candidate=3, missing_rate=0.1)
    present = ratings["rating"].dropna()
    assert set(present.unique()) <= {1.0, 2.0, 3.0, 4.0}
    assert ratings["rating"].isna().mean() == pytest.approx(0.1, abs=0.03)
    assert truth["leniency"].sum() == pytest.approx(0.0)
    panels = ratings.groupby("candidate")["interviewer"].nunique()
    assert (panels == 3).all()
    final = set(truth.loc[truth["final_round"], "interviewer"])
    seen = ratings[ratings["interviewer"].isin(final)]["candidate"].unique()
    assert 0 < len(seen) <= 0.4 * 200 + 1  # only the strongest 40% of candidates
    again, _ = simulate_panel(12, n_candidates=200, n_interviewers=20, raters_per_candidate=3, missing_rate=0.1)
    pd.testing.assert_frame_equal(ratings, again)


def test_report_runs_every_stage_and_serialises() -> None:
    ratings, _ = simulate_panel(2, n_candidates=120, n_interviewers=10)
    scorecards = simulate_scorecards(ratings, seed=2)
    auto = pd.DataFrame({"candidate": ratings["candidate"].unique(), "part": "srm_pvalue", "score_fraction": 0.5})
    auto.loc[::2, "score_fraction"] = 1.0
    report = calibration_report(
        ratings,
        scorecards,
        auto_scores=auto,
        part_dimensions={"srm_pvalue": ["evaluation-rigor"]},
        check_scores=auto.rename(columns={"part": "check"}),
        n_boot=100,
    )
    assert len(report.alpha) == 8 and len(report.icc) == 8 * 6
    assert len(report.generalizability) == 8 and report.generalizability["g_one"].between(0, 1).all()
    assert set(report.leniency["dimension"]) >= {"overall", "craft"}
    assert len(report.auto_agreement) == 1 and len(report.item_analysis) == 1
    assert "leniency" in report.seconds
    payload = report_to_json(report)
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text)["alpha"][0]["dimension"] == "problem-framing"
    assert isinstance(payload["icc"][0]["raters"], list)
