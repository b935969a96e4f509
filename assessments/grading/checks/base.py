"""What every check kind shares: statuses, the outcome, bounds on untrusted values and the base class."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

CORRECT = "correct"
PARTIAL = "partial"
INCORRECT = "incorrect"
MISSING = "missing"
INVALID = "invalid"
STATUSES = (CORRECT, PARTIAL, INCORRECT, MISSING, INVALID)

# Bounds on untrusted values: a real answer is far below these, an attack is far above.
MAX_LIST_ITEMS = 1_000
MAX_TABLE_KEYS = 10_000
MAX_STRING_CHARS = 10_000


class KeyValueProblem(ValueError):
    """The answer key computed by a case's generator does not fit the part's check kind (a case bug)."""


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check: points earned out of possible, a status and a message for the person."""

    earned: float
    possible: float
    status: str
    message: str


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool (True must not pass as 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_float(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a finite number."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def normalise_text(value: str) -> str:
    """Text as compared by the checks: stripped and case-folded."""
    return value.strip().casefold()


def tolerance_words(abs_tol: float, rel_tol: float) -> str:
    """How a tolerance reads in a message, e.g. "within 0.001 or within 0.01 relative (1%)"."""
    if abs_tol == 0 and rel_tol == 0:
        return "exactly"
    parts = []
    if abs_tol:
        parts.append(f"within {abs_tol:g}")
    if rel_tol:
        parts.append(f"within {rel_tol:.4g} relative ({rel_tol * 100:.4g}%)")
    return " or ".join(parts)


def within(value: float, expected: float, abs_tol: float, rel_tol: float) -> bool:
    """True when value is within the absolute or the relative tolerance of expected."""
    difference = abs(value - expected)
    return difference <= abs_tol or difference <= rel_tol * abs(expected)


def tolerances(params: Mapping[str, Any]) -> tuple[float, float]:
    """The (abs_tol, rel_tol) of validated parameters, 0 when absent."""
    return float(params.get("abs_tol", 0)), float(params.get("rel_tol", 0))


def tolerance_problems(params: Mapping[str, Any]) -> list[str]:
    """Negative or non-finite abs_tol / rel_tol."""
    problems = []
    for name in ("abs_tol", "rel_tol"):
        if name in params:
            value = finite_float(params[name])
            if value is None or value < 0:
                problems.append(f"{name} must be a finite number >= 0, got {params[name]!r}")
    return problems


def outcome(points: float, fraction: float, message: str) -> CheckOutcome:
    """Points for a fraction of the part (clamped to [0, 1]) with the status that fraction implies."""
    fraction = min(1.0, max(0.0, fraction))
    if fraction >= 1.0:
        status = CORRECT
    elif fraction > 0.0:
        status = PARTIAL
    else:
        status = INCORRECT
    return CheckOutcome(earned=round(points * fraction, 6), possible=points, status=status, message=message)


def invalid(points: float, message: str) -> CheckOutcome:
    """No points: the answer is not of the kind the question asks for."""
    return CheckOutcome(earned=0.0, possible=points, status=INVALID, message=message)


def describe(value: Any) -> str:
    """A short, safe description of an untrusted value for a message."""
    if isinstance(value, str):
        return repr(value[:60] + "…") if len(value) > 60 else repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a dict of {len(value)} entries"
    if isinstance(value, bool) or value is None or isinstance(value, int):
        text = repr(value)
        return text if len(text) <= 40 else text[:40] + "…"
    return f"a value of type {type(value).__name__}"


class BaseCheck:
    """A check kind: validates its parameters and scores a candidate's value against the key."""

    kind: ClassVar[str] = ""
    allowed_params: ClassVar[frozenset[str]] = frozenset()
    expects: ClassVar[str] = ""
    # How the candidate provides the answer, for "`x` was never ...": a variable is assigned.
    provided: ClassVar[str] = "assigned"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Everything wrong with these parameters (empty when valid)."""
        return [
            f"unknown parameter {name!r} for check kind {cls.kind!r}"
            + (f" (allowed: {', '.join(sorted(cls.allowed_params))})" if cls.allowed_params else "")
            for name in params
            if name not in cls.allowed_params
        ]

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """Everything wrong with a key value for this kind (empty when valid)."""
        return []

    @classmethod
    def sandbox_request(cls, expected: Any, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """What the sandbox must do beyond reading the variable, taken from the key (None: nothing).

        Whatever this returns is sent into the sandbox, so it must never hold an expected value.
        """
        return None

    @classmethod
    def unusable_message(cls, part_id: str, reason: str | None) -> str:
        """The message for an answer the sandbox could not turn into plain JSON."""
        return (
            f"`{part_id}` holds {reason or 'a value the grader cannot read'}; "
            "assign the kind of value the question asks for."
        )

    @classmethod
    def shown_key(cls, expected: Any, params: Mapping[str, Any]) -> Any:
        """The key value as a mentee may see it once the solution is unlocked."""
        return expected

    @classmethod
    def score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        """Score an untrusted JSON value (None = missing) against the trusted expected value.

        :raises KeyValueProblem: when the expected value does not fit this kind (a case bug).
        """
        problems = cls.key_problems(expected, params)
        if problems:
            raise KeyValueProblem("; ".join(problems))
        if value is None:
            return CheckOutcome(
                0.0, points, MISSING, f"No answer: the variable was unset or None; expected {cls.expects}."
            )
        return cls._score(value, expected, params, points)

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        raise NotImplementedError


class ToleranceCheck(BaseCheck):
    """A kind that compares numbers within ``abs_tol`` / ``rel_tol`` (number, table, function)."""

    allowed_params: ClassVar[frozenset[str]] = frozenset({"abs_tol", "rel_tol"})

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Unknown parameters and negative or non-finite tolerances."""
        return super().param_problems(params) + tolerance_problems(params)
