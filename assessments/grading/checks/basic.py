"""Single-value check kinds: a number, one of a set of options, a yes/no answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessments.grading.checks.base import (
    MAX_STRING_CHARS,
    BaseCheck,
    CheckOutcome,
    ToleranceCheck,
    describe,
    finite_float,
    invalid,
    is_number,
    normalise_text,
    outcome,
    tolerance_words,
    tolerances,
    within,
)


class NumberCheck(ToleranceCheck):
    """A single number, accepted within an absolute or a relative tolerance."""

    kind = "number"
    expects = "a number"

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a finite number."""
        return [] if finite_float(expected) is not None else [f"number key must be a finite number, got {expected!r}"]

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        abs_tol, rel_tol = tolerances(params)
        number = finite_float(value)
        if number is None:
            if is_number(value):
                return invalid(
                    points, f"Expected a finite number; got {describe(value)} (NaN and infinity are not answers)."
                )
            return invalid(points, f"Expected a number (int or float); got {describe(value)}.")
        checked = f"Checked as a number, accepted {tolerance_words(abs_tol, rel_tol)} of the key"
        if within(number, float(expected), abs_tol, rel_tol):
            return outcome(points, 1.0, f"{checked}: {number:g} is right.")
        return outcome(points, 0.0, f"{checked}: {number:g} is outside the tolerance.")


class ChoiceCheck(BaseCheck):
    """One of a fixed set of options, compared case-insensitively after stripping spaces."""

    kind = "choice"
    allowed_params = frozenset({"options"})
    expects = "one of the listed options (a string)"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """``options`` is required: a non-empty list of distinct strings."""
        problems = super().param_problems(params)
        options = params.get("options")
        if options is None:
            problems.append("choice check needs 'options': the list of allowed strings")
        elif not isinstance(options, (list, tuple)) or not options or not all(isinstance(o, str) for o in options):
            problems.append(f"options must be a non-empty list of strings, got {options!r}")
        else:
            normalised = [normalise_text(o) for o in options]
            if "" in normalised:
                problems.append("options must not contain an empty string")
            if len(set(normalised)) != len(normalised):
                problems.append("options must be distinct ignoring case and surrounding spaces")
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be one of the options."""
        options = [normalise_text(o) for o in params.get("options", ())]
        if not isinstance(expected, str) or normalise_text(expected) not in options:
            return [f"choice key must be one of the options, got {expected!r}"]
        return []

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        options = list(params["options"])
        listed = ", ".join(repr(o) for o in options)
        if not isinstance(value, str) or len(value) > MAX_STRING_CHARS:
            return invalid(points, f"Expected one of {listed} as a string; got {describe(value)}.")
        if normalise_text(value) not in {normalise_text(o) for o in options}:
            return invalid(points, f"{describe(value)} is not one of the options: {listed}.")
        if normalise_text(value) == normalise_text(expected):
            return outcome(
                points, 1.0, f"Checked your choice among {len(options)} options: {describe(value)} is right."
            )
        return outcome(
            points, 0.0, f"Checked your choice among {len(options)} options: {describe(value)} is not the right one."
        )


class BooleanCheck(BaseCheck):
    """A yes/no answer: True or False."""

    kind = "boolean"
    expects = "True or False"

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a bool."""
        return [] if isinstance(expected, bool) else [f"boolean key must be true or false, got {expected!r}"]

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        if not isinstance(value, bool):
            return invalid(points, f"Expected True or False; got {describe(value)}.")
        if value == expected:
            return outcome(points, 1.0, f"Checked your True/False answer: {value} is right.")
        return outcome(points, 0.0, f"Checked your True/False answer: {value} is not right.")
