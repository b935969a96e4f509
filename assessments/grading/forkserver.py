"""Fork grading: one template process imports the runtime's libraries once; each run is a fork of it.

A cold or warm sandbox imports numpy, pandas and scipy again for every submission (about 0.7 CPU-s
of the ~1 s each costs). Here a template (runner/template.py), started by this worker as root from
the runtime venv's Python with a clean environment, imports them once and forks a child per run;
the child enters the run's own isolation before any candidate code runs (runner/isolate.py: its
cgroup, new mount, PID, network, IPC and UTS namespaces, a new root on size-capped tmpfs with
read-only binds of /usr and the runtime, the slot's own uid, the prlimit line's rlimits, no
capabilities, no_new_privs, the seccomp filter) and runs the runner with the executor forked from
itself. The template never runs candidate code and holds nothing of the app.

``ForkServer`` has the pool's interface (``take`` -> a sandbox with ``run(files, settings)``,
``note_lost``, ``close``), so the pipeline grades through it exactly as through warm sandboxes, with
the same handover, nonce, result line and limits; a run whose set-up fails raises
``WarmSandboxLost`` before anything ran and the pipeline grades it cold. It needs root (namespaces,
mounts, uid changes); ``default_fork_server`` says why it is not in force otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assessments.grading import cgroups, seccomp
from assessments.grading.pool import DEFAULT_PRELOAD, WarmSandboxLost
from assessments.grading.result import RESULT_PREFIX
from assessments.grading.runner import protocol
from assessments.grading.runtime import default_runtime_path, runtime_python
from assessments.grading.sandbox import (
    _FILE_NAME,
    RUNNER_DIR,
    SandboxLimits,
    SandboxRun,
    _is_root,
    _sandbox_env,
    sandbox_problem,
)
from assessments.grading.slots import SlotsBusy, release_slot, take_slot

log = logging.getLogger(__name__)

FORK_ENV = "ASSESS_FORK_GRADING"
TEMPLATE = RUNNER_DIR / "template.py"
WARM_READY = protocol.WARM_READY.encode()
_THREAD_CAPS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ForkUnavailable(RuntimeError):
    """Fork grading cannot be had here (not root, no sandbox runtime, the template did not start)."""


def _payload(files: Mapping[str, bytes], settings: Mapping[str, Any]) -> bytes:
    """The warm handover (handover.py): a 4-byte length, the JSON header, then the files in header order."""
    header = json.dumps({**settings, "files": [[name, len(data)] for name, data in files.items()]}).encode()
    return b"".join([len(header).to_bytes(4, "big"), header, *files.values()])


def _memory_file(data: bytes) -> int:
    fd = os.memfd_create("assess-fork-run")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_result(fd: int, output_bytes: int, deadline: float, marker: bytes) -> tuple[bytes, bool, bool]:
    """Read the result pipe until EOF, the first complete line holding marker, the cap or the deadline.

    Returns (output, timed_out, capped), as ``sandbox.exchange`` does for a sandbox's stdout.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True, False
        if not select.select([fd], [], [], min(remaining, 1.0))[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        size += len(chunk)
        if size > output_bytes:
            return b"".join(chunks), False, True
        chunks.append(chunk)
        if b"\n" in chunk:
            received = b"".join(chunks)
            at = received.find(marker)
            if at >= 0 and received.find(b"\n", at) >= 0:
                break
    return b"".join(chunks), False, False


def _wait_ready(fd: int, deadline: float) -> bool:
    """Whether the run's set-up finished (its kernel is up): the ready marker, before the pipe closes."""
    seen = b""
    while seen != WARM_READY:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return False
        chunk = os.read(fd, len(WARM_READY) - len(seen))
        if not chunk:
            return False
        seen += chunk
        if not WARM_READY.startswith(seen):
            return False
    return True


def _run_limits(limits: SandboxLimits, group: cgroups.RunCgroup) -> dict[str, int]:
    """The rlimits of a run, as sandbox_argv sets them: without a cgroup, cut to fit every sandbox at once."""
    memory, processes = limits.memory_bytes, limits.processes
    if not group.procs_paths:
        fallback = cgroups.process_limits_here(limits)
        memory, processes = min(memory, fallback.per_process_bytes), min(processes, fallback.processes)
    return {
        "memory_bytes": memory,
        "cpu_seconds": limits.cpu_seconds,
        "processes": processes,
        "open_files": limits.open_files,
        "file_bytes": limits.file_bytes,
        "scratch_bytes": limits.scratch_bytes,
        "shm_bytes": limits.shm_bytes,
        "niceness": limits.niceness,
    }


class ForkedSandbox:
    """One run forked from the template; ``run`` may be called once."""

    def __init__(self, server: ForkServer) -> None:
        self._server = server
        self._used = False

    def run(self, files: Mapping[str, bytes], settings: Mapping[str, Any]) -> SandboxRun:
        """Hand the submission to a fresh fork and return the run's raw output.

        :raises WarmSandboxLost: when the fork could not be set up (nothing of the submission ran).
        :raises ValueError: for a file name the sandbox must not be given.
        """
        for name in files:
            if not _FILE_NAME.match(name):
                raise ValueError(f"unsafe file name for the sandbox: {name!r}")
        if self._used:
            raise WarmSandboxLost("a forked sandbox is used once only")
        self._used = True
        limits = self._server.limits
        try:
            uid, slot = take_slot(wait_seconds=limits.wall_seconds)
        except SlotsBusy as busy:
            raise WarmSandboxLost(str(busy)) from None
        read_end = -1
        try:
            with cgroups.run_cgroup(limits) as group:
                read_end, write_end = os.pipe()
                payload = _memory_file(_payload(files, settings))
                try:
                    started = time.monotonic()
                    self._server.send(self._request(uid, group), [payload, write_end])
                finally:
                    os.close(payload)
                    os.close(write_end)
                if not _wait_ready(read_end, started + self._server.startup_seconds):
                    raise WarmSandboxLost("the forked run's set-up failed (see the template's log lines)")
                marker = RESULT_PREFIX + str(settings["nonce"]).encode()
                output, timed_out, capped = read_result(
                    read_end, limits.output_bytes, time.monotonic() + limits.wall_seconds + 2.0, marker
                )
                return SandboxRun(
                    output=output,
                    exit_code=None,
                    timed_out=timed_out,
                    output_capped=capped,
                    seconds=time.monotonic() - started,
                    sandboxed=True,
                    oom_killed=group.oom_killed(),
                    memory_peak_bytes=group.peak_bytes(),
                )
        finally:
            # Kills every process of the slot's uid: the run's PID 1 first, which takes its namespace down.
            release_slot(uid, slot)
            if read_end >= 0:
                os.close(read_end)

    def _request(self, uid: int, group: cgroups.RunCgroup) -> dict[str, Any]:
        runtime = self._server.runtime
        return {
            "uid": uid,
            "limits": _run_limits(self._server.limits, group),
            "runtime": str(runtime),
            "env": _sandbox_env(runtime),
            "procs_paths": list(group.procs_paths),
            "seccomp": seccomp.filter_program().hex(),
            "startup_seconds": self._server.startup_seconds,
        }


class ForkServer:
    """The template and its socket; thread-safe; the pool's interface, each ``take`` a fresh fork."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        startup_seconds: float = 60.0,
        runtime: Path | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.preload = tuple(preload)
        self.startup_seconds = startup_seconds
        self.runtime = (runtime or default_runtime_path()).resolve()
        self.handed_out = 0
        self.lost = 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False

    @property
    def template_pid(self) -> int | None:
        """The template's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        """Start the template and wait until it has imported everything.

        :raises ForkUnavailable: when this process is not root, there is no sandbox, or the template failed.
        """
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closed:
            raise ForkUnavailable("the fork server is closed")
        if self._proc is not None and self._proc.poll() is None:
            return
        if not _is_root():
            raise ForkUnavailable("fork grading needs root (namespaces, mounts and a uid per run)")
        problem = sandbox_problem(self.runtime)
        if problem is not None:
            raise ForkUnavailable(str(problem))
        try:
            seccomp.filter_program()
        except seccomp.SeccompUnavailable as missing:
            raise ForkUnavailable(str(missing)) from None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": f"{self.runtime}/bin:/usr/bin", **{cap: "1" for cap in _THREAD_CAPS}}
        try:
            proc = subprocess.Popen(
                [str(runtime_python(self.runtime)), "-I", str(TEMPLATE), str(theirs.fileno()), ",".join(self.preload)],
                cwd="/",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()
        ready = select.select([ours], [], [], self.startup_seconds)[0]
        said = ours.recv(4096) if ready else b""
        try:
            hello = json.loads(said) if said else {}
        except ValueError:
            hello = {}
        if hello.get("ready") != proc.pid or hello.get("protocol") != protocol.PROTOCOL_VERSION:
            ours.close()
            proc.kill()
            proc.wait()
            raise ForkUnavailable(f"the fork template did not start (exit code {proc.poll()})")
        self._sock, self._proc = ours, proc

    def send(self, request: Mapping[str, Any], fds: Sequence[int]) -> None:
        """Ask the template for one run.

        :raises WarmSandboxLost: when the template is gone (it is started again for the next run).
        """
        with self._lock:
            try:
                self._start_locked()
                assert self._sock is not None
                socket.send_fds(self._sock, [json.dumps(request).encode()], list(fds))
            except (OSError, ForkUnavailable) as problem:
                self._stop_locked()
                raise WarmSandboxLost(f"the fork template is not there: {problem}") from None

    def take(self, wait_seconds: float = 0.0) -> ForkedSandbox | None:
        """A fresh fork for one submission; None once closed."""
        with self._lock:
            if self._closed:
                return None
            self.handed_out += 1
        return ForkedSandbox(self)

    def note_lost(self) -> None:
        """Count a run whose fork could not be set up (the run went cold instead)."""
        with self._lock:
            self.lost += 1

    def close(self) -> None:
        """Stop the template (runs already forked end on their own or at their slot's release)."""
        with self._lock:
            self._closed = True
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


_default: ForkServer | None = None
_default_lock = threading.Lock()


def default_fork_server() -> ForkServer:
    """The process-wide fork server, its template started.

    :raises ForkUnavailable: when ASSESS_FORK_GRADING=0, or fork grading cannot work here (and why).
    """
    global _default
    if os.environ.get(FORK_ENV, "1") == "0":
        raise ForkUnavailable(f"{FORK_ENV}=0")
    with _default_lock:
        if _default is None:
            server = ForkServer()
            server.start()
            _default = server
        return _default
