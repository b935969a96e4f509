"""The function check kind: the candidate's function, called in the sandbox on hidden inputs.

The key is ``{"calls": [{"args": [...], "kwargs": {...}}, ...], "expected": [...]}``. Only the calls
go into the sandbox (``sandbox_request``), after the candidate's last cell; there each call runs
under its own time limit and its result comes back as plain JSON, one entry per call. The expected
outputs stay here. Messages say how many hidden cases passed and what kind of problem the others
had, in fixed words: never an expected value, an input, or text the candidate's code chose.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Any

from assessments.grading.checks.base import (
    CheckOutcome,
    ToleranceCheck,
    finite_float,
    invalid,
    is_number,
    normalise_text,
    outcome,
    tolerance_words,
    tolerances,
    within,
)
from assessments.grading.runner.protocol import MAX_CALLS, MAX_CALLS_BYTES

DEFAULT_CALL_SECONDS = 1.0
MAX_CALL_SECONDS = 5.0
# What all calls of one part may take together: the runner keeps this much of the run's wall-clock
# time back from the candidate's cells, so it must stay small.
MAX_FUNCTION_SECONDS = 10.0
MAX_EXPECTED_DEPTH = 4
CALL_STATES = frozenset({"ok", "error", "timeout", "unusable", "not-run", "kernel-died"})
# Exception names a message may quote; any other name could be chosen by the candidate's code.
_NAMED_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
)


def _expected_problem(value: Any, depth: int = 0) -> str | None:
    """Why a key output cannot be compared (None when it can): JSON of finite numbers, text, bools."""
    if depth > MAX_EXPECTED_DEPTH:
        return "nested too deeply"
    if value is None or isinstance(value, (bool, str)):
        return None
    if is_number(value):
        return None if finite_float(value) is not None else "not a finite number"
    if isinstance(value, list):
        return next((p for p in (_expected_problem(item, depth + 1) for item in value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "a dict with keys that are not strings"
        return next((p for p in (_expected_problem(item, depth + 1) for item in value.values()) if p), None)
    return f"of type {type(value).__name__}"


def _calls_problems(calls: Any) -> list[str]:
    if not isinstance(calls, list) or not 1 <= len(calls) <= MAX_CALLS:
        return [f"function key 'calls' must be a list of 1 to {MAX_CALLS} argument sets"]
    for index, call in enumerate(calls):
        if (
            not isinstance(call, dict)
            or set(call) - {"args", "kwargs"}
            or not isinstance(call.get("args", []), list)
            or not isinstance(call.get("kwargs", {}), dict)
            or not all(isinstance(k, str) and k.isidentifier() for k in call.get("kwargs", {}))
        ):
            return [f"function key call {index + 1} must be {{'args': [...], 'kwargs': {{name: value}}}}"]
    try:
        size = len(json.dumps(calls, allow_nan=False))
    except (TypeError, ValueError) as error:
        return [f"function key 'calls' must be plain JSON without NaN ({error})"]
    if size > MAX_CALLS_BYTES:
        return [f"function key 'calls' is {size} bytes as JSON; at most {MAX_CALLS_BYTES}"]
    return []


def _kind_of(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True/False"
    if is_number(value):
        return "a number"
    return {str: "a str", list: "a list", dict: "a dict"}.get(type(value), "a value of another type")


def _mismatch(got: Any, want: Any, abs_tol: float, rel_tol: float) -> str | None:
    """What is wrong with one returned value (None when it matches the expected one)."""
    if is_number(want):
        if not is_number(got):
            return f"returned {_kind_of(got)} instead of a number"
        number = finite_float(got)
        if number is None:
            return "returned NaN or infinity"
        return None if within(number, float(want), abs_tol, rel_tol) else "returned a wrong value"
    if (isinstance(want, (bool, str, list, dict)) or want is None) and _kind_of(got) != _kind_of(want):
        return f"returned {_kind_of(got)} instead of {_kind_of(want)}"
    if isinstance(want, str):
        return None if normalise_text(got) == normalise_text(want) else "returned a wrong value"
    if isinstance(want, list):
        if len(got) != len(want):
            return "returned a list of the wrong length"
        wrong = any(_mismatch(g, w, abs_tol, rel_tol) for g, w in zip(got, want, strict=True))
        return "returned a list with a wrong item" if wrong else None
    if isinstance(want, dict):
        given = {normalise_text(k): v for k, v in got.items() if isinstance(k, str)}
        if set(given) != {normalise_text(k) for k in want}:
            return "returned a dict with other keys than expected"
        wrong = any(_mismatch(given[normalise_text(k)], w, abs_tol, rel_tol) for k, w in want.items())
        return "returned a dict with a wrong entry" if wrong else None
    return None if got == want else "returned a wrong value"


def _call_problem(entry: Mapping[str, Any], want: Any, params: Mapping[str, Any]) -> str | None:
    """What went wrong with one hidden case, in fixed words (None when it passed)."""
    state = entry["state"]
    if state == "ok":
        return _mismatch(entry.get("value"), want, *tolerances(params))
    if state == "error":
        reason = entry.get("reason")
        name = reason.split(":", 1)[0].strip() if isinstance(reason, str) else ""
        return f"raised {name}" if name in _NAMED_EXCEPTIONS else "raised an exception"
    if state == "timeout":
        return f"was stopped after {float(params.get('call_seconds', DEFAULT_CALL_SECONDS)):g} s"
    if state == "unusable":
        return "returned a value the grader cannot read (use numbers, text, lists or dicts of those, not too large)"
    if state == "kernel-died":
        return "made the Python kernel die (for example by using too much memory)"
    return "was not run (an earlier case stopped the kernel or the run was out of time)"


def _plural(problem: str) -> str:
    """The problem said of several cases ("was stopped" -> "were stopped")."""
    return "were " + problem.removeprefix("was ") if problem.startswith("was ") else problem


class FunctionCheck(ToleranceCheck):
    """A function the candidate defines, called on hidden inputs: credit by share of cases right."""

    kind = "function"
    allowed_params = ToleranceCheck.allowed_params | {"call_seconds"}
    expects = "a function"
    provided = "defined"

    @classmethod
    def param_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """Tolerances as for numbers; ``call_seconds`` (the limit per call) in (0, 5]."""
        problems = super().param_problems(params)
        if "call_seconds" in params:
            seconds = finite_float(params["call_seconds"])
            if seconds is None or not 0 < seconds <= MAX_CALL_SECONDS:
                problems.append(
                    f"call_seconds must be a number in (0, {MAX_CALL_SECONDS:g}], got {params['call_seconds']!r}"
                )
        return problems

    @classmethod
    def key_problems(cls, expected: Any, params: Mapping[str, Any]) -> list[str]:
        """The key must hold the calls (plain JSON, bounded) and one comparable output per call."""
        if not isinstance(expected, Mapping) or set(expected) != {"calls", "expected"}:
            return ["function key must be a dict with exactly 'calls' and 'expected'"]
        problems = _calls_problems(expected["calls"])
        if problems:
            return problems
        outputs = expected["expected"]
        if not isinstance(outputs, list) or len(outputs) != len(expected["calls"]):
            return ["function key 'expected' must be a list with one output per call"]
        for index, output in enumerate(outputs):
            problem = _expected_problem(output)
            if problem:
                return [f"function key output {index + 1} is {problem}"]
        seconds = float(params.get("call_seconds", DEFAULT_CALL_SECONDS))
        if len(outputs) * seconds > MAX_FUNCTION_SECONDS:
            return [
                f"{len(outputs)} calls of {seconds:g} s exceed the {MAX_FUNCTION_SECONDS:g} s a function part may take"
            ]
        return []

    @classmethod
    def sandbox_request(cls, expected: Any, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The hidden calls and the time limit per call; never the expected outputs."""
        return {"calls": expected["calls"], "call_seconds": float(params.get("call_seconds", DEFAULT_CALL_SECONDS))}

    @classmethod
    def unusable_message(cls, part_id: str, reason: str | None) -> str:
        """The name holds something that cannot be called (fixed words: the reason came from the sandbox)."""
        return f"`{part_id}` is not a function; define it with `def {part_id}(...):` as the question asks."

    @classmethod
    def shown_key(cls, expected: Any, params: Mapping[str, Any]) -> Any:
        """The expected output of each hidden case, without the (long) inputs."""
        return {f"case {index + 1}": output for index, output in enumerate(expected["expected"])}

    @classmethod
    def _score(cls, value: Any, expected: Any, params: Mapping[str, Any], points: float) -> CheckOutcome:
        wanted = expected["expected"]
        total = len(wanted)
        if (
            not isinstance(value, list)
            or len(value) != total
            or not all(isinstance(e, dict) and e.get("state") in CALL_STATES for e in value)
        ):
            return invalid(points, "The grader could not read the results of calling your function.")
        problems = [_call_problem(entry, want, params) for entry, want in zip(value, wanted, strict=True)]
        failed = [(index, problem) for index, problem in enumerate(problems) if problem]
        abs_tol, rel_tol = tolerances(params)
        seconds = float(params.get("call_seconds", DEFAULT_CALL_SECONDS))
        words = (
            f"Called your function on {total} hidden cases (each limited to {seconds:g} s; numbers accepted "
            f"{tolerance_words(abs_tol, rel_tol)} of the key): {total - len(failed)} of {total} passed"
        )
        cases_by_problem: dict[str, list[str]] = {}
        for index, problem in failed:
            cases_by_problem.setdefault(problem, []).append(str(index + 1))
        details = [
            f"case {cases[0]} {problem}" if len(cases) == 1 else f"cases {', '.join(cases)} {_plural(problem)}"
            for problem, cases in cases_by_problem.items()
        ]
        if details:
            words += "; " + "; ".join(details)
        return outcome(points, (total - len(failed)) / total, words + ".")
