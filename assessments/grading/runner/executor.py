"""In-sandbox executor: the candidate's code runs here, one cell per command, in an IPython shell.

Started by kernel.py (for run.py, the supervisor) as its own process and session:

    python -I executor.py COMMAND_FD REPLY_FD [PRELOAD]

It imports IPython's shell (magics, ``display``, the notebook's semantics for the last expression)
and the comma-separated PRELOAD modules, writes a ready line, then runs commands until the command
pipe closes. A command is a 4-byte big-endian length and a JSON object ``{"id": n, "source": ...}``;
each gets one reply line ``{"id": n, "status": "ok"|"error", "error": ...}`` on the reply pipe.
Standard input and output are /dev/null: whatever the cells print is discarded unread.

SIGINT is ignored while waiting for a command and raises KeyboardInterrupt while a cell runs: the
supervisor interrupts a cell that outlives its time limit, and knows the shell is idle again when
the cell's reply arrives. Everything here runs as the candidate and may be tampered with; the
supervisor treats every reply as untrusted, and no key, nonce or result pipe is ever in reach.
"""

from __future__ import annotations

import json
import os
import signal
import sys

MAX_ERROR_CHARS = 300
READY_ID = 0


def _ignore_sigint() -> None:
    """SIGINT off, even when one lands while switching it off."""
    while True:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            return
        except KeyboardInterrupt:
            continue


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_command(fd: int) -> dict | None:
    """The next command, or None when the supervisor closed the pipe (or sent something unreadable)."""
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "big"))
    try:
        command = json.loads(body) if body is not None else None
    except ValueError:
        return None
    return command if isinstance(command, dict) else None


def _drain(fd: int) -> None:
    """Discard whatever is in the command pipe: only the cell that just ran can have put it there.

    The supervisor sends a command only after the previous one's reply, so anything waiting now was
    written by the candidate's code (through /proc/self/fd) and would garble the next command.
    """
    os.set_blocking(fd, False)
    try:
        while os.read(fd, 1 << 16):
            pass
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)


def _reply(fd: int, reply: dict) -> None:
    line = (json.dumps(reply) + "\n").encode()
    view = memoryview(line)
    while view:
        view = view[os.write(fd, view) :]


def _short_error(error: BaseException) -> str:
    name = type(error).__name__
    try:
        detail = str(error)
    except Exception:  # noqa: BLE001 - the candidate's exception may refuse to print itself
        detail = ""
    text = f"{name}: {detail}" if detail else name
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _new_shell():  # noqa: ANN202 - IPython is imported here so that its import is timed with the start
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite history file
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "plain"

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):  # noqa: ANN001, ANN202 - IPython's signature
            """Nothing to start: there is no GUI, and `%matplotlib inline` plots are drawn off-screen."""

    return Shell.instance(config=config)


def _run_cell(shell, source: str) -> BaseException | None:  # noqa: ANN001
    """Run one cell; the error it ended with, if any."""
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        result = shell.run_cell(source, store_history=True)
        error = result.error_before_exec or result.error_in_exec
    except KeyboardInterrupt as interrupted:
        error = interrupted
    except BaseException as failure:  # noqa: BLE001 - the shell itself failed on this cell
        error = failure
    _ignore_sigint()
    return error


def _preload(names: list[str]) -> None:
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a failed preload only means a slower first import in a cell
            pass


def main() -> int:
    """Start the shell, say so, then run commands until the pipe closes."""
    _ignore_sigint()
    command_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    shell = _new_shell()
    _preload([name for name in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if name])
    _reply(reply_fd, {"id": READY_ID, "status": "ready"})
    while True:
        command = _read_command(command_fd)
        if command is None:
            return 0
        error = _run_cell(shell, str(command.get("source", "")))
        _drain(command_fd)
        reply = {
            "id": command.get("id"),
            "status": "ok" if error is None else "error",
            "error": None if error is None else _short_error(error),
        }
        _reply(reply_fd, reply)


if __name__ == "__main__":
    raise SystemExit(main())
