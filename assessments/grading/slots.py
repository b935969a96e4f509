"""Worker slots: each concurrent sandbox (cold or warm) runs as a uid of its own.

The process limit of prlimit counts every process of a uid on the machine, so two runs sharing one
could use up each other's. A slot is a lock file per uid (it works across processes); taking one
clears that uid of any process a previous run left behind, releasing it does the same.
"""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from assessments.grading.cgroups import slots_that_fit


class SlotsBusy(RuntimeError):
    """Every slot stayed busy for as long as the caller would wait."""


def configured_slot_count() -> int:
    """The slots the operator asked for (ASSESS_SANDBOX_SLOTS, default 8)."""
    return max(1, int(os.environ.get("ASSESS_SANDBOX_SLOTS", "8")))


def slot_count() -> int:
    """How many sandboxes (warm or busy) can run at once on this machine: one per slot.

    The configured count, cut to what fits the machine's memory when only process limits bound a
    sandbox's memory (cgroups.py).
    """
    fit = slots_that_fit()
    return configured_slot_count() if fit is None else min(configured_slot_count(), fit)


def _uid_base() -> int:
    return int(os.environ.get("ASSESS_SANDBOX_UID_BASE", "62000"))


def take_slot(wait_seconds: float) -> tuple[int, IO[str]]:
    """Take a free slot (a uid of its own, cleared of processes): its uid and the lock to hand to release_slot.

    :raises SlotsBusy: when every slot stays busy for wait_seconds.
    """
    lock_dir = Path(tempfile.gettempdir()) / "assess-sandbox-slots"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    give_up = time.monotonic() + wait_seconds
    while True:
        for slot in range(slot_count()):
            uid = _uid_base() + slot
            handle = open(lock_dir / f"{uid}.lock", "w")  # noqa: SIM115 - held for the run
            try:
                # A lock file per slot works across processes; a warm sandbox holds its slot while it waits.
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                _clear_uid(uid)  # a previous run of this slot must have left nothing behind
            except BaseException:
                handle.close()
                raise
            return uid, handle
        if time.monotonic() > give_up:
            raise SlotsBusy("every sandbox slot stayed busy; raise ASSESS_SANDBOX_SLOTS or add workers")
        time.sleep(0.2)


def release_slot(uid: int, handle: IO[str]) -> None:
    """Kill whatever the slot's uid still runs, then free the slot."""
    try:
        _clear_uid(uid)
    finally:
        handle.close()


@contextmanager
def worker_slot(wait_seconds: float) -> Iterator[int]:
    """Hold a slot for the run."""
    uid, handle = take_slot(wait_seconds)
    try:
        yield uid
    finally:
        release_slot(uid, handle)


def _clear_uid(uid: int, wait_seconds: float = 5.0) -> None:
    """Kill every process of a slot uid and wait until none runs (the slot's process limit is per uid)."""
    give_up = time.monotonic() + wait_seconds
    while _kill_uid_processes(uid) and time.monotonic() < give_up:
        time.sleep(0.02)


def _kill_uid_processes(uid: int) -> int:
    """SIGKILL every live process of a slot uid (the pid namespace should already have taken them); how many.

    Zombies are not counted: they run nothing. bubblewrap's outer process exits without reaping the
    sandbox's pid-namespace init, which is then left for the machine's init to reap, and some inits
    take a second or two: waiting for that would add it to every run's latency.
    """
    found = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            owner = int(fields["Uid"].split()[1])
        except (KeyError, IndexError, ValueError):
            continue
        if owner != uid or fields.get("State", "").strip().startswith("Z"):
            continue
        found += 1
        try:
            os.kill(int(entry.name), signal.SIGKILL)
        except ProcessLookupError:
            pass
    return found
