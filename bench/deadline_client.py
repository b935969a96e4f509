"""The load generator of bench/deadline_night.py, a process of its own (run under `nice -n 19`).

Run by the bench, not by hand: `python bench/deadline_client.py PLAN.json RESULT.json`.

Why a Python process rather than `wrk`: each simulated person is a short scripted visit (read the
page's CSRF token, upload their own notebook at their own moment of the window, follow the
redirect, poll the status until it says checked; staff sign in and browse with a session cookie),
which is what the tables describe; wrk drives fixed requests as fast as it can. Kept apart from
the bench (which holds the app for its database checks and the fault threads) and at the lowest
priority, its threads compete with the server only for what the server leaves, and its own CPU
use is measured (getrusage of this process, every thread) and reported beside the tables.

The plan names the port, the staff and their password, and each candidate's token and notebook
file with the second of the upload window it is uploaded at. The client prints `uploads done
<seconds>` once every upload went through (or failed), keeps staff browsing and candidates polling
until its standard input says `stop` (or closes), then writes the timeline and its CPU use.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from deadline_people import Timeline, candidate_session, staff_session

# Threads for candidates at once: each one spends most of its life waiting between polls.
CANDIDATE_THREADS = 250


@dataclass(frozen=True)
class ClientResult:
    """What the load generator saw and what it cost."""

    timeline: Timeline
    upload_phase: float
    began: float
    wall_seconds: float
    cpu_seconds: float
    nice: int
    threads: int

    @classmethod
    def read(cls, path: Path) -> ClientResult:
        """The result file a client process wrote."""
        data = json.loads(path.read_text())
        data["timeline"] = Timeline.from_json(data["timeline"])
        return cls(**data)

    def describe(self) -> str:
        """One line: the client's CPU-seconds and its share of the machine over the run."""
        cores = os.cpu_count() or 1
        share = self.cpu_seconds / (self.wall_seconds * cores) if self.wall_seconds else 0.0
        return (
            f"{self.cpu_seconds:.1f} CPU-seconds over {self.wall_seconds:.0f} s: {share:.1%} of the {cores} cores "
            f"({self.cpu_seconds / max(self.wall_seconds, 1e-9):.2f} of one), at nice {self.nice}, {self.threads} threads"
        )


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(plan: dict, stop: threading.Event) -> dict:
    """Drive the plan; the timeline, the upload phase's length and this process's CPU use."""
    cpu_before, began_wall, began = cpu_seconds(), time.time(), time.monotonic()
    timeline = Timeline()
    staff = [
        threading.Thread(
            target=staff_session, args=(plan["port"], email, plan["password"], stop, timeline), daemon=True
        )
        for email in plan["staff"]
    ]
    for thread in staff:
        thread.start()
    schedule = sorted((at, token, Path(path).read_bytes()) for at, token, path in plan["candidates"])
    pool = ThreadPoolExecutor(max_workers=min(CANDIDATE_THREADS, len(schedule) or 1))
    uploads = []
    for at, token, payload in schedule:
        time.sleep(max(0.0, began + at - time.monotonic()))
        uploads.append(pool.submit(candidate_session, plan["port"], token, payload, timeline, stop))
    while timeline.uploads_settled < len(schedule) and not stop.is_set():
        time.sleep(0.2)
    upload_phase = time.monotonic() - began
    print(f"uploads done {upload_phase:.3f}", flush=True)
    stop.wait()
    pool.shutdown(wait=True)
    for thread in staff:
        thread.join(timeout=60)
    wall = time.monotonic() - began
    return {
        "timeline": timeline.to_json(),
        "upload_phase": upload_phase,
        "began": began_wall,
        "wall_seconds": wall,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "nice": os.nice(0),
        "threads": len(staff) + min(CANDIDATE_THREADS, len(schedule) or 1),
    }


def main(argv: list[str]) -> int:
    """Read the plan, drive it until told to stop, write the result."""
    plan_path, result_path = argv
    plan = json.loads(Path(plan_path).read_text())
    stop = threading.Event()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    result = run(plan, stop)
    Path(result_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
