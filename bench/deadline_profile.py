"""Where the app servers spend their time under load: py-spy attached to gunicorn for the whole run.

`bench/deadline_night.py --profile` samples every gunicorn worker (py-spy, a bench-only
dependency: `pip install -e '.[bench]'`) from the first upload until everything is graded, keeps
the collapsed stacks in the instance folder (`profile.txt`, for a flame graph) and prints the
functions of the app and its libraries holding the most samples, inclusive (the function or
anything it called) and by self time. py-spy reads the workers' memory from outside (ptrace),
so nothing in the app changes; it costs CPU of its own, so compare latencies from runs without it.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# A frame in py-spy's raw output: "function (path/to/file.py:123)".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
ROOT = Path(__file__).resolve().parent.parent


def py_spy() -> str:
    """The py-spy executable next to this Python, or on the PATH.

    :raises SystemExit: naming the install command when it is missing.
    """
    here = Path(sys.executable).with_name("py-spy")
    found = str(here) if here.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install -e '.[bench]'")
    return found


class Profiler:
    """py-spy recording a process and its children until stopped."""

    def __init__(self, pid: int, output: Path, rate: int = 50) -> None:
        self.output = output
        self.log = output.with_suffix(".log")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [py_spy(), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw"]
                + ["--rate", str(rate), "--output", str(output)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        """Stop sampling; py-spy writes its output on SIGINT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("file")
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match.group('function')} ({path})"


def summary(output: Path, top: int = 25) -> str:
    """The functions holding the most samples, inclusive and by self time, as text."""
    if not output.exists():
        return f"no profile written (see {output.with_suffix('.log')})"
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in output.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "the profile holds no samples"
    lines = [f"profile of the gunicorn workers: {total} samples of busy threads ({output})", "  inclusive:"]
    app_frames = [(f, n) for f, n in inclusive.most_common() if "assessments/" in f or "templates/" in f]
    lines += [f"    {n / total:6.1%}  {f}" for f, n in app_frames[:top]]
    lines.append("  self:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)
