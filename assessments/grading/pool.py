"""Warm sandboxes: started before submissions arrive, with the kernel up and the usual libraries imported.

A warm sandbox is the cold one (same nice -> prlimit -> setpriv -> bwrap command line, same slot uid, same
limits) started with an EMPTY working folder and the runner in ``--warm`` mode: it starts the kernel,
imports the preload modules in it and waits. Handing it a submission sends the one-time nonce, the
run's settings and the files over its stdin (length-prefixed, size-capped); the runner writes them
into the working folder and runs exactly as a cold run does, its wall-clock limit counting from then.
Each warm sandbox is used once and discarded, whatever happened; one past its idle cap is discarded
unused. No candidate code has run in a sandbox before it is handed its one submission.

``SandboxPool`` keeps a few ready. Its keeper thread starts them and must outlive them: bubblewrap's
--die-with-parent kills a sandbox when the THREAD that started it exits, so no other thread may.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from assessments.grading.cgroups import run_cgroup
from assessments.grading.result import RESULT_PREFIX
from assessments.grading.runner import protocol
from assessments.grading.runtime import default_runtime_path
from assessments.grading.sandbox import (
    _CLEAN_ENV,
    _FILE_NAME,
    SandboxLimits,
    SandboxRun,
    _is_root,
    exchange,
    finish,
    kill_group,
    runner_command,
    sandbox_argv,
    sandbox_inputs,
    sandbox_problem,
)
from assessments.grading.slots import SlotsBusy, release_slot, take_slot

log = logging.getLogger(__name__)

POOL_ENV = "ASSESS_WARM_SANDBOXES"
DEFAULT_POOL_SIZE = 2
# What every case's `packages` lists; sklearn, statsmodels and matplotlib are imported on demand
# (together they would add ~2 s of CPU and ~150 MB to every sandbox, used or not).
DEFAULT_PRELOAD = ("numpy", "pandas", "scipy.stats")
WARM_READY = protocol.WARM_READY.encode()
# The runner gives up waiting this long after the pool would have recycled it, so an orphan ends itself.
_RUNNER_IDLE_MARGIN = 60.0


class WarmSandboxLost(RuntimeError):
    """The warm sandbox died or never became ready before it was handed a submission (fall back to a cold run)."""


class WarmSandbox:
    """One sandbox started ahead of its submission; ``run`` may be called once, then it is gone."""

    def __init__(
        self, limits: SandboxLimits, runtime: Path, preload: Sequence[str], idle_seconds: float, startup_seconds: float
    ) -> None:
        self.limits = limits
        self.created = time.monotonic()
        self.ready_at: float | None = None
        self._startup_seconds = startup_seconds
        self._seen = b""
        self._used = False
        self._uid: int | None = None
        self._slot: IO[str] | None = None
        # Its memory cgroup lives as long as it does: the preload and the submission count against one bound.
        self._cgroup_stack = ExitStack()
        if _is_root():
            self._uid, self._slot = take_slot(wait_seconds=0)
        runner_args = [
            "--warm",
            "--preload",
            ",".join(preload),
            "--warm-idle-seconds",
            f"{idle_seconds + _RUNNER_IDLE_MARGIN:g}",
            "--warm-startup-seconds",
            f"{startup_seconds:g}",
            "--max-input-bytes",
            str(limits.scratch_bytes),
        ]
        try:
            self._cgroup = self._cgroup_stack.enter_context(run_cgroup(limits))
            with sandbox_inputs({}) as inputs:
                command = runner_command(runtime, runner_args)
                argv = sandbox_argv(limits, self._uid, inputs, runtime, command, self._cgroup)
                self._proc: subprocess.Popen[bytes] = subprocess.Popen(
                    argv,
                    cwd="/",
                    env=_CLEAN_ENV,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=[fd for fd, _ in inputs],
                )
        except BaseException:
            self._release()
            raise

    @property
    def alive(self) -> bool:
        """Its process is running and it has not been used."""
        return not self._used and self._proc.poll() is None

    def ready(self, wait_seconds: float = 0.0) -> bool:
        """Whether the kernel is up and the preload imported (waiting up to wait_seconds to find out)."""
        if self.ready_at is not None:
            return True
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        give_up = time.monotonic() + wait_seconds
        while self.ready_at is None:
            remaining = max(0.0, give_up - time.monotonic())
            if not select.select([fd], [], [], remaining)[0]:
                return False
            chunk = os.read(fd, len(WARM_READY) - len(self._seen))
            if not chunk:
                return False
            self._seen += chunk
            if not WARM_READY.startswith(self._seen):
                return False
            if self._seen == WARM_READY:
                self.ready_at = time.monotonic()
        return True

    def run(self, files: Mapping[str, bytes], settings: Mapping[str, Any]) -> SandboxRun:
        """Hand over the submission (files, plus settings holding the nonce) and return the run's raw output.

        :raises WarmSandboxLost: when the sandbox died or did not become ready in time; nothing ran.
        :raises ValueError: for a file name the sandbox must not be given.
        """
        for name in files:
            if not _FILE_NAME.match(name):
                raise ValueError(f"unsafe file name for the sandbox: {name!r}")
        if self._used:
            raise WarmSandboxLost("a warm sandbox is used once only")
        self._used = True
        try:
            left = self._startup_seconds - (time.monotonic() - self.created)
            if self._proc.poll() is not None or not self.ready(max(0.0, left)) or self._proc.poll() is not None:
                raise WarmSandboxLost("the warm sandbox died or did not become ready in time")
            header = json.dumps({**settings, "files": [[name, len(data)] for name, data in files.items()]}).encode()
            payload = b"".join([len(header).to_bytes(4, "big"), header, *files.values()])
            started = time.monotonic()
            marker = RESULT_PREFIX + str(settings["nonce"]).encode()
            output, timed_out, capped = exchange(
                self._proc, payload, self.limits.output_bytes, started + self.limits.wall_seconds + 2.0, marker
            )
            finish(self._proc)
            return SandboxRun(
                output=output,
                exit_code=self._proc.returncode,
                timed_out=timed_out,
                output_capped=capped,
                seconds=time.monotonic() - started,
                sandboxed=True,
                oom_killed=self._cgroup.oom_killed(),
                memory_peak_bytes=self._cgroup.peak_bytes(),
            )
        finally:
            self.discard()

    def discard(self) -> None:
        """Kill the sandbox (if still running) and free its slot."""
        self._used = True
        if self._proc.poll() is None:
            kill_group(self._proc)
        finish(self._proc)
        self._release()

    def _release(self) -> None:
        # What is left in its cgroup is killed and the group removed before the slot is free again.
        self._cgroup_stack.close()
        if self._slot is not None and self._uid is not None:
            slot, self._slot = self._slot, None
            release_slot(self._uid, slot)


class SandboxPool:
    """Keeps ``size`` warm sandboxes ready; thread-safe; each is handed out once and replaced at once."""

    def __init__(
        self,
        size: int,
        *,
        limits: SandboxLimits | None = None,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        max_idle_seconds: float = 600.0,
        startup_seconds: float = 120.0,
        runtime: Path | None = None,
    ) -> None:
        self.size = max(0, size)
        self.limits = limits or SandboxLimits()
        self.preload = tuple(preload)
        self.max_idle_seconds = max_idle_seconds
        self.startup_seconds = startup_seconds
        self.runtime = (runtime or default_runtime_path()).resolve()
        self.handed_out = 0
        self.lost = 0
        self._ready: list[WarmSandbox] = []
        self._changed = threading.Condition()
        self._closed = False
        self._keeper: threading.Thread | None = None

    def start(self) -> None:
        """Start warming (``take`` does this on first use); does nothing when there is no sandbox here."""
        with self._changed:
            if self._keeper is None and not self._closed and self.size and sandbox_problem(self.runtime) is None:
                self._keeper = threading.Thread(target=self._keep, name="assess-warm-sandboxes", daemon=True)
                self._keeper.start()

    def take(self, wait_seconds: float = 10.0) -> WarmSandbox | None:
        """A warm sandbox for one submission (a ready one first, else the oldest still warming), or None.

        Waits up to wait_seconds for the keeper to start one when none is there: starting takes
        well under a second (clearing the slot it takes of a previous run's last processes is the
        slow part), a warming sandbox is taken as it is, and a cold start would cost all of it again.
        """
        self.start()
        give_up = time.monotonic() + wait_seconds
        with self._changed:
            while True:
                live = [s for s in self._ready if s.alive and not self._expired(s)]
                choice = next((s for s in live if s.ready()), live[0] if live else None)
                remaining = give_up - time.monotonic()
                if choice is not None or self._keeper is None or self._closed or remaining <= 0:
                    break
                self._changed.wait(timeout=remaining)
            if choice is not None:
                self._ready.remove(choice)
                self.handed_out += 1
            elif self._keeper is not None:
                log.warning(
                    "no warm sandbox within %g s (%s); starting a cold one",
                    wait_seconds,
                    "the pool is closed" if self._closed else f"{len(self._ready)} waiting, none usable",
                )
            self._changed.notify_all()
        return choice

    def note_lost(self) -> None:
        """Count a sandbox handed out but lost before its submission (the run went cold instead)."""
        with self._changed:
            self.lost += 1

    def close(self) -> None:
        """Stop warming and discard every unused sandbox (sandboxes already handed out die with the keeper)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join(timeout=30)

    def _expired(self, sandbox: WarmSandbox) -> bool:
        return time.monotonic() - sandbox.created > self.max_idle_seconds

    def _keep(self) -> None:
        """The keeper thread: replace what was taken, died or expired; starts every sandbox itself."""
        try:
            while True:
                with self._changed:
                    if self._closed:
                        break
                    stale = [s for s in self._ready if not s.alive or self._expired(s)]
                    self._ready = [s for s in self._ready if s not in stale]
                    missing = self.size - len(self._ready)
                for sandbox in stale:
                    sandbox.discard()
                if missing > 0 and self._add():
                    continue
                with self._changed:
                    # Re-checked under the lock: a take between the two blocks must not be slept through.
                    if not self._closed and (missing > 0 or len(self._ready) >= self.size):
                        # Sleep until a take or close; wake now and then to recycle idle sandboxes.
                        self._changed.wait(timeout=1.0 if missing > 0 else min(30.0, self.max_idle_seconds / 4))
        except Exception:
            log.exception("the warm sandbox keeper stopped")
        finally:
            with self._changed:
                self._closed = True
                leftovers, self._ready = self._ready, []
            for sandbox in leftovers:
                sandbox.discard()

    def _add(self) -> bool:
        try:
            sandbox = WarmSandbox(self.limits, self.runtime, self.preload, self.max_idle_seconds, self.startup_seconds)
        except (SlotsBusy, OSError) as problem:
            log.warning("no warm sandbox started for now: %s", problem)
            return False
        with self._changed:
            if not self._closed:
                self._ready.append(sandbox)
                self._changed.notify_all()
                return True
        sandbox.discard()
        return False


_default: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool | None:
    """The process-wide pool, created (and warming) on first use; None when ASSESS_WARM_SANDBOXES=0."""
    global _default
    with _default_lock:
        if _default is None:
            size = int(os.environ.get(POOL_ENV, str(DEFAULT_POOL_SIZE)) or 0)
            if size <= 0:
                return None
            _default = SandboxPool(size)
            _default.start()
        return _default
