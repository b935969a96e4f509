"""Calling the candidate's functions on the grader's hidden inputs, after the last cell and the answers.

Part of the in-sandbox runner: standard library only, nothing from the app. With the run's settings
the grader sends one request per function part, ``{"name", "calls": [{"args", "kwargs"}, ...],
"call_seconds"}``; the expected outputs never come into the sandbox. Each part is one step in the
kernel (answers.py with ``calls``): one call at a time under a timer, a JSON line per call as it
ends, so a function that hangs, raises or kills the kernel costs only its own calls. What comes back
is the part's answer, ``{"state": "ok", "value": [one entry per call]}``, parsed and judged outside.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import protocol

IDENTIFIER = re.compile(protocol.IDENTIFIER)
MAX_CALLS = protocol.MAX_CALLS
MAX_CALL_SECONDS = protocol.MAX_CALL_SECONDS
CALL_STATES = frozenset(protocol.CALL_STATES)
# Beyond the calls themselves: sending the step, parsing the calls, writing and reading the file.
STEP_OVERHEAD_SECONDS = 1.0
# The worst case for kernel.py to get a step back that outlived its limit (interrupts, then a reap).
RECOVERY_SECONDS = 8.0


def function_requests(raw: Any) -> list[dict[str, Any]]:
    """The function parts to call, checked (the grader is trusted, but a malformed request ends the run).

    :raises ValueError: when the requests are not a list of {"name", "calls", "call_seconds"}.
    """
    if not isinstance(raw, list):
        raise ValueError("function requests must be a list")
    requests = []
    for request in raw:
        if not isinstance(request, dict) or set(request) != {"name", "calls", "call_seconds"}:
            raise ValueError("malformed function request")
        name, calls, seconds = request["name"], request["calls"], request["call_seconds"]
        if (
            not isinstance(name, str)
            or not IDENTIFIER.match(name)
            or not isinstance(calls, list)
            or not 1 <= len(calls) <= MAX_CALLS
            or not all(
                isinstance(c, dict) and isinstance(c.get("args", []), list) and isinstance(c.get("kwargs", {}), dict)
                for c in calls
            )
            or isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not 0 < seconds <= MAX_CALL_SECONDS
        ):
            raise ValueError("malformed function request")
        requests.append({"name": name, "calls": calls, "call_seconds": float(seconds)})
    return requests


def _step_seconds(request: dict[str, Any]) -> float:
    return len(request["calls"]) * request["call_seconds"] + STEP_OVERHEAD_SECONDS


def reserve_seconds(requests: list[dict[str, Any]]) -> float:
    """Wall-clock time to keep back from the candidate's cells for calling these functions.

    With a second of slack, so that the steps still fit after an answers step that used all its time.
    """
    return sum(_step_seconds(r) for r in requests) + RECOVERY_SECONDS + 1.0 if requests else 0.0


def _read_calls(path: str, count: int, max_bytes: int) -> tuple[dict | None, list[dict]]:
    """The header and the call entries the step wrote (as many as parse), or (None, [])."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read(count * (max_bytes + 256) + 1024).split("\n")
    except (OSError, UnicodeDecodeError):
        return None, []
    try:
        header = json.loads(lines[0])
    except ValueError:
        return None, []
    entries = []
    for line in lines[1 : count + 1]:
        try:
            entry = json.loads(line)
        except ValueError:
            break
        if not isinstance(entry, dict) or entry.get("state") not in CALL_STATES:
            entry = {"state": "unusable"}
        entries.append({k: v for k, v in entry.items() if k in ("state", "value", "reason")})
    return (header if isinstance(header, dict) else None), entries


def _padded(entries: list[dict], count: int, step_status: str) -> list[dict]:
    """One entry per call: the call the step was stopped in is marked by how it ended, the rest not run."""
    missing = count - len(entries)
    if missing <= 0:
        return entries[:count]
    stopped = {"timeout": "timeout", "kernel-died": "kernel-died"}.get(step_status, "not-run")
    return entries + [{"state": stopped}] + [{"state": "not-run"}] * (missing - 1)


def call_functions(
    kernel: Any,
    requests: list[dict[str, Any]],
    answers_path: str,
    max_answer_bytes: int,
    time_left: Callable[[], float],
) -> dict[str, dict[str, Any]]:
    """Each function part's answer, keyed by part id, from one kernel step per part (answers.py with calls)."""
    answers: dict[str, dict[str, Any]] = {}
    if not requests:
        return answers
    with open(answers_path, encoding="utf-8") as handle:
        answers_source = handle.read()
    for request in requests:
        name, calls, count = request["name"], request["calls"], len(request["calls"])
        budget = _step_seconds(request)
        if kernel.dead or time_left() < budget + RECOVERY_SECONDS:
            answers[name] = {"state": "ok", "value": _padded([], count, "not-run")}
            continue
        per_call_bytes = max(1024, max_answer_bytes // count)
        # An unguessable path: the notebook cannot plant a file there in advance.
        path = f"/tmp/.assess-calls-{secrets.token_hex(16)}.jsonl"
        source = (
            f"{answers_source}\n__assess_collect([{name!r}], {path!r}, 10000, 10000, 6, {per_call_bytes}, "
            f"__import__('json').loads({json.dumps(calls)!r}), {request['call_seconds']!r})\n"
            "del __assess_collect\n"
        )
        status, _ = kernel.execute(source, budget)
        header, entries = _read_calls(path, count, per_call_bytes)
        function = header.get("function") if header else "ok"
        if function == "undefined":
            answers[name] = {"state": "undefined"}
        elif function == "not-callable":
            answers[name] = {"state": "unusable", "reason": "not a function"}
        else:
            answers[name] = {"state": "ok", "value": _padded(entries, count, status)}
    return answers
