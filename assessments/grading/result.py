"""The runner's result, parsed as untrusted input: size-capped, known keys only, bounded depth and length.

Everything here came out of the sandbox, where the candidate's code could have tampered with it. A
result that breaks any rule is refused whole (``RunnerResultInvalid``); values are returned as plain
JSON types for the checks to judge.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from assessments.grading.runner import protocol
from assessments.grading.runner.protocol import (
    MAX_CELLS,
    MAX_MESSAGE_CHARS,
    MAX_TEXT_CHARS,
    MAX_VALUE_DEPTH,
    MAX_VALUE_NODES,
    PROTOCOL_VERSION,
)

RESULT_PREFIX = protocol.RESULT_PREFIX.encode()
CELL_STATUSES = frozenset(protocol.CELL_STATUSES)
ANSWER_STATES = frozenset(protocol.ANSWER_STATES)

_TOP_KEYS = frozenset(
    {
        "runner",
        "cells",
        "answers",
        "failure",
        "answers_failure",
        "kernel_start_seconds",
        "execution_seconds",
        "runner_seconds",
    }
)
_CELL_KEYS = frozenset({"index", "status", "error", "seconds"})


class RunnerResultInvalid(ValueError):
    """The sandbox's output is missing, forged or malformed."""


@dataclass(frozen=True)
class CellRun:
    """How one code cell ran inside the sandbox."""

    index: int
    status: str
    error: str | None
    seconds: float


@dataclass(frozen=True)
class AnswerRead:
    """One answer variable as read from the kernel: its state, its plain value, or why it is unusable."""

    state: str
    value: Any = None
    reason: str | None = None


@dataclass(frozen=True)
class RunnerResult:
    """The parsed result of one sandboxed run."""

    cells: tuple[CellRun, ...]
    answers: dict[str, AnswerRead]
    failure: str | None
    answers_failure: str | None
    kernel_start_seconds: float
    execution_seconds: float
    runner_seconds: float


def _reject_constant(name: str) -> float:
    # NaN and infinities are kept (the checks refuse them with a clear message); nothing else is.
    return float(name)


def _bounded_value(value: Any, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise RunnerResultInvalid("answer values hold too many items")
    if depth > MAX_VALUE_DEPTH:
        raise RunnerResultInvalid("answer value nested too deeply")
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise RunnerResultInvalid("answer text too long")
    elif isinstance(value, list):
        for item in value:
            _bounded_value(item, depth + 1, budget)
    elif isinstance(value, dict):
        for key, item in value.items():
            if len(key) > MAX_TEXT_CHARS:
                raise RunnerResultInvalid("answer key too long")
            _bounded_value(item, depth + 1, budget)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise RunnerResultInvalid("answer value of an unknown type")


def _number(document: dict[str, Any], key: str) -> float:
    value = document.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise RunnerResultInvalid(f"{key} is not a duration")
    return float(value)


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RunnerResultInvalid(f"{what} is not text")
    return value[:MAX_MESSAGE_CHARS]


def _cells(raw: Any, code_cells: Collection[int]) -> tuple[CellRun, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_CELLS:
        raise RunnerResultInvalid("cells is not a bounded list")
    seen: dict[int, CellRun] = {}
    for entry in raw:
        if not isinstance(entry, dict) or set(entry) - _CELL_KEYS:
            raise RunnerResultInvalid("a cell entry has unknown keys")
        index, status, seconds = entry.get("index"), entry.get("status"), entry.get("seconds", 0.0)
        if isinstance(index, bool) or not isinstance(index, int) or index not in code_cells or index in seen:
            raise RunnerResultInvalid("a cell entry names no code cell of the notebook")
        if status not in CELL_STATUSES:
            raise RunnerResultInvalid("a cell entry has an unknown status")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise RunnerResultInvalid("a cell entry has no valid timing")
        seen[index] = CellRun(index, status, _text(entry.get("error"), "a cell error"), float(seconds))
    return tuple(seen.get(i) or CellRun(i, "not-run", None, 0.0) for i in sorted(code_cells))


def _answers(raw: Any, names: Collection[str]) -> dict[str, AnswerRead]:
    if not isinstance(raw, dict):
        raise RunnerResultInvalid("answers is not an object")
    if set(raw) - set(names):
        raise RunnerResultInvalid("answers hold names that were not asked for")
    budget = [MAX_VALUE_NODES]
    answers = {}
    for name, entry in raw.items():
        if (
            not isinstance(entry, dict)
            or entry.get("state") not in ANSWER_STATES
            or set(entry) - {"state", "value", "reason"}
        ):
            raise RunnerResultInvalid(f"answer {name!r} is malformed")
        value = entry.get("value")
        _bounded_value(value, 0, budget)
        answers[name] = AnswerRead(entry["state"], value, _text(entry.get("reason"), "an answer reason"))
    return answers


def parse_runner_output(
    output: bytes, nonce: str, *, code_cells: Collection[int], answer_names: Collection[str], max_bytes: int
) -> RunnerResult:
    """The runner's result from the sandbox's raw output: exactly one line carrying this run's nonce.

    :raises RunnerResultInvalid: when there is no such line or it breaks any rule.
    """
    if len(output) > max_bytes:
        raise RunnerResultInvalid("output exceeds the cap")
    marker = RESULT_PREFIX + nonce.encode() + b" "
    lines = [line for line in output.split(b"\n") if line.startswith(marker)]
    if len(lines) != 1:
        raise RunnerResultInvalid("no result line" if not lines else "more than one result line")
    try:
        document = json.loads(lines[0][len(marker) :].decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RunnerResultInvalid(f"result is not JSON: {type(error).__name__}") from None
    if not isinstance(document, dict) or set(document) - _TOP_KEYS or document.get("runner") != PROTOCOL_VERSION:
        raise RunnerResultInvalid("result has unknown keys or version")
    return RunnerResult(
        cells=_cells(document.get("cells", []), set(code_cells)),
        answers=_answers(document.get("answers", {}), answer_names),
        failure=_text(document.get("failure"), "failure"),
        answers_failure=_text(document.get("answers_failure"), "answers_failure"),
        kernel_start_seconds=_number(document, "kernel_start_seconds"),
        execution_seconds=_number(document, "execution_seconds"),
        runner_seconds=_number(document, "runner_seconds"),
    )
