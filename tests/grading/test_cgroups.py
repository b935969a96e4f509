"""The memory bound per submission: the process-limits arithmetic, and the run cgroups' life on a real kernel."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assessments.grading import cgroups, slots
from assessments.grading.cgroups import PROCESS_LIMITS, MemoryBound, memory_bound, process_limits, run_cgroup
from assessments.grading.runtime import default_runtime_path
from assessments.grading.sandbox import SandboxLimits, sandbox_argv, sandbox_inputs
from assessments.grading.slots import worker_slot
from tests.grading.conftest import TEST_LIMITS

GiB = 1024**3
MiB = 1024**2


def _meminfo(total_bytes: int) -> str:
    return f"MemTotal:       {total_bytes // 1024} kB\nMemFree:        1024 kB\nMemAvailable:   2048 kB\n"


def _held(sandboxes: int, limits: cgroups.ProcessLimits) -> int:
    return sandboxes * (limits.processes * limits.per_process_bytes + limits.tmpfs_bytes)


def test_process_limits_fit_every_sandbox_beside_the_database() -> None:
    limits = SandboxLimits()  # 2 GiB, 64 processes, two 256 MiB tmpfs and a 64 MiB /dev/shm
    chosen = process_limits(_meminfo(64 * GiB), limits, sandboxes=4)
    # 25% of 64 GiB kept; 48 GiB over 4 sandboxes; each less its 576 MiB of tmpfs, over 8 tasks.
    assert chosen.reserve_bytes == 16 * GiB
    assert chosen.tmpfs_bytes == 576 * MiB
    assert chosen.processes == 8
    assert chosen.per_process_bytes == (12 * GiB - 576 * MiB) // 8
    assert chosen.fits and chosen.sandboxes_that_fit >= 4
    assert _held(4, chosen) <= 64 * GiB - 16 * GiB

    # A big machine: the per-process limit stays the run's own.
    roomy = process_limits(_meminfo(256 * GiB), limits, sandboxes=2)
    assert roomy.per_process_bytes == limits.memory_bytes and roomy.fits

    # A small machine keeps at least 2 GiB; too many slots for it is said, with the count that fits.
    small = process_limits(_meminfo(6 * GiB), limits, sandboxes=8)
    assert small.reserve_bytes == 2 * GiB
    assert not small.fits and small.per_process_bytes == GiB
    assert small.sandboxes_that_fit == 0
    bound = MemoryBound(PROCESS_LIMITS, small.per_process_bytes, small.processes, small, "no cgroup here")
    assert "does NOT fit even one sandbox" in bound.describe()

    tight = process_limits(_meminfo(24 * GiB), limits, sandboxes=8)
    assert not tight.fits and tight.sandboxes_that_fit == 2
    assert _held(tight.sandboxes_that_fit, tight) <= 24 * GiB - tight.reserve_bytes
    described = MemoryBound(PROCESS_LIMITS, tight.per_process_bytes, tight.processes, tight, "none").describe()
    assert "set ASSESS_SANDBOX_SLOTS to 2 or less" in described and "1 GiB of address space" in described

    # A run's own smaller limits are kept as they are.
    assert process_limits(_meminfo(64 * GiB), replace(limits, processes=4), 4).processes == 4


def test_under_process_limits_only_the_slots_that_fit_are_handed_out(monkeypatch) -> None:
    # 24 GiB, 8 slots configured: 8 sandboxes of 8 tasks at 1 GiB would not fit, 2 do.
    bound = cgroups.process_limits_bound(_meminfo(24 * GiB), SandboxLimits(), 8, "no writable cgroup")
    assert bound.kind == PROCESS_LIMITS and bound.fallback is not None
    assert bound.fallback.sandboxes == 2 and bound.fallback.fits
    assert _held(2, bound.fallback) <= 24 * GiB - bound.fallback.reserve_bytes
    assert "ASSESS_SANDBOX_SLOTS=8 cut to 2 so that they fit" in bound.describe()
    monkeypatch.setattr(cgroups, "_BOUND", bound)
    monkeypatch.setenv("ASSESS_SANDBOX_SLOTS", "8")
    assert slots.slot_count() == 2
    monkeypatch.setenv("ASSESS_SANDBOX_SLOTS", "1")
    assert slots.slot_count() == 1
    # With a cgroup holding each run, the configured count stands.
    monkeypatch.setattr(cgroups, "_BOUND", MemoryBound(cgroups.CGROUP_V1, 2 * GiB, 64))
    monkeypatch.setenv("ASSESS_SANDBOX_SLOTS", "8")
    assert slots.slot_count() == 8


def test_process_limits_need_the_machines_total() -> None:
    with pytest.raises(ValueError, match="MemTotal"):
        process_limits("MemFree: 10 kB\n", SandboxLimits(), 1)


HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PURE_V2 = """\
29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
77 60 0:26 /system.slice/x.service /mnt/part rw,relatime - cgroup2 cgroup2 rw
"""


def test_the_cgroup_hierarchies_are_found_in_mountinfo() -> None:
    assert cgroups._cgroup_mounts(HYBRID) == (
        Path("/sys/fs/cgroup/unified"),
        {"memory": Path("/sys/fs/cgroup/memory"), "pids": Path("/sys/fs/cgroup/pids")},
    )
    # A bind of part of a hierarchy (optional fields before the separator) is not a hierarchy's root.
    assert cgroups._cgroup_mounts(PURE_V2) == (Path("/sys/fs/cgroup"), {})


def test_a_v2_group_is_made_under_the_processs_own_group_with_memory_for_its_children(tmp_path, monkeypatch) -> None:
    # A stand-in for a delegated v2 subtree (this VM's v2 hierarchy offers no controllers): the
    # kernel's own refusals (EBUSY for a group with processes) are not reproduced here.
    mount, proc = tmp_path / "cgroup", tmp_path / "proc"
    own = mount / "system.slice" / "assess-worker.service"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpu io memory pids\n")
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text("0::/system.slice/assess-worker.service\n")
    monkeypatch.setattr(cgroups, "_PROC", proc)
    parents = cgroups._v2_parents(mount)
    assert parents == {"memory": own / "assessments", "pids": own / "assessments"}
    assert (own / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (own / "assessments" / "cgroup.subtree_control").read_text() == "+memory +pids"
    monkeypatch.setattr(cgroups, "_PARENTS", parents)
    group = cgroups._create(cgroups.CGROUP_V2, TEST_LIMITS, "run-1-2-3")
    assert group.procs_paths == (str(own / "assessments" / "run-1-2-3" / "cgroup.procs"),)
    assert (own / "assessments" / "run-1-2-3" / "memory.max").read_text() == str(TEST_LIMITS.memory_bytes)
    (own / "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(OSError, match="no memory controller"):
        cgroups._v2_parents(mount)


@pytest.fixture
def bound() -> MemoryBound:
    """The bound in force; skips (saying why) where the kernel gives this process no memory cgroup."""
    found = memory_bound()
    if found.kind == PROCESS_LIMITS:
        pytest.skip(f"no writable memory cgroup on this machine ({found.reason})")
    return found


def _own_groups() -> list[str]:
    prefix = f"run-{os.getpid()}-"
    return [p.name for parent in cgroups._PARENTS.values() for p in parent.iterdir() if p.name.startswith(prefix)]


def test_a_run_group_holds_its_processes_and_goes_with_them(bound: MemoryBound) -> None:
    with run_cgroup(TEST_LIMITS) as group:
        assert group.procs_path is not None and group.kind == bound.kind
        limit_file = "memory.max" if bound.kind == cgroups.CGROUP_V2 else "memory.limit_in_bytes"
        assert int((group.groups["memory"] / limit_file).read_text()) == TEST_LIMITS.memory_bytes
        sleeper = subprocess.Popen(group.join_command(["/bin/sleep", "600"]))
        deadline = time.monotonic() + 10
        while str(sleeper.pid) not in Path(group.procs_path).read_text().split() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert str(sleeper.pid) in Path(group.procs_path).read_text().split()
        assert _own_groups()
    sleeper.wait(timeout=10)
    assert sleeper.returncode == -9
    assert not _own_groups()


def test_leftover_groups_of_a_gone_worker_are_emptied_and_removed(bound: MemoryBound) -> None:
    # A previous worker with this pid (reused) but another start time: its group is a leftover.
    leftover = cgroups._create(bound.kind, TEST_LIMITS, f"run-{os.getpid()}-1-0")
    live = cgroups._create(bound.kind, TEST_LIMITS, cgroups._run_name())
    try:
        orphan = subprocess.Popen(leftover.join_command(["/bin/sleep", "600"]))
        deadline = time.monotonic() + 10
        while str(orphan.pid) not in Path(leftover.procs_path).read_text().split() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cgroups.remove_leftover_groups() >= 1
        orphan.wait(timeout=10)
        assert orphan.returncode == -9
        assert all(not path.exists() for path in leftover.groups.values())
        assert all(path.exists() for path in live.groups.values()), "a live worker's group was removed"
    finally:
        cgroups._remove(leftover.groups)
        cgroups._remove(live.groups)


def test_the_sandboxs_tmpfs_files_count_against_its_group(bound: MemoryBound, sandbox: SandboxLimits) -> None:
    runtime = default_runtime_path().resolve()
    write = (
        "import sys\nblock = bytes(range(256)) * 4096\n"
        "for i in range(32):\n    open(f'/tmp/f{i}', 'wb').write(block)\n"
        "for i in range(16):\n    open(f'/dev/shm/f{i}', 'wb').write(block)\n"
        "print('written', flush=True)\nsys.stdin.read()\n"
    )
    with worker_slot(30) as uid, run_cgroup(sandbox) as group, sandbox_inputs({}) as inputs:
        argv = sandbox_argv(sandbox, uid, inputs, runtime, [str(runtime / "bin" / "python"), "-c", write], group)
        proc = subprocess.Popen(
            argv,
            env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=[fd for fd, _ in inputs],
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"written\n"
            stat = dict(line.split() for line in (group.groups["memory"] / "memory.stat").read_text().splitlines())
            assert int(stat["shmem"]) >= 48 * MiB
        finally:
            proc.kill()
            proc.communicate()
