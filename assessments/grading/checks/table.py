"""The table check kind: a mapping of names to numbers, with credit by share of entries right."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessments.grading.checks.base import (
    MAX_STRING_CHARS,
    MAX_TABLE_KEYS,
    MISSING,
    CheckOutcome,
    ToleranceCheck,
    describe,
    finite_float,
    invalid,
    normalise_text,
    outcome,
    tolerance_words,
    tolerances,
    within,
)


class TableCheck(ToleranceCheck):
    """A mapping of names to numbers: credit by share of the key's entries within tolerance.

    With ``partial_credit = false`` the entries are one answer (an interval's two bounds): the part
    earns its points only when every entry is right.
    """

    kind = "table"
    allowed_params = ToleranceCheck.allowed_params | {"partial_credit"}
    expects = "a dict of name -> number"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Tolerance problems, and a ``partial_credit`` that is not true or false."""
        problems = super().param_problems(params)
        if "partial_credit" in params and not isinstance(params["partial_credit"], bool):
            problems.append(f"partial_credit must be true or false, got {params['partial_credit']!r}")
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a non-empty dict of str -> finite number."""
        if not isinstance(expected, Mapping) or not expected:
            return [f"table key must be a non-empty dict, got {type(expected).__name__}"]
        if not all(isinstance(k, str) and finite_float(v) is not None for k, v in expected.items()):
            return ["table key must map strings to finite numbers"]
        return []

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        if not isinstance(value, dict):
            return invalid(points, f"Expected a dict of name -> number; got {describe(value)}.")
        if len(value) > MAX_TABLE_KEYS:
            return invalid(points, f"Expected at most {MAX_TABLE_KEYS} entries; got {len(value)}.")
        if all(cell is None for cell in value.values()):
            # The starter's stub ({"control": None, ...}) left as it was is no answer, like an unset scalar.
            return CheckOutcome(
                0.0, points, MISSING, f"No answer: every entry of the dict is still None; expected {cls.expects}."
            )
        given: dict[str, Any] = {}
        for name, cell in value.items():
            if not isinstance(name, str) or len(name) > MAX_STRING_CHARS:
                return invalid(points, "Expected every key of the dict to be a string.")
            given[normalise_text(name)] = cell
        abs_tol, rel_tol = tolerances(params)
        right, wrong, not_numbers, absent = 0, [], [], 0
        for name, cell_key in expected.items():
            normalised = normalise_text(name)
            if normalised not in given or given[normalised] is None:
                absent += 1
                continue
            number = finite_float(given[normalised])
            if number is None:
                not_numbers.append(name)
            elif within(number, float(cell_key), abs_tol, rel_tol):
                right += 1
            else:
                wrong.append(name)
        words = [
            f"Checked {len(expected)} entries, each accepted {tolerance_words(abs_tol, rel_tol)} of the key: {right} right"
        ]
        if wrong:
            words.append(
                f"outside the tolerance: {', '.join(map(repr, wrong[:10]))}" + (" …" if len(wrong) > 10 else "")
            )
        if not_numbers:
            words.append(
                f"not a finite number: {', '.join(map(repr, not_numbers[:10]))}"
                + (" …" if len(not_numbers) > 10 else "")
            )
        if absent:
            words.append(f"{absent} expected entr{'y' if absent == 1 else 'ies'} missing from your dict")
        if not params.get("partial_credit", True) and right < len(expected):
            words.append("this part counts only when every entry is right")
            return outcome(points, 0.0, "; ".join(words) + ".")
        return outcome(points, right / len(expected), "; ".join(words) + ".")
