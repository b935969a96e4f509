"""The predictions check kind, pure: its metrics against published worked examples and an independent
implementation, points by band, and validation of untrusted predictions; messages never show a label."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score, root_mean_squared_error

from assessments.grading.checks import check_key_problems, check_param_problems, score_check, shown_key
from assessments.grading.checks.metrics import accuracy, rmse, roc_auc

IDS = [f"h{i}" for i in range(8)]
LABELS = [0, 0, 1, 1, 0, 1, 0, 1]
KEY = {"ids": IDS, "labels": LABELS}
AUC = {"metric": "roc_auc", "bands": [[0.9, 1.0], [0.7, 0.5], [0.6, 0.25]]}


# --- the metrics against published worked examples -------------------------------------------


def test_roc_auc_of_the_scikit_learn_documentation_example() -> None:
    # scikit-learn's `auc` docstring: y = [1, 1, 2, 2] (2 positive), scores [0.1, 0.4, 0.35, 0.8] -> 0.75.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_roc_auc_of_hanley_and_mcneil_1982_with_tied_ratings() -> None:
    # Hanley & McNeil (1982), Radiology 143:29-36, Table 1: 109 CT images rated 1-5; 58 normal
    # (33, 6, 6, 11, 2 per rating) and 51 abnormal (3, 2, 2, 11, 33). Area under the ROC curve 0.893.
    normal = [1] * 33 + [2] * 6 + [3] * 6 + [4] * 11 + [5] * 2
    abnormal = [1] * 3 + [2] * 2 + [3] * 2 + [4] * 11 + [5] * 33
    assert roc_auc([0] * 58 + [1] * 51, normal + abnormal) == pytest.approx(0.893, abs=5e-4)


def test_accuracy_and_rmse_of_the_scikit_learn_documentation_examples() -> None:
    # accuracy_score docstring: y_true [0, 1, 2, 3], y_pred [0, 2, 1, 3] -> 0.5.
    assert accuracy([0, 1, 2, 3], [0, 2, 1, 3]) == 0.5
    # root_mean_squared_error docstring: y_true [3, -0.5, 2, 7], y_pred [2.5, 0.0, 2, 8] -> 0.612...
    assert rmse([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) == pytest.approx(math.sqrt(0.375))
    assert f"{rmse([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]):.3f}" == "0.612"


def test_the_metrics_agree_with_scikit_learn_on_random_data_with_ties() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        labels = (rng.random(300) < 0.2).astype(int)
        scores = np.round(rng.random(300) + 0.5 * labels, 1)  # rounding makes many ties
        assert roc_auc(labels.tolist(), scores.tolist()) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        classes = rng.integers(0, 3, 300)
        guesses = rng.integers(0, 3, 300)
        assert accuracy(classes.tolist(), guesses.tolist()) == pytest.approx(accuracy_score(classes, guesses))
        predicted = scores + rng.normal(0, 1, 300)
        assert rmse(scores.tolist(), predicted.tolist()) == pytest.approx(root_mean_squared_error(scores, predicted))


# --- parameters and keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"bands": [[0.8, 1.0]]}, "needs 'metric'"),
        ({"metric": "f1", "bands": [[0.8, 1.0]]}, "needs 'metric'"),
        ({"metric": "roc_auc"}, "needs 'bands'"),
        ({"metric": "roc_auc", "bands": []}, "non-empty list"),
        ({"metric": "roc_auc", "bands": [[0.8, 1.5]]}, "fraction in (0, 1]"),
        ({"metric": "roc_auc", "bands": [[0.7, 0.5], [0.8, 1.0]]}, "fractions must decrease"),
        ({"metric": "roc_auc", "bands": [[0.7, 1.0], [0.8, 0.5]]}, "thresholds must decrease"),
        ({"metric": "rmse", "bands": [[2.0, 1.0], [1.0, 0.5]]}, "thresholds must increase"),
        ({"metric": "roc_auc", "bands": [[0.8, 1.0]], "cutoff": 1}, "unknown parameter"),
    ],
)
def test_invalid_parameters_are_reported(params: dict, fragment: str) -> None:
    problems = check_param_problems("predictions", params)
    assert any(fragment in p for p in problems), problems


def test_valid_parameters_have_no_problems() -> None:
    assert check_param_problems("predictions", AUC) == []
    assert check_param_problems("predictions", {"metric": "rmse", "bands": [[1.0, 1.0], [2.0, 0.5]]}) == []
    assert check_param_problems("predictions", {"metric": "accuracy", "bands": [[0.9, 1.0]]}) == []


@pytest.mark.parametrize(
    ("params", "key", "fragment"),
    [
        (AUC, {"ids": IDS}, "exactly 'ids' and 'labels'"),
        (AUC, {"ids": [], "labels": []}, "1 to 10000"),
        (AUC, {"ids": [str(i) for i in range(10_001)], "labels": [0, 1] * 5000 + [0]}, "1 to 10000"),
        (AUC, {"ids": ["a", "a"], "labels": [0, 1]}, "distinct"),
        (AUC, {"ids": [1, 2], "labels": [0, 1]}, "distinct non-empty strings"),
        (AUC, {"ids": IDS, "labels": LABELS[:-1]}, "one label per id"),
        (AUC, {"ids": IDS, "labels": [2] * 8}, "0 or 1"),
        (AUC, {"ids": IDS, "labels": [1] * 8}, "both classes"),
        ({"metric": "rmse", "bands": [[1, 1]]}, {"ids": ["a"], "labels": [math.inf]}, "finite numbers"),
        ({"metric": "accuracy", "bands": [[1, 1]]}, {"ids": ["a"], "labels": [0.5]}, "class names"),
    ],
)
def test_key_problems_catch_a_generator_returning_a_bad_holdout(params: dict, key: dict, fragment: str) -> None:
    problems = check_key_problems("predictions", params, key)
    assert any(fragment in p for p in problems), problems


# --- scoring ----------------------------------------------------------------------------------


def _scores_with_auc(target_pairs_right: int) -> list[float]:
    """Scores for LABELS whose AUC is target_pairs_right / 16 (4 positives x 4 negatives)."""
    negatives = [i for i, y in enumerate(LABELS) if y == 0]
    positives = [i for i, y in enumerate(LABELS) if y == 1]
    scores = [0.0] * 8
    # Rank every negative at 0..3; each positive beats as many negatives as its share of target pairs.
    for rank, index in enumerate(negatives):
        scores[index] = float(rank)
    left = target_pairs_right
    for index in positives:
        beaten = min(4, left)
        scores[index] = beaten - 0.5
        left -= beaten
    return scores


@pytest.mark.parametrize(
    ("pairs_right", "earned", "status"),
    [(16, 2.0, "correct"), (15, 2.0, "correct"), (12, 1.0, "partial"), (10, 0.5, "partial"), (8, 0.0, "incorrect")],
)
def test_points_come_from_the_first_band_the_metric_reaches(pairs_right: int, earned: float, status: str) -> None:
    scores = _scores_with_auc(pairs_right)
    assert roc_auc(LABELS, scores) == pairs_right / 16
    outcome = score_check("predictions", AUC, scores, KEY, 2)
    assert (outcome.earned, outcome.status) == (earned, status)
    assert f"{pairs_right / 16:.3f}" in outcome.message


def test_lower_is_better_for_rmse() -> None:
    params = {"metric": "rmse", "bands": [[0.5, 1.0], [1.0, 0.5]]}
    key = {"ids": ["a", "b"], "labels": [1.0, 3.0]}
    assert score_check("predictions", params, [1.2, 3.2], key, 2).earned == 2
    assert score_check("predictions", params, [1.8, 3.8], key, 2).earned == 1
    assert score_check("predictions", params, [3.0, 1.0], key, 2).earned == 0


def test_a_dict_keyed_by_id_is_aligned_with_the_holdout_whatever_its_order() -> None:
    scores = _scores_with_auc(16)
    by_id = dict(reversed(list(zip(IDS, scores, strict=True))))
    assert score_check("predictions", AUC, by_id, KEY, 2).earned == 2


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([0.5] * 7, "Expected 8 predictions"),
        ({i: 0.5 for i in IDS[:-1]}, "1 of them are missing"),
        ({**{i: 0.5 for i in IDS}, "h99": 0.5}, "1 of your keys are not holdout ids"),
        ([0.5] * 7 + [math.nan], "not finite numbers"),
        ([0.5] * 7 + [True], "not finite numbers"),
        ([0.5] * 7 + ["0.5"], "not finite numbers"),
        ("0.5", "Expected a list of 8 predictions"),
    ],
)
def test_predictions_that_cannot_be_scored_are_invalid_with_a_reason(value: object, fragment: str) -> None:
    outcome = score_check("predictions", AUC, value, KEY, 2)
    assert outcome.status == "invalid" and outcome.earned == 0
    assert fragment in outcome.message, outcome.message


def test_a_constant_prediction_reaches_no_band() -> None:
    outcome = score_check("predictions", AUC, [0.3] * 8, KEY, 2)
    assert outcome.earned == 0 and "0.500" in outcome.message and "below the last band" in outcome.message


def test_accuracy_compares_class_names_ignoring_case() -> None:
    params = {"metric": "accuracy", "bands": [[0.75, 1.0], [0.5, 0.5]]}
    key = {"ids": ["a", "b", "c", "d"], "labels": ["cat", "dog", "cat", "bird"]}
    assert score_check("predictions", params, ["Cat", "dog ", "cat", "dog"], key, 2).earned == 2
    assert score_check("predictions", params, ["dog", "dog", "cat", "cat"], key, 2).earned == 1


def test_messages_and_the_shown_key_never_list_the_labels() -> None:
    outcome = score_check("predictions", AUC, _scores_with_auc(12), KEY, 2)
    assert "[0, 0, 1" not in outcome.message and "label 1" not in outcome.message
    shown = shown_key("predictions", AUC, KEY)
    assert isinstance(shown, str) and "8 holdout rows" in shown and "0, 1" not in shown
