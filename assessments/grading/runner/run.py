"""In-sandbox runner: execute a notebook cell by cell with nbclient, then read the answer variables.

Runs inside bubblewrap with the sandbox runtime's Python; it imports nothing from the app. Usage:

    python run.py NOTEBOOK --answers a,b --cell-seconds 30 --wall-seconds 120 [--max-answer-bytes N]

It reads a one-line nonce from stdin, then writes exactly one line to its original stdout:
RESULT_PREFIX, the nonce, and a JSON document with per-cell status, error and timing, and the answers.
The notebook never sees the nonce, so a result it prints is not taken for the runner's. The kernel
inherits /dev/null as stdin, stdout and stderr, so nothing it writes to fd 1 or 2 reaches the grader. Everything here
runs as the candidate's sandbox user and can be tampered with by the notebook: the grader parses the
result as untrusted and scores it outside, against a key the sandbox never sees.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time

RESULT_PREFIX = "ASSESS-RESULT "
RUNNER_VERSION = 1
MAX_ERROR_CHARS = 300
# Time kept back from the wall-clock budget to read the answers after the last cell.
ANSWER_RESERVE_SECONDS = 4.0

ANSWERS_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "answers.py")


def _short_error(ename: str, evalue: str) -> str:
    text = f"{ename}: {evalue}" if evalue else ename
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


_REAP_SOURCE = """
import os as __assess_os
try:
    while __assess_os.waitpid(-1, __assess_os.WNOHANG)[0]:
        pass
except ChildProcessError:
    pass
del __assess_os
"""


def _sandbox_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def _live_pids() -> set[int]:
    """Processes in the sandbox that are not zombies (a zombie waits only for its parent to reap it)."""
    live = set()
    for pid in _sandbox_pids():
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            live.add(pid)
    return live


def _stop_strays(kernel_pid: int | None, *, kill: bool = True) -> int:
    """Freeze (then kill, unless ``kill`` is False) every process but the runner's chain and the kernel.

    After a cell times out, what it started (a fork bomb, a runaway pool) would otherwise keep the
    process limit and the CPU for the rest of the run. Signalling the kernel's process group is
    atomic with respect to fork, so stopping the group (and any process that left it) until a pass
    finds nothing new, then killing all but the kernel, ends even a fork bomb.
    """
    import signal

    keep = {1, os.getpid(), os.getppid()} | ({kernel_pid} if kernel_pid else set())
    group = None
    if kernel_pid:
        try:
            group = os.getpgid(kernel_pid)
        except OSError:
            group = None
        if group == os.getpgid(0):
            group = None  # never freeze the runner's own group
    stopped: set[int] = set()
    for _ in range(200):
        if group is not None:
            try:
                os.killpg(group, signal.SIGSTOP)
            except OSError:
                pass
        fresh = _sandbox_pids() - keep - stopped
        if not fresh:
            break
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        stopped |= fresh
    doomed = stopped | (_sandbox_pids() - keep) if kill else set()
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if kernel_pid:
        try:
            os.kill(kernel_pid, signal.SIGCONT)
        except OSError:
            pass
    return len(stopped)


def _sigint_ignored(pid: int) -> bool:
    """True when the process ignores SIGINT: ipykernel's state between cells."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) & 0b10)  # bit 1 is signal 2, SIGINT
    except (OSError, ValueError):
        return True
    return True


def _recover_after_timeout(client, notebook) -> None:  # noqa: ANN001
    """Kill what the timed-out cell left running, then let the kernel reap its dead children."""
    import signal

    import nbformat

    kernel_pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
    if not _stop_strays(kernel_pid, kill=False):
        return
    # A kernel looping on fork() spends most of its time in fork and in Python's at-fork hooks
    # (logging's lock, ...), where a KeyboardInterrupt is swallowed, so one interrupt rarely ends the
    # loop. Its stopped children are kept (not killed) meanwhile: with the process limit reached its
    # forks fail at once, and the interrupts, sent every few ms until ipykernel is back to ignoring
    # SIGINT between cells, soon land in the loop itself.
    if kernel_pid:
        give_up = time.monotonic() + 5.0
        while time.monotonic() < give_up and not _sigint_ignored(kernel_pid):
            try:
                os.kill(kernel_pid, signal.SIGINT)
            except OSError:
                break
            time.sleep(0.005)
        _stop_strays(kernel_pid)
    cell = nbformat.v4.new_code_cell(_REAP_SOURCE)
    notebook.cells.append(cell)
    saved, client.timeout = client.timeout, 2
    try:
        client.execute_cell(cell, len(notebook.cells) - 1, store_history=False)
    except Exception:  # noqa: BLE001 - best effort; the next cells will tell
        pass
    finally:
        client.timeout = saved


def _make_client_class():  # noqa: ANN202 - nbclient is imported late to time it apart
    from nbclient import NotebookClient

    class QuietClient(NotebookClient):
        """A client that keeps no cell outputs: printed output is discarded, not held in memory."""

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201
            return None

    return QuietClient


def _run(args: argparse.Namespace, started: float) -> dict:
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    deadline = started + args.wall_seconds - ANSWER_RESERVE_SECONDS
    with open(args.notebook, encoding="utf-8") as handle:
        notebook = nbformat.from_dict(json.load(handle))
    for cell in notebook.cells:
        # nbformat.writes stores multi-line sources as lists of lines; nbclient wants one string.
        if isinstance(cell.get("source"), list):
            cell.source = "".join(cell.source)
    code_cells = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    cells: list[dict] = []
    result: dict = {"runner": RUNNER_VERSION, "cells": cells, "answers": {}, "failure": None}

    client = _make_client_class()(
        notebook,
        timeout=args.cell_seconds,
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeout", "evalue": ""},
        kernel_name="python3",
        resources={"metadata": {"path": os.getcwd()}},
        startup_timeout=max(5, int(args.wall_seconds / 2)),
        record_timing=False,
        iopub_timeout=2,
        # Nothing of the kernel needs to survive the run; a graceful shutdown costs seconds.
        shutdown_kernel="immediate",
    )
    replies: dict[int, dict] = {}

    def remember(cell, cell_index, execute_reply):  # noqa: ANN001, ANN202
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client.on_cell_executed = remember
    kernel_started = time.monotonic()
    with client.setup_kernel():
        result["kernel_start_seconds"] = round(time.monotonic() - kernel_started, 3)
        executing = time.monotonic()
        kernel_dead = False
        for position, (index, cell) in enumerate(code_cells):
            remaining = deadline - time.monotonic()
            if kernel_dead or remaining < 0.5:
                cells.append({"index": index, "status": "not-run", "error": None, "seconds": 0.0})
                continue
            client.timeout = max(1, int(min(args.cell_seconds, remaining)))
            cell_started = time.monotonic()
            entry = {"index": index, "status": "ok", "error": None, "seconds": 0.0}
            try:
                client.execute_cell(cell, index)
                reply = replies.pop(index, {})
                if reply.get("status") == "error":
                    ename, evalue = str(reply.get("ename", "Error")), str(reply.get("evalue", ""))
                    if ename == "CellTimeout":
                        entry.update(status="timeout", error=f"stopped after {client.timeout} s")
                        _recover_after_timeout(client, notebook)
                    else:
                        entry.update(status="error", error=_short_error(ename, evalue))
            except CellTimeoutError:
                entry.update(status="timeout", error=f"stopped after {client.timeout} s")
                _recover_after_timeout(client, notebook)
            except DeadKernelError:
                entry.update(status="kernel-died", error="the Python kernel died (it crashed or was killed)")
                kernel_dead = True
            entry["seconds"] = round(time.monotonic() - cell_started, 3)
            cells.append(entry)
        result["execution_seconds"] = round(time.monotonic() - executing, 3)
        if kernel_dead:
            result["failure"] = "kernel-died"
        else:
            result["answers"], result["answers_failure"] = _collect_answers(client, notebook, args, started)
    return result


def _collect_answers(client, notebook, args: argparse.Namespace, started: float) -> tuple[dict, str | None]:  # noqa: ANN001
    import nbformat

    names = [name for name in args.answers.split(",") if name]
    if not names:
        return {}, None
    # An unguessable path: the notebook cannot plant a file there in advance.
    path = f"/tmp/.assess-answers-{secrets.token_hex(16)}.json"
    with open(ANSWERS_SOURCE, encoding="utf-8") as handle:
        source = handle.read()
    source += (f"\n__assess_collect({names!r}, {path!r}, 10000, 10000, 6, {int(args.max_answer_bytes)})\n"
               "del __assess_collect\n")
    cell = nbformat.v4.new_code_cell(source)
    notebook.cells.append(cell)
    remaining = started + args.wall_seconds - time.monotonic() - 0.5
    client.timeout = max(1, int(min(ANSWER_RESERVE_SECONDS, remaining)))
    try:
        client.execute_cell(cell, len(notebook.cells) - 1, store_history=False)
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


def main() -> int:
    """Run the notebook given on the command line and print the result line."""
    started = time.monotonic()
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--answers", default="")
    parser.add_argument("--cell-seconds", type=float, default=30)
    parser.add_argument("--wall-seconds", type=float, default=120)
    parser.add_argument("--max-answer-bytes", type=int, default=262144)
    args = parser.parse_args()

    nonce = sys.stdin.readline().strip()
    _make_undumpable()
    # Keep the real stdout for the result only; the kernel and everything it starts read and write /dev/null.
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        result = _run(args, started)
    except Exception as error:  # noqa: BLE001 - the grader needs a result whatever went wrong
        result = {"runner": RUNNER_VERSION, "cells": [], "answers": {}, "failure": f"runner-error: {type(error).__name__}: {str(error)[:200]}"}
    result["runner_seconds"] = round(time.monotonic() - started, 3)
    line = f"{RESULT_PREFIX}{nonce} {json.dumps(result, allow_nan=True)}\n"
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(line)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
