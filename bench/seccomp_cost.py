"""What the sandbox's seccomp filter costs: the same programs in the same sandbox with and without it.

    .venv/bin/python bench/seccomp_cost.py [--runs 7] [--syscalls 200000]

Each program runs in the cold sandbox's command line (sandbox.py), once with the filter (as every
grading runs, ``--seccomp``) and once without it (the filter's memory file left out of the inputs),
alternating: the runtime's Python starting and exiting; importing numpy and pandas; and a loop of
small system calls (``os.stat``), timed inside the sandbox, where a cost per system call would show.
Prints medians and the ratio with / without; never fails on speed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assessments.grading.runtime import default_runtime_path, runtime_python  # noqa: E402
from assessments.grading.sandbox import (  # noqa: E402
    _CLEAN_ENV,
    SECCOMP_INPUT,
    SandboxLimits,
    sandbox_argv,
    sandbox_inputs,
    sandbox_problem,
)
from assessments.grading.slots import worker_slot  # noqa: E402

PROGRAMS = {
    "python start": "pass",
    "import numpy, pandas": "import numpy, pandas",
    "system calls": (
        "import os, time\nstarted = time.perf_counter()\nfor _ in range({n}):\n    os.stat('/work')\n"
        "print(time.perf_counter() - started)"
    ),
}


def _run(source: str, with_filter: bool, uid: int | None, runtime: Path) -> float:
    """Seconds for one sandboxed run (for the system-call loop: the loop's own time, printed inside)."""
    with sandbox_inputs({}) as inputs:
        chosen = inputs if with_filter else [entry for entry in inputs if entry[1] != SECCOMP_INPUT]
        command = [str(runtime_python(runtime)), "-I", "-c", source]
        argv = sandbox_argv(SandboxLimits(), uid, chosen, runtime, command)
        started = time.perf_counter()
        done = subprocess.run(
            argv, env=_CLEAN_ENV, capture_output=True, check=True, pass_fds=[fd for fd, _ in chosen], timeout=120
        )
        seconds = time.perf_counter() - started
    printed = done.stdout.decode().strip()
    return float(printed) if printed else seconds


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--syscalls", type=int, default=200_000)
    args = parser.parse_args()
    problem = sandbox_problem()
    if problem is not None:
        print(f"no sandbox here: {problem}", file=sys.stderr)
        return 1
    runtime = default_runtime_path().resolve()
    slot = worker_slot(60) if os.geteuid() == 0 else contextlib.nullcontext(None)
    print(f"{'program':<22} {'with filter':>12} {'without':>12} {'ratio':>7}   (medians of {args.runs} runs)")
    with slot as uid:
        for name, template in PROGRAMS.items():
            source = template.format(n=args.syscalls)
            times: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(args.runs):
                for with_filter in (True, False):
                    times[with_filter].append(_run(source, with_filter, uid, runtime))
            on, off = statistics.median(times[True]), statistics.median(times[False])
            label = f"{name} ({args.syscalls:,})" if name == "system calls" else name
            print(f"{label:<22} {on * 1000:>10.1f}ms {off * 1000:>10.1f}ms {on / off:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
