"""Check kinds: how a candidate's answer is compared with the key (see docs/case-format.md).

Each kind is a small class in ``CHECK_CLASSES``; ``get_check_class`` raises on an unknown kind.
Scoring is pure: an untrusted JSON value, the trusted expected value, the parameters and the
part's points in; a ``CheckOutcome`` out. Messages tell the person what was checked and why it
failed, never the expected value.
"""

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


class UnknownCheckKind(KeyError):
    """A case names a check kind the grader does not have."""

    def __str__(self) -> str:
        return f"unknown check kind {self.args[0]!r}; known kinds: {', '.join(sorted(CHECK_CLASSES))}"


class KeyValueProblem(ValueError):
    """The answer key computed by a case's generator does not fit the part's check kind (a case bug)."""


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check: points earned out of possible, a status and a message for the person."""

    earned: float
    possible: float
    status: str
    message: str


def _is_number(value: Any) -> bool:
    # bool is an int subclass; True must not pass as 1.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_float(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a finite number."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _normalise_text(value: str) -> str:
    return value.strip().casefold()


def _tolerance_words(abs_tol: float, rel_tol: float) -> str:
    if abs_tol == 0 and rel_tol == 0:
        return "exactly"
    parts = []
    if abs_tol:
        parts.append(f"within {abs_tol:g}")
    if rel_tol:
        parts.append(f"within {rel_tol:.4g} relative ({rel_tol * 100:.4g}%)")
    return " or ".join(parts)


def _within(value: float, expected: float, abs_tol: float, rel_tol: float) -> bool:
    difference = abs(value - expected)
    return difference <= abs_tol or difference <= rel_tol * abs(expected)


def _tolerance_problems(params: Mapping[str, Any]) -> list[str]:
    problems = []
    for name in ("abs_tol", "rel_tol"):
        if name in params:
            value = _finite_float(params[name])
            if value is None or value < 0:
                problems.append(f"{name} must be a finite number >= 0, got {params[name]!r}")
    return problems


def _outcome(points: float, fraction: float, message: str) -> CheckOutcome:
    fraction = min(1.0, max(0.0, fraction))
    if fraction >= 1.0:
        status = CORRECT
    elif fraction > 0.0:
        status = PARTIAL
    else:
        status = INCORRECT
    return CheckOutcome(earned=round(points * fraction, 6), possible=points, status=status, message=message)


def _invalid(points: float, message: str) -> CheckOutcome:
    return CheckOutcome(earned=0.0, possible=points, status=INVALID, message=message)


def _describe(value: Any) -> str:
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
    def score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        """Score an untrusted JSON value (None = missing) against the trusted expected value.

        :raises KeyValueProblem: when the expected value does not fit this kind (a case bug).
        """
        problems = cls.key_problems(expected, params)
        if problems:
            raise KeyValueProblem("; ".join(problems))
        if value is None:
            return CheckOutcome(0.0, points, MISSING, f"No answer: the variable was unset or None; expected {cls.expects}.")
        return cls._score(value, expected, params, points)

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        raise NotImplementedError


class NumberCheck(BaseCheck):
    """A single number, accepted within an absolute or a relative tolerance."""

    kind = "number"
    allowed_params = frozenset({"abs_tol", "rel_tol"})
    expects = "a number"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Unknown parameters and negative or non-finite tolerances."""
        return super().param_problems(params) + _tolerance_problems(params)

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a finite number."""
        return [] if _finite_float(expected) is not None else [f"number key must be a finite number, got {expected!r}"]

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        abs_tol = float(params.get("abs_tol", 0))
        rel_tol = float(params.get("rel_tol", 0))
        number = _finite_float(value)
        if number is None:
            if _is_number(value):
                return _invalid(points, f"Expected a finite number; got {_describe(value)} (NaN and infinity are not answers).")
            return _invalid(points, f"Expected a number (int or float); got {_describe(value)}.")
        checked = f"Checked as a number, accepted {_tolerance_words(abs_tol, rel_tol)} of the key"
        if _within(number, float(expected), abs_tol, rel_tol):
            return _outcome(points, 1.0, f"{checked}: {number:g} is right.")
        return _outcome(points, 0.0, f"{checked}: {number:g} is outside the tolerance.")


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
            normalised = [_normalise_text(o) for o in options]
            if "" in normalised:
                problems.append("options must not contain an empty string")
            if len(set(normalised)) != len(normalised):
                problems.append("options must be distinct ignoring case and surrounding spaces")
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be one of the options."""
        options = [_normalise_text(o) for o in params.get("options", ())]
        if not isinstance(expected, str) or _normalise_text(expected) not in options:
            return [f"choice key must be one of the options, got {expected!r}"]
        return []

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        options = list(params["options"])
        listed = ", ".join(repr(o) for o in options)
        if not isinstance(value, str) or len(value) > MAX_STRING_CHARS:
            return _invalid(points, f"Expected one of {listed} as a string; got {_describe(value)}.")
        if _normalise_text(value) not in {_normalise_text(o) for o in options}:
            return _invalid(points, f"{_describe(value)} is not one of the options: {listed}.")
        if _normalise_text(value) == _normalise_text(expected):
            return _outcome(points, 1.0, f"Checked your choice among {len(options)} options: {_describe(value)} is right.")
        return _outcome(points, 0.0, f"Checked your choice among {len(options)} options: {_describe(value)} is not the right one.")


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
            return _invalid(points, f"Expected True or False; got {_describe(value)}.")
        if value == expected:
            return _outcome(points, 1.0, f"Checked your True/False answer: {value} is right.")
        return _outcome(points, 0.0, f"Checked your True/False answer: {value} is not right.")


def _label_set(value: Any) -> tuple[set[str] | None, str]:
    """Normalised labels from an untrusted list, or None and the reason it is not one."""
    if not isinstance(value, list):
        return None, f"Expected a list of strings; got {_describe(value)}."
    if len(value) > MAX_LIST_ITEMS:
        return None, f"Expected a list of at most {MAX_LIST_ITEMS} labels; got {len(value)}."
    if not all(isinstance(item, str) and len(item) <= MAX_STRING_CHARS for item in value):
        return None, "Expected every item of the list to be a string (a label)."
    return {_normalise_text(item) for item in value if item.strip()}, ""


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
            penalty = _finite_float(params["false_flag_penalty"])
            if penalty is None or penalty < 0:
                problems.append(f"false_flag_penalty must be a finite number >= 0, got {params['false_flag_penalty']!r}")
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
            return _invalid(points, reason)
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
        return _outcome(points, fraction, "; ".join(words) + ".")


class TableCheck(BaseCheck):
    """A mapping of names to numbers: credit by share of the key's entries within tolerance."""

    kind = "table"
    allowed_params = frozenset({"abs_tol", "rel_tol"})
    expects = "a dict of name -> number"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Unknown parameters and negative or non-finite tolerances."""
        return super().param_problems(params) + _tolerance_problems(params)

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must be a non-empty dict of str -> finite number."""
        if not isinstance(expected, Mapping) or not expected:
            return [f"table key must be a non-empty dict, got {type(expected).__name__}"]
        if not all(isinstance(k, str) and _finite_float(v) is not None for k, v in expected.items()):
            return ["table key must map strings to finite numbers"]
        return []

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        if not isinstance(value, dict):
            return _invalid(points, f"Expected a dict of name -> number; got {_describe(value)}.")
        if len(value) > MAX_TABLE_KEYS:
            return _invalid(points, f"Expected at most {MAX_TABLE_KEYS} entries; got {len(value)}.")
        given: dict[str, Any] = {}
        for name, cell in value.items():
            if not isinstance(name, str) or len(name) > MAX_STRING_CHARS:
                return _invalid(points, "Expected every key of the dict to be a string.")
            given[_normalise_text(name)] = cell
        abs_tol = float(params.get("abs_tol", 0))
        rel_tol = float(params.get("rel_tol", 0))
        right, wrong, not_numbers, absent = 0, [], [], 0
        for name, cell_key in expected.items():
            normalised = _normalise_text(name)
            if normalised not in given or given[normalised] is None:
                absent += 1
                continue
            number = _finite_float(given[normalised])
            if number is None:
                not_numbers.append(name)
            elif _within(number, float(cell_key), abs_tol, rel_tol):
                right += 1
            else:
                wrong.append(name)
        words = [f"Checked {len(expected)} entries, each accepted {_tolerance_words(abs_tol, rel_tol)} of the key: {right} right"]
        if wrong:
            words.append(f"outside the tolerance: {', '.join(map(repr, wrong[:10]))}" + (" …" if len(wrong) > 10 else ""))
        if not_numbers:
            words.append(f"not a finite number: {', '.join(map(repr, not_numbers[:10]))}" + (" …" if len(not_numbers) > 10 else ""))
        if absent:
            words.append(f"{absent} expected entr{'y' if absent == 1 else 'ies'} missing from your dict")
        return _outcome(points, right / len(expected), "; ".join(words) + ".")


CHECK_CLASSES: dict[str, type[BaseCheck]] = {
    cls.kind: cls for cls in (NumberCheck, ChoiceCheck, BooleanCheck, LabelsCheck, TableCheck)
}


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


def score_check(kind: str, params: Mapping[str, Any], value: Any, expected: Any, points: float) -> CheckOutcome:
    """Score one untrusted answer value (None = missing) against the trusted key value.

    :raises UnknownCheckKind: when the kind is unknown.
    :raises KeyValueProblem: when the key does not fit the kind (a case bug, not the candidate's).
    """
    return get_check_class(kind).score(value, expected, params, points)
