"""Memory bounded per submission: a memory cgroup per run where the host allows it, else process limits.

``prlimit --as`` bounds each process, so a notebook that starts six children could hold six times the
limit. A cgroup bounds the run: every process of the sandbox joins its run's group from its first
instruction (``RunCgroup.join_command``: a ``/bin/sh -c 'echo $$ > cgroup.procs && exec ...'`` prefix
before nice; no ``preexec_fn``, since the worker is threaded), so whatever the notebook starts is
counted against one ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1), swap included, with a
task limit beside it (``pids.max``). Past the limit the kernel's OOM killer ends the group's biggest
process (a runaway child, or the kernel), never a process outside the group; the grader reads
``memory.events`` / ``memory.oom_control`` to say that it happened.

The writable tmpfs mounts of the sandbox (``/tmp``, the working folder, ``/dev/shm``; sandbox.py
caps each one's size) are counted too: a tmpfs page is charged to the memory cgroup of the process
that first writes it, and only sandbox processes can write there. Checked on this project's VM (v1): a
sandbox writing 60 MiB into ``/tmp`` and 30 MiB into ``/dev/shm`` showed 90 MiB of ``shmem`` in its
group's ``memory.stat`` (``tests/grading/test_cgroups.py`` checks it on every run of the suite).

Which bound is in force (``memory_bound``), chosen once per process, in this order:

1. cgroup v2: a writable v2 hierarchy whose own cgroup of this process offers the memory controller.
   Groups live under ``<own cgroup>/assessments/``; if this process's own cgroup holds processes and
   is not the root (v2 allows controllers only for groups without processes), this process first
   moves itself into the leaf ``<own cgroup>/worker`` (the layout systemd's ``Delegate=yes`` expects),
   but only when it is alone there: a web server's processes are left where they are.
2. cgroup v1: the memory hierarchy (and the pids one, when mounted) writable here; groups live
   under ``<hierarchy root>/assessments/``, outside any service manager's own groups, so none of them
   is kept from being removed by a group of ours.
3. process limits only: see ``process_limits`` for how the per-process limit and the process count
   are chosen so that every sandbox the machine can run at once fits in its memory; when the
   configured slots would not fit, ``slots.slot_count`` hands out only as many as do
   (``process_limits_bound``). Slots are taken as root only: a worker that is not root runs its
   sandboxes as its own user, and nothing but its ``--workers`` and pool size bounds how many.

A run's group is named after the worker process (pid and start time) that made it; at the first use
in a process, groups whose worker is gone (a crashed worker's) are emptied and removed. Candidate
code cannot leave its group: the sandbox mounts no ``/sys``, and it runs as an unprivileged uid.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assessments.grading.sandbox import SandboxLimits

log = logging.getLogger(__name__)

CGROUP_V2 = "cgroup-v2"
CGROUP_V1 = "cgroup-v1"
PROCESS_LIMITS = "process-limits"
APP_GROUP = "assessments"
WORKER_LEAF = "worker"
# Process limits only: what is kept for the database, the web servers and the page cache.
RESERVE_FRACTION = 0.25
RESERVE_MIN_BYTES = 2 * 1024**3
# Process limits only: tasks per sandbox (RLIMIT_NPROC counts threads): the runner's four (bubblewrap's
# two, the supervisor, the kernel) and four for the notebook's own helpers.
FALLBACK_PROCESSES = 8
# Process limits only: the least address space a sandbox process gets (Python with numpy, pandas and
# scipy imported takes ~300 MiB of address space before the notebook does anything).
MIN_PROCESS_BYTES = 1024**3

_RUN_NAME = re.compile(r"^run-(\d+)-(\d+)-\d+$")
_PROC = Path("/proc")
_SEQUENCE = itertools.count()
_LOCK = threading.Lock()
_BOUND: MemoryBound | None = None
_PARENTS: dict[str, Path] = {}


def _mebibytes(size: int) -> str:
    return f"{size / 1024**2:.0f} MiB" if size < 1024**3 else f"{size / 1024**3:.3g} GiB"


@dataclass(frozen=True)
class ProcessLimits:
    """Per-process limits for a machine without a usable memory cgroup (see ``process_limits``)."""

    per_process_bytes: int
    processes: int
    sandboxes: int
    tmpfs_bytes: int
    total_bytes: int
    reserve_bytes: int
    fits: bool
    sandboxes_that_fit: int


@dataclass(frozen=True)
class MemoryBound:
    """Which memory bound holds a submission on this machine, and its size."""

    kind: str
    limit_bytes: int
    processes: int
    fallback: ProcessLimits | None = None
    reason: str = ""
    configured_slots: int = 0

    def describe(self) -> str:
        """One sentence for an operator: the bound in force and its size."""
        if self.kind == CGROUP_V2:
            return (
                f"cgroup v2: each submission is held to {_mebibytes(self.limit_bytes)} of memory in total "
                f"(memory.max, no swap) and {self.processes} tasks (pids.max), counting every process it "
                "starts and the files it writes to its tmpfs."
            )
        if self.kind == CGROUP_V1:
            return (
                f"cgroup v1: each submission is held to {_mebibytes(self.limit_bytes)} of memory in total "
                f"(memory.limit_in_bytes, swap included) and {self.processes} tasks, counting every process it "
                "starts and the files it writes to its tmpfs."
            )
        limits = self.fallback
        assert limits is not None
        sentence = (
            f"process limits only ({self.reason}): each sandbox process may hold "
            f"{_mebibytes(limits.per_process_bytes)} of address space and a sandbox {limits.processes} tasks, "
            f"so {limits.sandboxes} sandboxes at once{self._cut()} hold at most "
            f"{_mebibytes(limits.sandboxes * _sandbox_bytes(limits))} with their tmpfs, of the machine's "
            f"{_mebibytes(limits.total_bytes)} ({_mebibytes(limits.reserve_bytes)} kept for the database and "
            "web servers)"
        )
        if not limits.fits and limits.sandboxes_that_fit:
            sentence += (
                f"; that does NOT fit: set ASSESS_SANDBOX_SLOTS to {limits.sandboxes_that_fit} or less, "
                "or give the worker a memory cgroup"
            )
        elif not limits.fits:
            sentence += "; that does NOT fit even one sandbox: give the worker a memory cgroup"
        return sentence + "."

    def _cut(self) -> str:
        assert self.fallback is not None
        if self.configured_slots <= self.fallback.sandboxes:
            return ""
        return f" (ASSESS_SANDBOX_SLOTS={self.configured_slots} cut to {self.fallback.sandboxes} so that they fit)"


def _sandbox_bytes(limits: ProcessLimits) -> int:
    return limits.per_process_bytes * limits.processes + limits.tmpfs_bytes


def _meminfo_bytes(meminfo: str, name: str) -> int:
    for line in meminfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            number, *unit = value.split()
            return int(number) * (1024 if unit == ["kB"] else 1)
    raise ValueError(f"{name} is missing from meminfo")


def process_limits(meminfo: str, limits: SandboxLimits, sandboxes: int) -> ProcessLimits:
    """The per-process limit and process count when no cgroup can hold a submission's memory.

    Without a cgroup, a sandbox can hold at most ``processes * per_process`` of memory in its
    processes (RLIMIT_AS per process, RLIMIT_NPROC per slot uid; threads share an address space, so
    counting each task as a process over-counts, which is the safe side) plus its tmpfs mounts
    (``2 * scratch_bytes + shm_bytes``: they fill whatever the processes do). At most ``sandboxes``
    run at once: every sandbox, warm (pool.py) or busy, holds a worker slot (slots.py), so the slot
    count bounds them on the machine. They must fit beside a reserve for the database and web
    servers, ``max(2 GiB, 25% of MemTotal)``::

        sandboxes * (processes * per_process + 2 * scratch_bytes + shm_bytes) <= MemTotal - reserve

    ``processes`` is ``min(limits.processes, 8)`` (the runner takes four) and ``per_process`` what is
    left, capped at ``limits.memory_bytes``. When that is under 1 GiB (too little for a notebook
    with the usual libraries), the bound does not fit: ``per_process`` is held at 1 GiB so grading
    still works, ``fits`` is False and ``sandboxes_that_fit`` says how many slots would fit.

    :raises ValueError: when meminfo has no MemTotal.
    """
    total = _meminfo_bytes(meminfo, "MemTotal")
    reserve = max(RESERVE_MIN_BYTES, int(total * RESERVE_FRACTION))
    budget = max(0, total - reserve)
    sandboxes = max(1, sandboxes)
    tmpfs = 2 * limits.scratch_bytes + limits.shm_bytes
    processes = max(1, min(limits.processes, FALLBACK_PROCESSES))
    room = max(0, budget // sandboxes - tmpfs)
    per_process = min(limits.memory_bytes, room // processes)
    floor = min(limits.memory_bytes, MIN_PROCESS_BYTES)
    fits = per_process >= floor
    per_process = max(per_process, floor)
    return ProcessLimits(
        per_process_bytes=per_process,
        processes=processes,
        sandboxes=sandboxes,
        tmpfs_bytes=tmpfs,
        total_bytes=total,
        reserve_bytes=reserve,
        fits=fits,
        sandboxes_that_fit=budget // (processes * per_process + tmpfs),
    )


def process_limits_bound(meminfo: str, limits: SandboxLimits, configured_slots: int, reason: str) -> MemoryBound:
    """The process-limits bound for this many configured slots: cut to the number of sandboxes that fit,
    when fewer than configured do (``slots.slot_count`` then hands out no more), so the product fits.

    :raises ValueError: when meminfo has no MemTotal.
    """
    chosen = process_limits(meminfo, limits, configured_slots)
    if not chosen.fits and chosen.sandboxes_that_fit:
        chosen = process_limits(meminfo, limits, chosen.sandboxes_that_fit)
    return MemoryBound(
        PROCESS_LIMITS,
        chosen.per_process_bytes,
        chosen.processes,
        fallback=chosen,
        reason=reason,
        configured_slots=configured_slots,
    )


def process_limits_here(limits: SandboxLimits, sandboxes: int | None = None) -> ProcessLimits:
    """``process_limits`` for this machine's memory and its sandbox slot count (or this many sandboxes)."""
    from assessments.grading.slots import slot_count

    return process_limits((_PROC / "meminfo").read_text(), limits, slot_count() if sandboxes is None else sandboxes)


def slots_that_fit() -> int | None:
    """How many sandboxes at once fit the machine's memory under process limits only (None: a cgroup holds each)."""
    bound = memory_bound()
    return bound.fallback.sandboxes if bound.fallback is not None else None


# --- a run's group ---------------------------------------------------------------------------


@dataclass
class RunCgroup:
    """One run's cgroup (or none, when only process limits apply); made and removed by ``run_cgroup``."""

    kind: str
    limit_bytes: int
    # controller -> the group's directory in that controller's hierarchy (v2: one directory for both)
    groups: dict[str, Path] = field(default_factory=dict)

    @property
    def procs_path(self) -> str | None:
        """The memory group's ``cgroup.procs``: a process writes its own pid there to join (None: no group)."""
        group = self.groups.get("memory")
        return str(group / "cgroup.procs") if group is not None else None

    @property
    def procs_paths(self) -> tuple[str, ...]:
        """Every ``cgroup.procs`` a process must join (v1 keeps memory and pids in two hierarchies)."""
        return tuple(dict.fromkeys(str(group / "cgroup.procs") for group in self.groups.values()))

    def join_command(self, argv: Sequence[str]) -> list[str]:
        """argv behind a shell prefix that puts the process in this group before it execs argv."""
        paths = self.procs_paths
        if not paths:
            return list(argv)
        joins = " && ".join(f'echo $$ > "${index}"' for index in range(len(paths)))
        shift = f" && shift {len(paths) - 1}" if len(paths) > 1 else ""
        return ["/bin/sh", "-c", f'{joins}{shift} && exec "$@"', *paths, *argv]

    def peak_bytes(self) -> int | None:
        """The most memory the group held at once (None without a group or where the kernel does not say)."""
        group = self.groups.get("memory")
        if group is None:
            return None
        name = "memory.peak" if self.kind == CGROUP_V2 else "memory.max_usage_in_bytes"
        try:
            return int((group / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer ended a process of this group (it went past its memory bound)."""
        group = self.groups.get("memory")
        if group is None:
            return False
        name = "memory.events" if self.kind == CGROUP_V2 else "memory.oom_control"
        try:
            counters = dict(line.split() for line in (group / name).read_text().splitlines() if line.strip())
        except (OSError, ValueError):
            return False
        return int(counters.get("oom_kill", "0")) > 0


@contextmanager
def run_cgroup(limits: SandboxLimits) -> Iterator[RunCgroup]:
    """A cgroup for one run, holding it to ``limits.memory_bytes`` and ``limits.processes``; on exit,
    whatever is left in it is killed and the group removed. Yields a group-less ``RunCgroup`` when only
    process limits apply here (or the group could not be made: logged, the run still starts)."""
    bound = memory_bound()
    if bound.kind == PROCESS_LIMITS:
        yield RunCgroup(PROCESS_LIMITS, limits.memory_bytes)
        return
    try:
        group = _create(bound.kind, limits, _run_name())
    except OSError as error:
        log.warning("no cgroup for this run (%s); only process limits hold it", error)
        group = RunCgroup(PROCESS_LIMITS, limits.memory_bytes)
    try:
        yield group
    finally:
        _remove(group.groups)


def _run_name() -> str:
    pid = os.getpid()
    return f"run-{pid}-{_start_time(pid)}-{next(_SEQUENCE)}"


def _start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 when it is gone): a pid is reused, this pair is not."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _create(kind: str, limits: SandboxLimits, name: str) -> RunCgroup:
    groups: dict[str, Path] = {}
    try:
        if kind == CGROUP_V2:
            group = _PARENTS["memory"] / name
            group.mkdir()
            groups = {"memory": group, "pids": group}
            _write(group / "memory.max", str(limits.memory_bytes))
            # memory.oom.group stays 0: past the bound the biggest process goes (usually a runaway
            # child), and the rest of the run can still report.
            if (group / "memory.swap.max").exists():
                _write(group / "memory.swap.max", "0")
            if (group / "pids.max").exists():
                _write(group / "pids.max", str(limits.processes))
        else:
            memory = _PARENTS["memory"] / name
            memory.mkdir()
            groups["memory"] = memory
            _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
            # Swap included (where swap accounting is on): the bound is on memory plus swap.
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
            if "pids" in _PARENTS:
                pids = _PARENTS["pids"] / name
                pids.mkdir()
                groups["pids"] = pids
                _write(pids / "pids.max", str(limits.processes))
    except OSError:
        _remove(groups)
        raise
    return RunCgroup(kind, limits.memory_bytes, groups)


def _members(groups: dict[str, Path]) -> set[int]:
    found: set[int] = set()
    for group in set(groups.values()):
        try:
            found.update(int(pid) for pid in (group / "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def _remove(groups: dict[str, Path], wait_seconds: float = 5.0) -> None:
    """Kill every process in these groups until none is left, then remove them (a warning if they stay)."""
    if not groups:
        return
    give_up = time.monotonic() + wait_seconds
    for group in set(groups.values()):
        # cgroup v2 (Linux 5.14+) kills a whole group, forks in flight included, in one write.
        if (group / "cgroup.kill").exists():
            try:
                _write(group / "cgroup.kill", "1")
            except OSError:
                pass
    while members := _members(groups):
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > give_up:
            break
        time.sleep(0.01)
    for group in sorted(set(groups.values()), key=lambda path: len(path.parts), reverse=True):
        while True:
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as error:
                # EBUSY while the last killed process is still being torn down.
                if error.errno != errno.EBUSY or time.monotonic() > give_up:
                    log.warning("could not remove the run cgroup %s: %s", group, error)
                    break
                time.sleep(0.01)


def remove_leftover_groups() -> int:
    """Empty and remove the run groups of worker processes that are gone (a crashed worker's); how many."""
    names: set[str] = set()
    for parent in set(_PARENTS.values()):
        try:
            names.update(entry.name for entry in parent.iterdir() if entry.is_dir())
        except OSError:
            continue
    removed = 0
    for name in sorted(names):
        match = _RUN_NAME.match(name)
        if match is None:
            continue
        pid, started = int(match.group(1)), int(match.group(2))
        if _start_time(pid) == started:
            continue  # its worker is alive: the group is in use
        groups = {controller: parent / name for controller, parent in _PARENTS.items() if (parent / name).is_dir()}
        _remove(groups)
        removed += 1
    if removed:
        log.warning("removed %d run cgroup(s) left behind by a worker that is gone", removed)
    return removed


# --- which bound is in force -----------------------------------------------------------------


def _cgroup_mounts(mountinfo: str) -> tuple[Path | None, dict[str, Path]]:
    """The cgroup v2 mount, and each v1 controller's (memory, pids) mount, from /proc/self/mountinfo."""
    unified: Path | None = None
    legacy: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        mount, _, filesystem = line.partition(" - ")
        fields, kinds = mount.split(), filesystem.split()
        # Only whole hierarchies: a bind of part of one (a container's view) is not ours to manage.
        if len(fields) < 5 or len(kinds) < 3 or fields[3] != "/":
            continue
        if kinds[0] == "cgroup2" and unified is None:
            unified = Path(fields[4])
        elif kinds[0] == "cgroup":
            for controller in ("memory", "pids"):
                if controller in kinds[2].split(","):
                    legacy.setdefault(controller, Path(fields[4]))
    return unified, legacy


def _own_v2_group(mount: Path) -> Path:
    for line in (_PROC / "self" / "cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return mount / line[3:].strip().lstrip("/")
    raise OSError(errno.ENOENT, "this process is in no cgroup v2 group")


def _v2_parents(mount: Path) -> dict[str, Path]:
    """The v2 parent for run groups, with memory (and pids) enabled for its children.

    :raises OSError: when the memory controller cannot be had there.
    """
    base = _own_v2_group(mount)
    if base.name == WORKER_LEAF:
        base = base.parent  # moved there by an earlier worker: runs go beside it
    offered = (base / "cgroup.controllers").read_text().split()
    if "memory" not in offered:
        raise OSError(errno.ENOTSUP, "cgroup v2 offers no memory controller to this process's group")
    wanted = " ".join(f"+{name}" for name in ("memory", "pids") if name in offered)
    try:
        _write(base / "cgroup.subtree_control", wanted)
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise
        # Controllers only for groups without processes (the root aside): step into a leaf first,
        # when this process is alone in its group (a web server's siblings are not ours to move).
        if (base / "cgroup.procs").read_text().split() != [str(os.getpid())]:
            raise OSError(errno.EBUSY, "this process's cgroup holds other processes: give it one of its own") from None
        leaf = base / WORKER_LEAF
        leaf.mkdir(exist_ok=True)
        _write(leaf / "cgroup.procs", str(os.getpid()))
        _write(base / "cgroup.subtree_control", wanted)
    parent = base / APP_GROUP
    parent.mkdir(exist_ok=True)
    _write(parent / "cgroup.subtree_control", wanted)
    return {"memory": parent, "pids": parent}


def _v1_parents(legacy: dict[str, Path]) -> dict[str, Path]:
    """The v1 parents for run groups: memory required, pids where it is mounted and writable.

    :raises OSError: when the memory hierarchy is missing or not writable.
    """
    if "memory" not in legacy:
        raise OSError(errno.ENOENT, "no cgroup v1 memory hierarchy is mounted")
    parents = {"memory": legacy["memory"] / APP_GROUP}
    parents["memory"].mkdir(exist_ok=True)
    if "pids" in legacy:
        try:
            (legacy["pids"] / APP_GROUP).mkdir(exist_ok=True)
            parents["pids"] = legacy["pids"] / APP_GROUP
        except OSError as error:
            log.warning("no cgroup v1 pids group (%s); the process limit alone counts a run's tasks", error)
    return parents


def _trial(kind: str, limits: SandboxLimits) -> None:
    """Make a group, start a process in it through the join prefix, remove it.

    :raises OSError: when any step fails.
    """
    group = _create(kind, limits, _run_name())
    try:
        joined = subprocess.run(
            group.join_command(["/bin/cat", "/proc/self/cgroup"]),
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=10,
            check=False,
        )
        relative = group.groups["memory"].name
        if joined.returncode != 0 or relative not in joined.stdout.decode(errors="replace"):
            said = joined.stderr.decode(errors="replace").strip()[:200]
            raise OSError(errno.EPERM, f"a process could not join a trial group: {said}")
    finally:
        _remove(group.groups)


def _detect(limits: SandboxLimits) -> MemoryBound:
    unified, legacy = _cgroup_mounts((_PROC / "self" / "mountinfo").read_text())
    reasons = []
    candidates = [(CGROUP_V2, lambda: _v2_parents(unified))] if unified is not None else []
    candidates.append((CGROUP_V1, lambda: _v1_parents(legacy)))
    for kind, parents in candidates:
        try:
            _PARENTS.clear()
            _PARENTS.update(parents())
            _trial(kind, limits)
        except (OSError, subprocess.SubprocessError) as error:
            reasons.append(f"{kind}: {getattr(error, 'strerror', None) or error}")
            _PARENTS.clear()
            continue
        remove_leftover_groups()
        return MemoryBound(kind, limits.memory_bytes, limits.processes)
    from assessments.grading.slots import configured_slot_count

    meminfo = (_PROC / "meminfo").read_text()
    return process_limits_bound(meminfo, limits, configured_slot_count(), "; ".join(reasons) or "no cgroup hierarchy")


def memory_bound() -> MemoryBound:
    """The bound in force here for the default limits, found once per process (cleaning up leftovers then)."""
    global _BOUND
    with _LOCK:
        if _BOUND is None:
            from assessments.grading.sandbox import SandboxLimits

            _BOUND = _detect(SandboxLimits())
            log.info("memory bound: %s", _BOUND.describe())
        return _BOUND
