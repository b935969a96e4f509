"""Check kinds: parameter validation, scoring, untrusted values, and messages that never leak the key."""

from __future__ import annotations

import math

import pytest

from assessments.grading.checks import (
    CHECK_CLASSES,
    KeyValueProblem,
    UnknownCheckKind,
    check_key_problems,
    check_param_problems,
    get_check_class,
    score_check,
)


def test_registry_has_the_documented_kinds_and_the_getter_raises_on_others() -> None:
    assert set(CHECK_CLASSES) == {"number", "choice", "boolean", "labels", "table", "function", "predictions"}
    assert get_check_class("labels").kind == "labels"
    with pytest.raises(UnknownCheckKind, match="known kinds"):
        get_check_class("regex")


@pytest.mark.parametrize(
    ("kind", "params", "fragment"),
    [
        ("regex", {}, "unknown check kind"),
        ("number", {"abs_tol": -0.1}, "abs_tol"),
        ("number", {"rel_tol": math.nan}, "rel_tol"),
        ("number", {"tolerance": 0.1}, "unknown parameter 'tolerance'"),
        ("choice", {}, "needs 'options'"),
        ("choice", {"options": []}, "non-empty list"),
        ("choice", {"options": ["Ship", " ship"]}, "distinct"),
        ("boolean", {"options": ["y"]}, "unknown parameter"),
        ("labels", {"false_flag_penalty": -1}, "false_flag_penalty"),
        ("table", {"abs_tol": "0.1"}, "abs_tol"),
        ("table", {"partial_credit": "no"}, "partial_credit must be true or false"),
        ("number", {"partial_credit": False}, "unknown parameter 'partial_credit'"),
    ],
)
def test_invalid_parameters_are_reported(kind: str, params: dict, fragment: str) -> None:
    problems = check_param_problems(kind, params)
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("number", {}),
        ("number", {"abs_tol": 1e-4, "rel_tol": 0.01}),
        ("choice", {"options": ["ship", "hold", "rerun"]}),
        ("boolean", {}),
        ("labels", {"false_flag_penalty": 1}),
        ("table", {"rel_tol": 0.05}),
        ("table", {"abs_tol": 1e-4, "partial_credit": False}),
    ],
)
def test_valid_parameters_have_no_problems(kind: str, params: dict) -> None:
    assert check_param_problems(kind, params) == []


def test_key_problems_catch_a_generator_returning_the_wrong_type() -> None:
    assert check_key_problems("number", {}, "0.3")
    assert check_key_problems("choice", {"options": ["a", "b"]}, "c")
    assert check_key_problems("table", {}, {"a": math.inf})
    assert check_key_problems("labels", {}, ["a", "b"]) == []
    with pytest.raises(KeyValueProblem):
        score_check("boolean", {}, True, "yes", 1)


# --- number --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0.0312, "correct"),  # exact
        (0.0313, "correct"),  # 1e-4 away: inside abs_tol
        (0.0314, "incorrect"),  # 2e-4 away
        (0.0309, "incorrect"),
        (3, "incorrect"),  # an int is a number
    ],
)
def test_number_passes_within_the_absolute_tolerance(value: float, status: str) -> None:
    outcome = score_check("number", {"abs_tol": 1.5e-4}, value, 0.0312, 2)
    assert outcome.status == status
    assert outcome.earned == (2 if status == "correct" else 0)


def test_number_passes_within_either_tolerance() -> None:
    params = {"abs_tol": 0.5, "rel_tol": 0.01}
    assert score_check("number", params, 1000.0 + 9.9, 1000.0, 1).status == "correct"  # 0.99% relative
    assert score_check("number", params, 1000.0 + 10.5, 1000.0, 1).status == "incorrect"
    assert score_check("number", params, 0.4, 0.0, 1).status == "correct"  # relative is useless at 0
    assert score_check("number", {}, 0.1 + 0.2, 0.30000000000000004, 1).status == "correct"
    assert score_check("number", {}, 0.3, 0.30000000000000004, 1).status == "incorrect"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "0.5", [0.5], {"v": 0.5}, 10**400])
def test_number_refuses_values_that_are_not_finite_numbers(value: object) -> None:
    outcome = score_check("number", {"abs_tol": 1}, value, 0.5, 2)
    assert (outcome.status, outcome.earned) == ("invalid", 0)


def test_none_is_a_missing_answer_for_every_kind() -> None:
    for kind, params, expected in [
        ("number", {}, 1.0),
        ("choice", {"options": ["a"]}, "a"),
        ("boolean", {}, True),
        ("labels", {}, ["a"]),
        ("table", {}, {"a": 1.0}),
    ]:
        outcome = score_check(kind, params, None, expected, 3)
        assert (outcome.status, outcome.earned, outcome.possible) == ("missing", 0, 3)


def test_messages_do_not_reveal_the_expected_value() -> None:
    secret = 0.73125
    for value in (0.5, "x", None, math.nan):
        assert "0.73" not in score_check("number", {"abs_tol": 1e-3}, value, secret, 1).message
    outcome = score_check("choice", {"options": ["ship", "hold", "rerun"]}, "ship", "rerun", 1)
    assert "rerun" not in outcome.message
    labels = score_check("labels", {}, ["leak_a"], ["leak_a", "secret_feature"], 1)
    assert "secret_feature" not in labels.message
    table = score_check("table", {"abs_tol": 0.01}, {"a": 1.0}, {"a": 2.5, "hidden": 3.25}, 1)
    assert "2.5" not in table.message and "hidden" not in table.message and "3.25" not in table.message


# --- choice and boolean --------------------------------------------------------------------


def test_choice_ignores_case_and_surrounding_spaces() -> None:
    params = {"options": ["Ship", "Hold"]}
    assert score_check("choice", params, "  hold\n", "Hold", 1).status == "correct"
    assert score_check("choice", params, "SHIP", "Hold", 1).status == "incorrect"


def test_choice_outside_the_options_is_invalid_and_lists_them() -> None:
    outcome = score_check("choice", {"options": ["ship", "hold"]}, "launch", "hold", 1)
    assert outcome.status == "invalid"
    assert "'ship'" in outcome.message and "'hold'" in outcome.message
    assert score_check("choice", {"options": ["ship", "hold"]}, 1, "hold", 1).status == "invalid"


@pytest.mark.parametrize(
    ("value", "status"), [(True, "correct"), (False, "incorrect"), (1, "invalid"), ("True", "invalid")]
)
def test_boolean_accepts_only_true_or_false(value: object, status: str) -> None:
    assert score_check("boolean", {}, value, True, 1).status == status


# --- labels --------------------------------------------------------------------------------


def test_labels_give_credit_by_items_found_minus_false_flags() -> None:
    key = ["leakage", "wrong_split", "srm_ignored", "multiple_comparisons"]
    # 3 of 4 found, 1 false flag at 0.5 of an item: (3 - 0.5) / 4 of 4 points = 2.5
    outcome = score_check("labels", {}, ["Leakage", "wrong_split ", "srm_ignored", "p_hacking"], key, 4)
    assert (outcome.status, outcome.earned) == ("partial", 2.5)
    assert score_check("labels", {}, list(reversed(key)), key, 4).status == "correct"
    assert score_check("labels", {"false_flag_penalty": 1}, ["leakage", "x"], key, 4).earned == 0


def test_labels_never_go_below_zero_and_duplicates_count_once() -> None:
    outcome = score_check("labels", {"false_flag_penalty": 2}, ["a", "b", "c", "d"], ["z"], 1)
    assert (outcome.earned, outcome.status) == (0, "incorrect")
    assert score_check("labels", {}, ["z", "Z", " z"], ["z"], 1).status == "correct"


@pytest.mark.parametrize("value", ["leakage", [1, 2], ["ok", None], ["x"] * 1001, {"leakage": True}])
def test_labels_refuse_values_that_are_not_bounded_lists_of_strings(value: object) -> None:
    assert score_check("labels", {}, value, ["leakage"], 1).status == "invalid"


# --- table ---------------------------------------------------------------------------------


def test_table_gives_credit_by_share_of_entries_right() -> None:
    key = {"mobile": 0.031, "desktop": 0.042, "tablet": 0.027, "tv": 0.011}
    given = {"Mobile": 0.0311, "desktop": 0.05, "tablet": math.nan, "extra": 1.0}
    outcome = score_check("table", {"abs_tol": 5e-4}, given, key, 2)
    assert (outcome.status, outcome.earned) == ("partial", 0.5)  # 1 of 4 right
    assert (
        "'desktop'" in outcome.message
        and "'tablet'" in outcome.message
        and "1 expected entry missing" in outcome.message
    )
    assert score_check("table", {"rel_tol": 0.01}, {k: v * 1.005 for k, v in key.items()}, key, 2).earned == 2


def test_a_table_without_partial_credit_counts_only_when_every_entry_is_right() -> None:
    # An interval is one answer: a symmetric interval that happens to meet the key at one bound earns nothing.
    key = {"low": 0.0412, "high": 0.1337}
    params = {"abs_tol": 1e-4, "partial_credit": False}
    half_right = score_check("table", params, {"low": 0.0412, "high": 0.1322}, key, 2)
    assert (half_right.status, half_right.earned) == ("incorrect", 0.0)
    assert "counts only when every entry is right" in half_right.message
    assert score_check("table", params, {"low": 0.04121, "high": 0.1337}, key, 2).earned == 2
    assert score_check("table", {"abs_tol": 1e-4}, {"low": 0.0412, "high": 0.1322}, key, 2).earned == 1


@pytest.mark.parametrize("value", [None, {}, {"low": None, "high": None}])
def test_an_untouched_dict_stub_is_missing_like_an_unset_scalar(value: object) -> None:
    # The starter notebook's dict stubs hold None for every entry: left as they are, nothing was answered.
    outcome = score_check("table", {}, value, {"low": 0.1, "high": 0.2}, 2)
    assert (outcome.status, outcome.earned) == ("missing", 0.0)
    assert outcome.message.startswith("No answer")
    assert score_check("table", {}, {"low": 0.1, "high": None}, {"low": 0.1, "high": 0.2}, 2).status == "partial"


@pytest.mark.parametrize("value", [[0.1, 0.2], "mobile", {str(i): 1.0 for i in range(10_001)}])
def test_table_refuses_values_that_are_not_bounded_dicts(value: object) -> None:
    assert score_check("table", {}, value, {"a": 1.0}, 1).status == "invalid"
