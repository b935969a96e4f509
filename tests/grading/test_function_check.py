"""The function check kind, pure: its key and parameters, what it sends into the sandbox, and scoring
the per-call results that come back, with messages that never show an expected value or an input."""

from __future__ import annotations

import json
import math

import pytest

from assessments.grading.checks import (
    KeyValueProblem,
    check_key_problems,
    check_param_problems,
    sandbox_request,
    score_check,
    shown_key,
)

CALLS = [
    {"args": [[0.25, 0.75], [0, 1]], "kwargs": {}},
    {"args": [[0.125, 0.625, 0.875], [1, 0, 1]], "kwargs": {"n_bins": 5}},
    {"args": [[0.5], [1]], "kwargs": {"n_bins": 2}},
    {"args": [[0.0, 1.0], [0, 1]], "kwargs": {}},
]
EXPECTED = [0.2513579, 0.4471911, 0.5208333, 0.0036422]
KEY = {"calls": CALLS, "expected": EXPECTED}
PARAMS = {"abs_tol": 1e-6, "call_seconds": 1.0}


def ok(value: object) -> dict:
    return {"state": "ok", "value": value}


def score(results: list, key: dict = KEY, params: dict = PARAMS, points: float = 4):
    return score_check("function", params, results, key, points)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"call_seconds": 0}, "call_seconds"),
        ({"call_seconds": 6}, "call_seconds"),
        ({"call_seconds": "1"}, "call_seconds"),
        ({"abs_tol": -1}, "abs_tol"),
        ({"timeout": 1}, "unknown parameter 'timeout'"),
    ],
)
def test_invalid_parameters_are_reported(params: dict, fragment: str) -> None:
    assert any(fragment in p for p in check_param_problems("function", params))


def test_valid_parameters_have_no_problems() -> None:
    assert check_param_problems("function", {}) == []
    assert check_param_problems("function", {"abs_tol": 1e-9, "rel_tol": 0.01, "call_seconds": 0.5}) == []


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ({"calls": CALLS}, "exactly 'calls' and 'expected'"),
        ({"calls": [], "expected": []}, "1 to 20"),
        ({"calls": CALLS * 6, "expected": EXPECTED * 6}, "1 to 20"),
        ({"calls": [{"args": 1}], "expected": [1.0]}, "call 1"),
        ({"calls": [{"args": [], "kwargs": {"not an identifier": 1}}], "expected": [1.0]}, "call 1"),
        ({"calls": [{"args": [math.nan]}], "expected": [1.0]}, "without NaN"),
        ({"calls": CALLS, "expected": EXPECTED[:3]}, "one output per call"),
        ({"calls": CALLS, "expected": [*EXPECTED[:3], math.inf]}, "output 4 is not a finite number"),
        ({"calls": [{"args": ["x" * 300_000]}], "expected": [1.0]}, "bytes as JSON"),
    ],
)
def test_key_problems_catch_a_generator_returning_a_bad_key(key: dict, fragment: str) -> None:
    problems = check_key_problems("function", PARAMS, key)
    assert any(fragment in p for p in problems), problems


def test_the_calls_may_not_take_longer_than_the_runner_keeps_for_them() -> None:
    key = {"calls": CALLS * 3, "expected": EXPECTED * 3}
    assert check_key_problems("function", {"call_seconds": 1.0}, key) != []
    assert check_key_problems("function", {"call_seconds": 0.5}, key) == []


def test_only_the_calls_are_sent_into_the_sandbox() -> None:
    request = sandbox_request("function", PARAMS, KEY)
    assert request == {"calls": CALLS, "call_seconds": 1.0}
    sent = json.dumps(request)
    assert not [value for value in EXPECTED if repr(value) in sent]
    with pytest.raises(KeyValueProblem):
        sandbox_request("function", PARAMS, {"calls": CALLS})
    assert sandbox_request("number", {}, 0.5) is None


def test_all_cases_right_earn_every_point_within_the_tolerance() -> None:
    outcome = score([ok(v + 5e-7) for v in EXPECTED])
    assert (outcome.earned, outcome.status) == (4, "correct")
    assert "4 of 4 passed" in outcome.message


def test_each_kind_of_failure_is_named_and_points_are_the_share_of_cases_right() -> None:
    results = [ok(EXPECTED[0]), {"state": "error", "reason": "ZeroDivisionError"}, ok("0.52"), {"state": "timeout"}]
    outcome = score(results)
    assert outcome.earned == pytest.approx(1.0) and outcome.status == "partial"
    assert "1 of 4 passed" in outcome.message
    assert "case 2 raised ZeroDivisionError" in outcome.message
    assert "case 3 returned a str instead of a number" in outcome.message
    assert "case 4 was stopped after 1 s" in outcome.message


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (ok(0.9), "returned a wrong value"),
        (ok(math.nan), "returned NaN or infinity"),
        (ok(None), "returned None instead of a number"),
        (ok(True), "returned True/False instead of a number"),
        (ok([0.25]), "returned a list instead of a number"),
        ({"state": "unusable", "reason": "a list of more than 10000 items"}, "returned a value the grader cannot read"),
        ({"state": "kernel-died"}, "made the Python kernel die"),
        ({"state": "not-run"}, "was not run"),
        ({"state": "error", "reason": "SystemExit"}, "raised SystemExit"),
    ],
)
def test_one_failing_case_is_described_in_fixed_words(entry: dict, words: str) -> None:
    outcome = score([ok(v) for v in EXPECTED[:3]] + [entry])
    assert outcome.earned == 3 and f"case 4 {words}" in outcome.message


def test_the_same_failure_on_several_cases_is_said_once() -> None:
    outcome = score([{"state": "error", "reason": "NotImplementedError"}] * 4)
    assert outcome.earned == 0 and outcome.status == "incorrect"
    assert outcome.message.count("NotImplementedError") == 1 and "cases 1, 2, 3, 4 raised" in outcome.message


def test_messages_show_no_expected_value_no_input_and_no_text_the_candidate_chose() -> None:
    # The exception's name and the unusable reason are made by the candidate's code: they could
    # carry the hidden inputs out, so only built-in exception names and fixed words are shown.
    results = [
        {"state": "error", "reason": "Leak_0_25_0_75: [0.25, 0.75]"},
        {"state": "unusable", "reason": "a value of type Leak_0_125_0_625"},
        ok(0.1234),
        ok(-1.0),
    ]
    message = score(results).message
    assert "raised an exception" in message and "Leak" not in message
    for number in EXPECTED + [0.25, 0.75, 0.125, 0.625, 0.875]:
        assert repr(number) not in message and f"{number:g}" not in message


@pytest.mark.parametrize(
    ("want", "got", "right"),
    [
        ([1.0, 2.0], [1.0, 2.0000001], True),
        ([1.0, 2.0], [1.0, 2.1], False),
        ([1.0, 2.0], [1.0], False),
        ({"a": 1.0, "B": 2.0}, {"A ": 1.0, "b": 2.0}, True),
        ({"a": 1.0}, {"a": 1.0, "c": 0.0}, False),
        ("Ship", " ship", True),
        (True, 1, False),
        (None, None, True),
    ],
)
def test_outputs_of_other_shapes_are_compared_item_by_item(want: object, got: object, right: bool) -> None:
    key = {"calls": [{"args": []}], "expected": [want]}
    outcome = score_check("function", {"abs_tol": 1e-6}, [ok(got)], key, 1)
    assert (outcome.earned == 1) is right, outcome.message


@pytest.mark.parametrize(
    "value", [None, "done", [ok(1.0)], [ok(v) for v in EXPECTED] + [ok(1.0)], [{"state": "weird"}] * 4, [1, 2, 3, 4]]
)
def test_a_tampered_result_list_is_invalid_not_a_crash(value: object) -> None:
    outcome = score(value)
    assert outcome.earned == 0 and outcome.status in ("invalid", "missing")


def test_a_mentee_is_shown_the_expected_outputs_without_the_inputs() -> None:
    shown = shown_key("function", PARAMS, KEY)
    assert shown == {f"case {i + 1}": v for i, v in enumerate(EXPECTED)}
