"""What the memory bound per submission holds, and what its cgroup costs a sandbox start.

    .venv/bin/python bench/memory_bound.py [--runs 15] [--children 6] [--child-mib 300] [--limit-mib 1024]

1. Held: one sandbox starts ``--children`` processes that each fill ``--child-mib`` MiB and wait,
   under a ``--limit-mib`` limit, twice: bounded per process only (prlimit --as; the run's group has
   no memory limit and only measures the peak) and bounded per submission (the run's cgroup holds
   the limit, cgroups.py). Prints each peak, the children that held, and the ratio to the limit.
2. Cost: a trivial sandbox (``python -I -c pass``) started ``--runs`` times with a cgroup of its own
   and without (interleaved), medians and their ratio; and making plus removing an empty run group.

Needs root and a writable memory cgroup (it says so and stops otherwise). Never fails on speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assessments.grading.cgroups import PROCESS_LIMITS, memory_bound, run_cgroup  # noqa: E402
from assessments.grading.runtime import default_runtime_path  # noqa: E402
from assessments.grading.sandbox import SandboxLimits, sandbox_argv, sandbox_inputs  # noqa: E402
from assessments.grading.slots import worker_slot  # noqa: E402

MiB = 1024**2
CHILDREN = """
import subprocess, sys
child = "import sys; block = bytearray(b'x') * {size}; print('held', flush=True); sys.stdin.read()"
procs = [subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
         for _ in range({count})]
held = sum(proc.stdout.readline() == b"held\\n" for proc in procs)
print(held, flush=True)
for proc in procs:
    proc.stdin.close()
    proc.wait()
"""


def _sandbox(limits: SandboxLimits, group, command: list[str]) -> subprocess.CompletedProcess[bytes]:
    with worker_slot(60) as uid, sandbox_inputs({}) as inputs:
        argv = sandbox_argv(limits, uid, inputs, RUNTIME, command, group)
        return subprocess.run(
            argv,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            pass_fds=[fd for fd, _ in inputs],
            start_new_session=True,
            timeout=120,
            check=False,
        )


def held(limits: SandboxLimits, per_submission: bool, count: int, child_bytes: int) -> tuple[int, int]:
    """(children that held their memory, the run's peak in bytes) under this bound."""
    group_limits = limits if per_submission else replace(limits, memory_bytes=64 * 1024**3)
    code = CHILDREN.format(size=child_bytes, count=count)
    with run_cgroup(group_limits) as group:
        done = _sandbox(limits, group, [str(RUNTIME / "bin" / "python"), "-c", code])
        peak = group.peak_bytes() or 0
    lines = done.stdout.decode(errors="replace").split()
    return (int(lines[0]) if lines and lines[0].isdigit() else 0), peak


def start_seconds(limits: SandboxLimits, with_group: bool) -> float:
    """Seconds to start, run and end a trivial sandbox, with or without a cgroup of its own."""
    command = [str(RUNTIME / "bin" / "python"), "-I", "-c", "pass"]
    started = time.perf_counter()
    if with_group:
        with run_cgroup(limits) as group:
            _sandbox(limits, group, command)
    else:
        _sandbox(limits, None, command)
    return time.perf_counter() - started


def main() -> int:
    """Print the held table and the cost table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--children", type=int, default=6)
    parser.add_argument("--child-mib", type=int, default=300)
    parser.add_argument("--limit-mib", type=int, default=1024)
    args = parser.parse_args()
    bound = memory_bound()
    print(f"memory bound: {bound.describe()}")
    if bound.kind == PROCESS_LIMITS:
        print("no writable memory cgroup here: nothing to compare")
        return 1
    limits = SandboxLimits(memory_bytes=args.limit_mib * MiB)
    print(f"\n{args.children} children x {args.child_mib} MiB under a {args.limit_mib} MiB limit")
    print(f"{'bound':<16} {'children held':>13} {'peak MiB':>9} {'peak / limit':>12}")
    for name, per_submission in (("per process", False), ("per submission", True)):
        count, peak = held(limits, per_submission, args.children, args.child_mib * MiB)
        print(f"{name:<16} {count:>13} {peak / MiB:>9.0f} {peak / limits.memory_bytes:>12.2f}")

    with_group, without = [], []
    for _ in range(args.runs):
        without.append(start_seconds(limits, False))
        with_group.append(start_seconds(limits, True))
    empty = []
    for _ in range(args.runs):
        started = time.perf_counter()
        with run_cgroup(limits):
            pass
        empty.append(time.perf_counter() - started)
    plain, grouped = statistics.median(without), statistics.median(with_group)
    print(f"\ntrivial sandbox started and ended, median of {args.runs}:")
    print(f"  without a cgroup {plain * 1000:.1f} ms, with one {grouped * 1000:.1f} ms: ratio {grouped / plain:.2f}")
    print(f"  an empty run group made and removed: {statistics.median(empty) * 1000:.2f} ms")
    return 0


RUNTIME = default_runtime_path().resolve()

if __name__ == "__main__":
    raise SystemExit(main())
