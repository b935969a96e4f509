"""In-sandbox runner: execute a notebook cell by cell with nbclient, then read the answer variables.

Runs inside bubblewrap with the sandbox runtime's Python; it imports nothing from the app. Usage:

    python run.py NOTEBOOK --answers a,b --cell-seconds 30 --wall-seconds 120 [--max-answer-bytes N]
    python run.py --warm --preload numpy,pandas [--warm-idle-seconds 600] [--max-input-bytes N]

It reads a one-line nonce from stdin, then writes exactly one line to its original stdout:
RESULT_PREFIX, the nonce, and a JSON document with per-cell status, error and timing, and the answers.
The notebook never sees the nonce, so a result it prints is not taken for the runner's. The kernel
inherits /dev/null as stdin, stdout and stderr, so nothing it writes to fd 1 or 2 reaches the grader. Everything here
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

RESULT_PREFIX = "ASSESS-RESULT "
WARM_READY = b"ASSESS-WARM\n"
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
RUNNER_VERSION = 1
MAX_ERROR_CHARS = 300
# Time kept back from the wall-clock budget to read the answers after the last cell.
ANSWER_RESERVE_SECONDS = 4.0

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
ANSWERS_SOURCE = os.path.join(RUNNER_DIR, "answers.py")
# Run with -I, so the script's folder is not on sys.path; it is read-only inside the sandbox.
sys.path.insert(0, RUNNER_DIR)
from handover import receive_submission  # noqa: E402


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


def _new_client(notebook, cell_seconds: float, startup_seconds: float):  # noqa: ANN001, ANN202
    return _make_client_class()(
        notebook,
        timeout=max(1, int(cell_seconds)),
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeout", "evalue": ""},
        kernel_name="python3",
        resources={"metadata": {"path": os.getcwd()}},
        startup_timeout=max(5, int(startup_seconds)),
        record_timing=False,
        iopub_timeout=2,
        # Nothing of the kernel needs to survive the run; a graceful shutdown costs seconds.
        shutdown_kernel="immediate",
    )


def _load_notebook(path: str):  # noqa: ANN202
    import nbformat

    with open(path, encoding="utf-8") as handle:
        notebook = nbformat.from_dict(json.load(handle))
    for cell in notebook.cells:
        # nbformat.writes stores multi-line sources as lists of lines; nbclient wants one string.
        if isinstance(cell.get("source"), list):
            cell.source = "".join(cell.source)
    return notebook


def _run(args: argparse.Namespace, started: float, emit) -> None:  # noqa: ANN001
    """Cold path: start the kernel, run the notebook named on the command line, emit the result."""
    result: dict = {"runner": RUNNER_VERSION, "cells": [], "answers": {}, "failure": None}
    notebook = _load_notebook(args.notebook)
    client = _new_client(notebook, args.cell_seconds, args.wall_seconds / 2)
    kernel_started = time.monotonic()
    with client.setup_kernel():
        result["kernel_start_seconds"] = round(time.monotonic() - kernel_started, 3)
        _execute(client, notebook, args, started, result)
        # Before the kernel's shutdown: the grader stops waiting once it has the result line.
        emit(result, started)


def _execute(client, notebook, args: argparse.Namespace, started: float, result: dict) -> None:  # noqa: ANN001
    """Run every code cell of the notebook in the client's kernel, then read the answers into result."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    deadline = started + args.wall_seconds - ANSWER_RESERVE_SECONDS
    client.nb = notebook
    code_cells = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    cells: list[dict] = result["cells"]
    replies: dict[int, dict] = {}

    def remember(cell, cell_index, execute_reply):  # noqa: ANN001, ANN202
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client.on_cell_executed = remember
    executing = time.monotonic()
    kernel_dead = False
    for index, cell in code_cells:
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


# --- warm mode: start the kernel and import the usual libraries before the submission arrives ----

def _warm(args: argparse.Namespace, result_fd: int, submission_fd: int, emit) -> None:  # noqa: ANN001
    """Start the kernel, import the preload modules in it, say so, then run the submission when it comes."""
    import nbformat

    client = _new_client(nbformat.v4.new_notebook(), args.warm_startup_seconds, args.warm_startup_seconds)
    with client.setup_kernel():
        preload = [name for name in args.preload.split(",") if MODULE_NAME.match(name)]
        if preload:
            # Only sys.modules changes: the candidate's namespace and history stay empty.
            cell = nbformat.v4.new_code_cell(
                f"import importlib as __assess_il\nfor __assess_m in {preload!r}:\n    try:\n"
                "        __assess_il.import_module(__assess_m)\n    except Exception:\n        pass\n"
                "del __assess_il, __assess_m\n")
            client.nb.cells.append(cell)
            try:
                client.execute_cell(cell, 0, store_history=False)
            except Exception:  # noqa: BLE001 - a failed preload only means a slower first import
                pass
        os.write(result_fd, WARM_READY)
        emit.nonce = receive_submission(submission_fd, args)
        os.close(submission_fd)
        started = time.monotonic()
        result: dict = {"runner": RUNNER_VERSION, "cells": [], "answers": {}, "failure": None}
        try:
            notebook = _load_notebook(args.notebook)
            result["kernel_start_seconds"] = round(time.monotonic() - started, 3)
            _execute(client, notebook, args, started, result)
        except Exception as error:  # noqa: BLE001 - the grader needs a result whatever went wrong
            result = _runner_error(error)
        emit(result, started)


def _runner_error(error: Exception) -> dict:
    return {"runner": RUNNER_VERSION, "cells": [], "answers": {},
            "failure": f"runner-error: {type(error).__name__}: {str(error)[:200]}"}


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
            view = view[os.write(self.fd, view):]


if __name__ == "__main__":
    raise SystemExit(main())
