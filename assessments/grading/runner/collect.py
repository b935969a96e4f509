"""Calling the candidate's functions on the grader's hidden inputs, after the last cell and the answers.

Part of the in-sandbox runner: standard library only, nothing from the app. With the run's settings
the grader sends one request per function part, ``{"name", "calls": [{"args", "kwargs"}, ...],
"call_seconds"}``; the expected outputs never come into the sandbox. Each hidden call is its own
command in the kernel (answers.py with ``call_path``) with its own deadline, enforced from here: a call
that outlives it is interrupted, what it started is frozen and killed, and the executor is killed if
it does not come back, exactly like a cell (kernel.py). Nothing inside the candidate's process keeps
time, so a notebook that replaces ``signal.setitimer`` or blocks SIGALRM cannot switch the limit
off. A function that hangs, raises or kills the kernel costs only its own calls, and each part gets
at most the time kept back for it, so the parts after it are still called. What comes back is the
part's answer, ``{"state": "ok", "value": [one entry per call]}``, parsed and judged outside.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import protocol

IDENTIFIER = re.compile(protocol.IDENTIFIER)
MAX_CALLS = protocol.MAX_CALLS
MAX_CALL_SECONDS = protocol.MAX_CALL_SECONDS
CALL_STATES = frozenset(protocol.CALL_STATES)
# Added to each call's limit: sending the command, reading the arguments, writing the result. A
# call that returns within its limit is never cut short by this; one that runs past both is stopped.
CALL_GRACE_SECONDS = 0.25
# For defining answers.py's function in the kernel once, before the first call (IPython takes
# ~0.15 s to run its source; each call's command is then one short line, ~2 ms).
SETUP_SECONDS = 2.0
# Kept for each call beyond that: an interrupted call's reply and the reap step after it (kernel.py).
CALL_RECOVERY_SECONDS = 0.25
# The worst case for kernel.py to get a call back that ignores interrupts (then the executor is
# killed, so this happens at most once per run).
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


def _call_limit(request: dict[str, Any]) -> float:
    """The deadline of one call's command: the part's limit per call and the grace."""
    return request["call_seconds"] + CALL_GRACE_SECONDS


def _part_seconds(request: dict[str, Any]) -> float:
    """What one part's calls may take together (each at its limit, each then recovered)."""
    return len(request["calls"]) * (_call_limit(request) + CALL_RECOVERY_SECONDS)


def reserve_seconds(requests: list[dict[str, Any]]) -> float:
    """Wall-clock time to keep back from the candidate's cells for calling these functions.

    The setup, every part's calls at their limits, one recovery from a call that ignores interrupts,
    and a second of slack, so that the calls still fit after an answers step that used all its time.
    """
    if not requests:
        return 0.0
    return SETUP_SECONDS + sum(_part_seconds(r) for r in requests) + RECOVERY_SECONDS + 1.0


def _read_entry(path: str, max_bytes: int) -> dict | None:
    """The one line a call's command wrote (a call's entry or a function header), or None."""
    try:
        with open(path, encoding="utf-8") as handle:
            entry = json.loads(handle.read(max_bytes + 1024).split("\n", 1)[0])
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def _call_entry(status: str, written: dict | None) -> dict:
    """One call's entry from how its command ended and what it wrote (untrusted: checked here)."""
    if status in ("timeout", "kernel-died"):
        return {"state": status}
    if status != "ok" or written is None:
        return {"state": "error", "reason": "the call could not be completed"}
    if "function" in written:
        # Only the first call may find no function; a later one means the call removed it.
        return {"state": "error", "reason": "NameError"}
    if written.get("state") not in CALL_STATES:
        return {"state": "unusable"}
    return {k: v for k, v in written.items() if k in ("state", "value", "reason")}


def call_functions(
    kernel: Any,
    requests: list[dict[str, Any]],
    answers_path: str,
    max_answer_bytes: int,
    time_left: Callable[[], float],
) -> dict[str, dict[str, Any]]:
    """Each function part's answer, keyed by part id: one kernel command per hidden call (answers.py with call_path)."""
    if not requests:
        return {}
    with open(answers_path, encoding="utf-8") as handle:
        status, _ = kernel.execute(handle.read(), max(0.5, min(SETUP_SECONDS, time_left())))
    if status != "ok":
        return {r["name"]: {"state": "ok", "value": [{"state": "not-run"}] * len(r["calls"])} for r in requests}
    answers = {request["name"]: _call_part(kernel, request, max_answer_bytes, time_left) for request in requests}
    kernel.execute("del __assess_collect", 1.0)
    return answers


def _call_part(kernel: Any, request: dict[str, Any], max_answer_bytes: int, time_left: Callable[[], float]) -> dict:
    """One part's answer: each call its own command and deadline, within the part's share of the time."""
    name, calls = request["name"], request["calls"]
    per_call_bytes = max(1024, max_answer_bytes // len(calls))
    limit = _call_limit(request)
    part_ends = time.monotonic() + _part_seconds(request)
    entries: list[dict] = []
    for index, call in enumerate(calls):
        if kernel.dead or part_ends - time.monotonic() < limit or time_left() < limit + RECOVERY_SECONDS:
            break
        # Unguessable paths: the notebook cannot plant files there in advance. The arguments go in
        # by file, so the command itself stays one short line whatever their size.
        token = secrets.token_hex(16)
        call_path, path = f"/tmp/.assess-call-{token}.json", f"/tmp/.assess-called-{token}.json"
        try:
            _write_new(call_path, json.dumps(call).encode())
        except OSError:
            break  # /tmp is full (the notebook filled it): the rest are not run
        command = f"__assess_collect([{name!r}], {path!r}, 10000, 10000, 6, {per_call_bytes}, {call_path!r})\n"
        status, _ = kernel.execute(command, limit)
        written = _read_entry(path, per_call_bytes)
        for used in (call_path, path):
            try:
                os.unlink(used)
            except OSError:
                pass
        if index == 0 and status == "ok" and written is not None and "function" in written:
            if written["function"] == "undefined":
                return {"state": "undefined"}
            return {"state": "unusable", "reason": "not a function"}
        entries.append(_call_entry(status, written))
    return {"state": "ok", "value": entries + [{"state": "not-run"}] * (len(calls) - len(entries))}


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
