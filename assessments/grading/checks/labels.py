"""The labels check kind: a set of flagged items, with partial credit and a penalty per false flag."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessments.grading.checks.base import (
    MAX_LIST_ITEMS,
    MAX_STRING_CHARS,
    BaseCheck,
    CheckOutcome,
    describe,
    finite_float,
    invalid,
    normalise_text,
    outcome,
)


def _label_set(value: Any) -> tuple[set[str] | None, str]:
    """Normalised labels from an untrusted list, or None and the reason it is not one."""
    if not isinstance(value, list):
        return None, f"Expected a list of strings; got {describe(value)}."
    if len(value) > MAX_LIST_ITEMS:
        return None, f"Expected a list of at most {MAX_LIST_ITEMS} labels; got {len(value)}."
    if not all(isinstance(item, str) and len(item) <= MAX_STRING_CHARS for item in value):
        return None, "Expected every item of the list to be a string (a label)."
    return {normalise_text(item) for item in value if item.strip()}, ""


class LabelsCheck(BaseCheck):
    """A set of flagged items: credit by share of the key's items found, minus a penalty per false flag."""

    kind = "labels"
    allowed_params = frozenset({"false_flag_penalty"})
    expects = "a list of strings"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """``false_flag_penalty`` must be a finite number >= 0 (in units of one item)."""
        problems = super().param_problems(params)
        if "false_flag_penalty" in params:
            penalty = finite_float(params["false_flag_penalty"])
            if penalty is None or penalty < 0:
                problems.append(
                    f"false_flag_penalty must be a finite number >= 0, got {params['false_flag_penalty']!r}"
                )
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a list of strings."""
        labels, reason = _label_set(expected)
        return [] if labels is not None else [f"labels key: {reason}"]

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        flagged, reason = _label_set(value)
        if flagged is None:
            return invalid(points, reason)
        planted, _ = _label_set(expected)
        assert planted is not None
        penalty = float(params.get("false_flag_penalty", 0.5))
        found = flagged & planted
        false_flags = flagged - planted
        if planted:
            fraction = (len(found) - penalty * len(false_flags)) / len(planted)
        else:
            fraction = 1.0 - penalty * len(false_flags)
        words = [f"Checked your {len(flagged)} distinct label(s) against the planted items (case-insensitive)"]
        words.append(f"{len(found)} matched")
        if false_flags:
            words.append(f"{len(false_flags)} matched nothing planted (each costs {penalty:g} of one item)")
        if planted - flagged:
            words.append("some planted items were not flagged")
        return outcome(points, fraction, "; ".join(words) + ".")
