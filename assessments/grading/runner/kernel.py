"""The supervisor's side of the executor (executor.py): start it, run a cell with a time limit, recover.

Runs in run.py's process inside the sandbox and imports nothing but the standard library. The
executor is the candidate's process: its replies are read as untrusted lines (bounded, malformed
ones skipped, matched by command id), and a cell that outlives its limit is interrupted, its stray
processes frozen and killed, and the executor killed if it does not come back.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

EXECUTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "executor.py")
MAX_REPLY_LINE = 8192
# After a timeout: how long to wait for the interrupted cell's reply before freezing strays, and in all.
INTERRUPT_GRACE_SECONDS = 0.5
INTERRUPT_GIVE_UP_SECONDS = 5.0
# Set by a runner forked from the template (isolate.py): it starts the executor by forking itself,
# which already holds the imports, instead of executing a new Python.
executor_starter = None

_REAP_SOURCE = """
import os as __assess_os
try:
    while __assess_os.waitpid(-1, __assess_os.WNOHANG)[0]:
        pass
except ChildProcessError:
    pass
del __assess_os
"""


class KernelDied(RuntimeError):
    """The executor exited, closed its pipes or stopped answering."""


def _sandbox_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def reap_orphans(kernel_pid: int | None) -> None:
    """Collect every exited child of the runner but the kernel (which subprocess waits for).

    The runner is the sandbox's init (bwrap --as-pid-1, so that no dumpable process is init), so
    the orphans of the candidate's processes become its children; a zombie it never collected
    would count against the process limit for the rest of the run.
    """
    for pid in _sandbox_pids() - {os.getpid(), kernel_pid}:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass  # not the runner's child: its own parent collects it


def stop_strays(kernel_pid: int | None, *, kill: bool = True) -> int:
    """Freeze (then kill, unless ``kill`` is False) every process but the runner's chain and the kernel.

    After a cell times out, what it started (a fork bomb, a runaway pool) would otherwise keep the
    process limit and the CPU for the rest of the run. Signalling the kernel's process group is
    atomic with respect to fork, so stopping the group (and any process that left it) until a pass
    finds nothing new, then killing all but the kernel, ends even a fork bomb.
    """
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


class Kernel:
    """One executor process: the candidate's namespace for the whole notebook."""

    def __init__(self, preload: list[str], startup_seconds: float) -> None:
        started = time.monotonic()
        command_read, self._commands = os.pipe()
        self._replies, reply_write = os.pipe()
        try:
            if executor_starter is not None:
                self._proc = executor_starter(command_read, reply_write, preload)
            else:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", EXECUTOR, str(command_read), str(reply_write), ",".join(preload)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(command_read, reply_write),
                    start_new_session=True,
                )
        finally:
            os.close(command_read)
            os.close(reply_write)
        os.set_blocking(self._commands, False)
        self.pid = self._proc.pid
        self.dead = False
        self._buffer = b""
        self._next_id = 0
        if self._wait_reply(0, started + startup_seconds) is None:
            self.kill()
            raise KernelDied("the Python kernel did not start in time")
        self.start_seconds = time.monotonic() - started

    # --- running cells ---------------------------------------------------------------------

    def execute(self, source: str, timeout: float) -> tuple[str, str | None]:
        """Run source in the candidate's namespace: ("ok" | "error" | "timeout" | "kernel-died", error)."""
        if self.dead:
            return "kernel-died", None
        reap_orphans(self.pid)
        self._next_id += 1
        command_id = self._next_id
        deadline = time.monotonic() + timeout
        body = json.dumps({"id": command_id, "source": source}).encode()
        if not self._send(len(body).to_bytes(4, "big") + body, deadline):
            if self.dead:
                return "kernel-died", None
            self._recover(command_id)
            return "timeout", None
        reply = self._wait_reply(command_id, deadline)
        if reply is not None:
            error = reply.get("error")
            if reply.get("status") == "ok":
                return "ok", None
            return "error", str(error)[:400] if error is not None else "Error"
        if self.dead:
            return "kernel-died", None
        self._recover(command_id)
        return "timeout", None

    def _send(self, data: bytes, deadline: float) -> bool:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not select.select([], [self._commands], [], remaining)[1]:
                continue
            try:
                view = view[os.write(self._commands, view) :]
            except BlockingIOError:
                continue
            except OSError:
                self._mark_dead()
                return False
        return True

    def _wait_reply(self, command_id: int, deadline: float) -> dict | None:
        """The reply to command_id, or None at the deadline or when the executor is gone."""
        while not self.dead:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                reply = _parse_reply(line)
                # Only the first reply (id 0) may say "ready"; every later one answers a command.
                ready = reply is not None and reply["status"] == "ready"
                if reply is not None and reply["id"] == command_id and ready == (command_id == 0):
                    return reply
            if len(self._buffer) > MAX_REPLY_LINE:
                self._buffer = b""  # junk written into the pipe by the candidate's code
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not select.select([self._replies], [], [], min(remaining, 0.5))[0]:
                # A child of the executor may hold the pipe open after the executor itself died.
                if self._proc.poll() is not None:
                    self._mark_dead()
                continue
            chunk = os.read(self._replies, 65536)
            if not chunk:
                self._mark_dead()
                return None
            self._buffer += chunk
        return None

    def _recover(self, command_id: int) -> None:
        """A cell outlived its limit: interrupt it, end what it started, and get the shell idle again.

        A kernel looping on fork() spends most of its time in fork and in Python's at-fork hooks,
        where a KeyboardInterrupt is often swallowed, so the interrupt is repeated every few ms
        while everything else it started is kept frozen (with the process limit reached its forks
        fail at once) until the cell's reply comes; then the frozen processes are killed.
        """
        self._interrupt()
        reply = self._wait_reply(command_id, time.monotonic() + INTERRUPT_GRACE_SECONDS)
        if reply is None and not self.dead:
            stop_strays(self.pid, kill=False)
            give_up = time.monotonic() + INTERRUPT_GIVE_UP_SECONDS
            while reply is None and not self.dead and time.monotonic() < give_up:
                self._interrupt()
                reply = self._wait_reply(command_id, time.monotonic() + 0.005)
        stop_strays(self.pid)
        if reply is None:
            self.kill()
            return
        # Let the shell reap the children it had (zombies count against the process limit).
        self.execute(_REAP_SOURCE, 2.0)

    def _interrupt(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)
        except OSError:
            self._mark_dead()

    # --- ending ------------------------------------------------------------------------------

    def _mark_dead(self) -> None:
        if not self.dead:
            self.kill()

    def kill(self) -> None:
        """End the executor and everything in its session."""
        self.dead = True
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass


def _parse_reply(line: bytes) -> dict | None:
    if len(line) > MAX_REPLY_LINE:
        return None
    try:
        reply = json.loads(line)
    except ValueError:
        return None
    if (
        not isinstance(reply, dict)
        or not isinstance(reply.get("id"), int)
        or reply.get("status") not in ("ok", "error", "ready")
    ):
        return None
    return reply
