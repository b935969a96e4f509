"""Check kinds: how a candidate's answer is compared with the key (see docs/case-format.md).

Each kind is a small class in ``CHECK_CLASSES``; ``get_check_class`` raises on an unknown kind.
Scoring is pure: an untrusted JSON value, the trusted expected value, the parameters and the
part's points in; a ``CheckOutcome`` out. Messages tell the person what was checked and why it
failed, never the expected value.

Most kinds read a variable the candidate assigns. Two do more: ``function`` has the sandbox call the
candidate's function on hidden inputs (``sandbox_request`` says what to send in), and
``predictions`` scores predictions for a holdout whose labels are generated here and never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessments.content.case import CheckRules
from assessments.grading.checks.base import (
    CORRECT,
    INCORRECT,
    INVALID,
    MISSING,
    PARTIAL,
    STATUSES,
    BaseCheck,
    CheckOutcome,
    KeyValueProblem,
)
from assessments.grading.checks.basic import BooleanCheck, ChoiceCheck, NumberCheck
from assessments.grading.checks.function import FunctionCheck
from assessments.grading.checks.labels import LabelsCheck
from assessments.grading.checks.predictions import PredictionsCheck
from assessments.grading.checks.table import TableCheck

__all__ = [
    "CHECK_CLASSES",
    "CHECK_RULES",
    "CORRECT",
    "INCORRECT",
    "INVALID",
    "MISSING",
    "PARTIAL",
    "STATUSES",
    "BaseCheck",
    "CheckOutcome",
    "KeyValueProblem",
    "UnknownCheckKind",
    "check_key_problems",
    "check_param_problems",
    "get_check_class",
    "sandbox_request",
    "score_check",
    "shown_key",
]

CHECK_CLASSES: dict[str, type[BaseCheck]] = {
    cls.kind: cls
    for cls in (NumberCheck, ChoiceCheck, BooleanCheck, LabelsCheck, TableCheck, FunctionCheck, PredictionsCheck)
}


class UnknownCheckKind(KeyError):
    """A case names a check kind the grader does not have."""

    def __str__(self) -> str:
        return f"unknown check kind {self.args[0]!r}; known kinds: {', '.join(sorted(CHECK_CLASSES))}"


def get_check_class(kind: str) -> type[BaseCheck]:
    """The check class for a kind.

    :raises UnknownCheckKind: when no check has this kind.
    """
    try:
        return CHECK_CLASSES[kind]
    except (KeyError, TypeError):
        raise UnknownCheckKind(kind) from None


def check_param_problems(kind: str, params: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a check's kind and parameters, for the case loader (empty when valid)."""
    try:
        check_class = get_check_class(kind)
    except UnknownCheckKind as error:
        return [str(error)]
    return check_class.param_problems(params)


def check_key_problems(kind: str, params: Mapping[str, Any], expected: Any) -> list[str]:
    """Everything wrong with a generated key value for a check (empty when valid); for case validation."""
    try:
        check_class = get_check_class(kind)
    except UnknownCheckKind as error:
        return [str(error)]
    return check_class.param_problems(params) or check_class.key_problems(expected, params)


# What the case loader asks about checks: content reads checks as plain data and reports these.
CHECK_RULES = CheckRules(param_problems=check_param_problems, key_problems=check_key_problems)


def sandbox_request(kind: str, params: Mapping[str, Any], expected: Any) -> dict[str, Any] | None:
    """What the sandbox must do for this part beyond reading its variable (None: only read it).

    :raises UnknownCheckKind: when the kind is unknown.
    :raises KeyValueProblem: when the key does not fit the kind (a case bug).
    """
    check_class = get_check_class(kind)
    problems = check_class.key_problems(expected, params)
    if problems:
        raise KeyValueProblem("; ".join(problems))
    return check_class.sandbox_request(expected, params)


def shown_key(kind: str, params: Mapping[str, Any], expected: Any) -> Any:
    """The key value as a mentee may see it once the solution is unlocked (long keys are summarised).

    :raises UnknownCheckKind: when the kind is unknown.
    """
    return get_check_class(kind).shown_key(expected, params)


def score_check(kind: str, params: Mapping[str, Any], value: Any, expected: Any, points: float) -> CheckOutcome:
    """Score one untrusted answer value (None = missing) against the trusted key value.

    :raises UnknownCheckKind: when the kind is unknown.
    :raises KeyValueProblem: when the key does not fit the kind (a case bug, not the candidate's).
    """
    return get_check_class(kind).score(value, expected, params, points)
