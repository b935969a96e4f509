"""The labels check with a catalogue: cell flags read leniently, scored by recall minus the false-flag rate."""

from __future__ import annotations

import pytest

from assessments.grading.checks import check_key_problems, check_param_problems, score_check
from assessments.grading.checks.labels import parse_cell_flag

CATALOGUE = ["target-leakage", "random-split-on-time", "peeking", "ignored-srm", "eval-on-train"]
PARAMS = {"catalogue": CATALOGUE}
KEY = ["C7:random-split-on-time", "C12:peeking"]


def _score(flags: object, key: list[str] = KEY) -> tuple[float, str, str]:
    outcome = score_check("labels", PARAMS, flags, key, 10)
    return outcome.earned, outcome.status, outcome.message


@pytest.mark.parametrize(
    "written",
    [
        "C7:random-split-on-time",
        "C7: random-split-on-time",
        "c7:random-split-on-time",
        "  C7 : Random-Split-On-Time ",
        "cell 7 - random_split_on_time",
        "Cell #7: random split on time",
        "[C7] random-split-on-time",
        "7:random-split-on-time",
        "C07 -> random-split-on-time",
        "C7 \u2014 random-split-on-time.",
        '"C7:random-split-on-time"',
    ],
)
def test_a_flag_is_read_whatever_its_spaces_case_separator_and_label_form(written: str) -> None:
    assert parse_cell_flag(written) == ("C7", "random-split-on-time")
    earned, _, _ = _score([written, "C12:peeking"])
    assert earned == 10


@pytest.mark.parametrize("unreadable", ["C7", "C7:", "random-split-on-time", "C:peeking", "seven:peeking", "C7:?"])
def test_an_unreadable_flag_is_named_in_the_feedback_and_not_scored(unreadable: str) -> None:
    assert parse_cell_flag(unreadable) is None
    earned, status, message = _score([unreadable, "C12:peeking"])
    # The readable flag still counts; the unreadable one is neither a find nor a false flag.
    assert earned == 5 and status == "partial"
    assert 'could not read 1 item(s) as "C<n>:<defect-id>"' in message and repr(unreadable) in message


def test_an_id_outside_the_catalogue_is_named_and_counts_as_a_false_flag() -> None:
    earned, _, message = _score([*KEY, "C3:data-snooping"])
    assert earned == pytest.approx(10 * (1 - 1 / 3))
    assert "not ids of the catalogue" in message and "'data-snooping'" in message
    assert "peeking" not in message  # the feedback never names the planted ids


def test_score_is_recall_minus_the_false_flag_rate_over_the_absent_defects() -> None:
    assert _score(KEY)[0] == 10
    assert _score(KEY[:1])[0] == 5
    # Three ids of the catalogue are absent: each false flag costs a third.
    assert _score([*KEY, "C2:target-leakage"])[0] == pytest.approx(10 * 2 / 3)
    assert _score(["C7:random-split-on-time", "C2:target-leakage"])[0] == pytest.approx(10 * (1 / 2 - 1 / 3))
    # The right defect on the wrong cell is a false flag, not a find.
    assert _score(["C8:random-split-on-time", "C12:peeking"])[0] == pytest.approx(10 * (1 / 2 - 1 / 3))
    # Flagging every catalogue id on the planted cells finds everything and flags every absent one.
    everything = [f"C{cell}:{defect}" for cell in (7, 12) for defect in CATALOGUE]
    assert _score(everything)[0] == 0
    assert _score(["C7:random-split-on-time", "c7 : random split on time"])[0] == 5  # one flag, read twice
    assert _score([])[:2] == (0, "incorrect")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("C7:peeking", "Expected a list of strings"), ([1, 2], "string"), (["C1:peeking"] * 1001, "at most")],
)
def test_untrusted_values_that_are_not_a_list_of_strings_are_invalid(value: object, fragment: str) -> None:
    earned, status, message = _score(value)
    assert (earned, status) == (0, "invalid") and fragment in message


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"catalogue": []}, "non-empty list"),
        ({"catalogue": "peeking"}, "non-empty list"),
        ({"catalogue": ["Peeking"]}, "lower-case words joined by hyphens"),
        ({"catalogue": ["peeking"], "false_flag_penalty": 1}, "drop false_flag_penalty"),
    ],
)
def test_a_bad_catalogue_is_reported_to_the_author(params: dict, fragment: str) -> None:
    assert any(fragment in problem for problem in check_param_problems("labels", params))


def test_a_key_naming_an_id_outside_the_catalogue_is_a_case_bug() -> None:
    assert check_key_problems("labels", PARAMS, KEY) == []
    problems = check_key_problems("labels", PARAMS, ["C7:random-split", "C9"])
    assert problems and "'random-split'" in problems[0] and "'C9'" in problems[0]
