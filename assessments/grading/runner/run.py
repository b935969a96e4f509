"""In-sandbox runner: execute a notebook cell by cell in an IPython shell, then read the answer variables.

Runs inside bubblewrap with the sandbox runtime's Python; it imports nothing from the app. Usage:

    python run.py NOTEBOOK --answers a,b --cell-seconds 30 --wall-seconds 120 [--max-answer-bytes N]
    python run.py --warm --preload numpy,pandas [--warm-idle-seconds 600] [--max-input-bytes N]

It reads a one-line nonce from stdin, and a second line with the hidden calls of function parts (a
JSON list, see collect.py; they are made after the last cell and the answers), then writes exactly
one line to its original stdout: RESULT_PREFIX, the nonce, and a JSON document with per-cell status,
error and timing, and the answers.
The notebook never sees the nonce, so a result it prints is not taken for the runner's. The cells
run in a separate process, the kernel (executor.py, driven through kernel.py), whose stdin, stdout and
stderr are /dev/null, so nothing it writes to fd 1 or 2 reaches the grader. Everything here
runs as the candidate's sandbox user and can be tampered with by the notebook: the grader parses the
result as untrusted and scores it outside, against a key the sandbox never sees.

With --warm it starts the kernel and imports the preload modules in an empty working folder, writes
WARM_READY to stdout, then waits (at most the idle cap) for the submission on stdin: the nonce, the
run's settings and the files, which it writes into the working folder before running as above. The
wall-clock limit counts from that moment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time

MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Time kept back from the wall-clock budget to read the answers after the last cell; function parts
# add their own reserve on top (collect.reserve_seconds: their calls' limits plus one recovery).
ANSWER_RESERVE_SECONDS = 4.0

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
ANSWERS_SOURCE = os.path.join(RUNNER_DIR, "answers.py")
# Run with -I, so the script's folder is not on sys.path; it is read-only inside the sandbox.
sys.path.insert(0, RUNNER_DIR)
from collect import call_functions, function_requests, reserve_seconds  # noqa: E402
from handover import receive_submission  # noqa: E402
from kernel import Kernel  # noqa: E402
from protocol import PROTOCOL_VERSION, RESULT_PREFIX, WARM_READY  # noqa: E402


def _load_cells(path: str) -> list[tuple[int, str]]:
    """(index, source) of every code cell of the notebook the grader wrote (plain JSON, sources joined)."""
    with open(path, encoding="utf-8") as handle:
        notebook = json.load(handle)
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append((index, "".join(source) if isinstance(source, list) else str(source)))
    return cells


def _run(args: argparse.Namespace, started: float, emit) -> None:  # noqa: ANN001
    """Cold path: start the kernel, run the notebook named on the command line, emit the result."""
    result: dict = {"runner": PROTOCOL_VERSION, "cells": [], "answers": {}, "failure": None}
    cells = _load_cells(args.notebook)
    args.functions = function_requests(json.loads(args.functions_json or "[]"))
    kernel = Kernel([], args.wall_seconds / 2)
    try:
        result["kernel_start_seconds"] = round(kernel.start_seconds, 3)
        _execute(kernel, cells, args, started, result)
        # Before the kernel is killed: the grader stops waiting once it has the result line.
        emit(result, started)
    finally:
        kernel.kill()


def _execute(
    kernel: Kernel, cells: list[tuple[int, str]], args: argparse.Namespace, started: float, result: dict
) -> None:
    """Run every code cell in the kernel, one after another whatever each does, then read the answers."""
    deadline = started + args.wall_seconds - ANSWER_RESERVE_SECONDS - reserve_seconds(args.functions)
    executing = time.monotonic()
    for index, source in cells:
        remaining = deadline - time.monotonic()
        if kernel.dead or remaining < 0.5:
            result["cells"].append({"index": index, "status": "not-run", "error": None, "seconds": 0.0})
            continue
        limit = min(args.cell_seconds, remaining)
        cell_started = time.monotonic()
        status, error = kernel.execute(source, limit)
        if status == "timeout" and kernel.dead:
            status, error = (
                "kernel-died",
                f"stopped after {limit:.0f} s; it ignored the interrupt, so its kernel was ended",
            )
        elif status == "timeout":
            error = f"stopped after {limit:.0f} s"
        elif status == "kernel-died":
            error = "the Python kernel died (it crashed or was killed)"
        result["cells"].append(
            {"index": index, "status": status, "error": error, "seconds": round(time.monotonic() - cell_started, 3)}
        )
    result["execution_seconds"] = round(time.monotonic() - executing, 3)
    if kernel.dead:
        result["failure"] = "kernel-died"
    else:
        answers, result["answers_failure"] = _collect_answers(kernel, args, started)
        # After the answers, so a function that hangs or kills the kernel costs only its own part.
        called = call_functions(
            kernel,
            args.functions,
            ANSWERS_SOURCE,
            args.max_answer_bytes,
            lambda: started + args.wall_seconds - time.monotonic() - 0.5,
        )
        result["answers"] = {**answers, **called} if isinstance(answers, dict) else answers


def _collect_answers(kernel: Kernel, args: argparse.Namespace, started: float) -> tuple[dict, str | None]:
    names = [name for name in args.answers.split(",") if name]
    if not names:
        return {}, None
    # An unguessable path: the notebook cannot plant a file there in advance.
    path = f"/tmp/.assess-answers-{secrets.token_hex(16)}.json"
    with open(ANSWERS_SOURCE, encoding="utf-8") as handle:
        source = handle.read()
    source += (
        f"\n__assess_collect({names!r}, {path!r}, 10000, 10000, 6, {int(args.max_answer_bytes)})\n"
        "del __assess_collect\n"
    )
    remaining = started + args.wall_seconds - time.monotonic() - 0.5
    status, error = kernel.execute(source, max(0.5, min(ANSWER_RESERVE_SECONDS, remaining)))
    if status != "ok":
        return {}, f"{status}: {error}" if error else status
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(len(names) * (args.max_answer_bytes + 200) + 1024)
        return json.loads(text), None
    except Exception as error:  # noqa: BLE001 - any failure here is reported, not raised
        return {}, f"{type(error).__name__}: {str(error)[:200]}"


def _make_undumpable() -> None:
    """Hide this process's memory and file descriptors (the nonce, the result pipe) from the kernel.

    The kernel runs as the same uid; without this it could read /proc/<runner>/mem or write to
    /proc/<runner>/fd/N. A non-dumpable process's /proc entries belong to root.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


# --- warm mode: start the kernel and import the usual libraries before the submission arrives ----


def _warm(args: argparse.Namespace, result_fd: int, submission_fd: int, emit) -> None:  # noqa: ANN001
    """Start the kernel, import the preload modules in it, say so, then run the submission when it comes."""
    preload = [name for name in args.preload.split(",") if MODULE_NAME.match(name)]
    kernel = Kernel(preload, args.warm_startup_seconds)
    try:
        os.write(result_fd, WARM_READY.encode())
        emit.nonce = receive_submission(submission_fd, args)
        os.close(submission_fd)
        started = time.monotonic()
        result: dict = {"runner": PROTOCOL_VERSION, "cells": [], "answers": {}, "failure": None}
        try:
            cells = _load_cells(args.notebook)
            result["kernel_start_seconds"] = round(time.monotonic() - started, 3)
            _execute(kernel, cells, args, started, result)
        except Exception as error:  # noqa: BLE001 - the grader needs a result whatever went wrong
            result = _runner_error(error)
        emit(result, started)
    finally:
        kernel.kill()


def serve_forked(
    result_fd: int, submission_fd: int, runner_dir: str, startup_seconds: float, max_input_bytes: int
) -> int:
    """The fork path (template.py, isolate.py): warm mode in a child of the template, already isolated.

    The kernel is forked from this process (kernel.executor_starter) BEFORE the submission is read
    from submission_fd (the warm handover's format, in a memory file), so the nonce and the hidden
    calls are never in the candidate's memory; the runner's modules are at runner_dir.
    """
    global ANSWERS_SOURCE
    ANSWERS_SOURCE = os.path.join(runner_dir, "answers.py")
    started = time.monotonic()
    args = argparse.Namespace(
        preload="",
        warm_idle_seconds=60.0,
        warm_startup_seconds=startup_seconds,
        max_input_bytes=max_input_bytes,
    )
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    emit = _Emitter(result_fd, None)
    try:
        _warm(args, result_fd, submission_fd, emit)
    except Exception as error:  # noqa: BLE001 - the grader needs a result whatever went wrong
        if emit.nonce is None:
            return 3
        emit(_runner_error(error), started)
    return 0


def _runner_error(error: Exception) -> dict:
    return {
        "runner": PROTOCOL_VERSION,
        "cells": [],
        "answers": {},
        "failure": f"runner-error: {type(error).__name__}: {str(error)[:200]}",
    }


def main() -> int:
    """Run the notebook given on the command line (or, with --warm, the one sent later) and print the result line."""
    started = time.monotonic()
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook", nargs="?", default="")
    parser.add_argument("--answers", default="")
    parser.add_argument("--cell-seconds", type=float, default=30)
    parser.add_argument("--wall-seconds", type=float, default=120)
    parser.add_argument("--max-answer-bytes", type=int, default=262144)
    parser.add_argument("--warm", action="store_true", help="start the kernel now, read the submission from stdin")
    parser.add_argument("--preload", default="", help="modules to import in the kernel while warming")
    parser.add_argument("--warm-idle-seconds", type=float, default=600)
    parser.add_argument("--warm-startup-seconds", type=float, default=120)
    parser.add_argument("--max-input-bytes", type=int, default=256 * 1024**2)
    args = parser.parse_args()

    # Before anything else: hide this process's memory and descriptors from the kernel it will start.
    _make_undumpable()
    submission_fd = os.dup(0) if args.warm else -1  # os.dup is not inherited by the kernel
    nonce = "" if args.warm else sys.stdin.readline().strip()
    # Cold: the second line holds the hidden calls of function parts (warm: they come in the header).
    args.functions_json = "" if args.warm else sys.stdin.readline()
    # Keep the real stdout for the result only; the kernel and everything it starts read and write /dev/null.
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    emit = _Emitter(result_fd, nonce)
    try:
        if args.warm:
            _warm(args, result_fd, submission_fd, emit)
        else:
            _run(args, started, emit)
    except Exception as error:  # noqa: BLE001 - the grader needs a result whatever went wrong
        if emit.nonce is None:
            return 3  # warm, and no submission came (idle cap, closed pipe): nothing to report
        emit(_runner_error(error), started)
    return 0


class _Emitter:
    """Writes the one result line to the grader's pipe (once), as soon as the result is known."""

    def __init__(self, fd: int, nonce: str | None) -> None:
        self.fd, self.nonce, self.done = fd, nonce or None, False

    def __call__(self, result: dict, started: float) -> None:
        if self.done or self.nonce is None:
            return
        self.done = True
        result["runner_seconds"] = round(time.monotonic() - started, 3)
        line = f"{RESULT_PREFIX}{self.nonce} {json.dumps(result, allow_nan=True)}\n".encode()
        view = memoryview(line)
        while view:
            view = view[os.write(self.fd, view) :]


if __name__ == "__main__":
    raise SystemExit(main())
