"""Fork grading (forkserver.py): siblings forked from one template cannot reach each other, and the
template itself never runs candidate code. The attack suite (test_sandbox_attacks.py) runs on this
path too, through its ``grade`` and ``grade_cold_or_fork`` fixtures.

Pattern as in the attack suite: each notebook first answers every part correctly, then attacks; an
attack that works overwrites an answer, so full marks with the attack cell ended "ok" means
"tried and contained".
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from assessments.grading.forkserver import ForkServer
from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import GradeReport
from tests.grading.conftest import SEED, TEST_LIMITS

pytestmark = pytest.mark.sandbox

# How long each sibling's attack cell runs: both must be running at once for the test to mean anything.
OVERLAP_SECONDS = 2.0


def _assert_all_correct(report: GradeReport) -> None:
    assert report.error is None, report.error
    wrong = {c.part_id: (c.status, c.message) for c in report.checks if c.status != "correct"}
    assert not wrong, wrong
    assert report.earned == report.possible == 9
    assert report.cells[-1].status == "ok", report.cells[-1]


def _victim(secret: str) -> str:
    """A run that leaves its secret everywhere a sibling might look, listens, and needs processes of its own."""
    return f"""
import ctypes, os, socket, time
SECRET = {secret!r}
places = ["/work/sibling-secret.txt", "/tmp/sibling-secret.txt", "/dev/shm/sibling-secret"]
for path in places:
    with open(path, "w") as handle:
        handle.write(SECRET)
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(0x5EED, 4096, 0o1666)  # IPC_CREAT | 0666
assert shmid >= 0, ctypes.get_errno()
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmat(shmid, None, 0)
ctypes.memmove(segment, SECRET.encode(), len(SECRET))
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind("\\0assess-sibling")
listener.listen(8)
listener.setblocking(False)
accepted = 0
stop = time.monotonic() + {OVERLAP_SECONDS}
while time.monotonic() < stop:
    try:
        listener.accept()[0].close()
        accepted += 1
    except BlockingIOError:
        time.sleep(0.02)
# While the sibling holds every process its own limit allows, this run still starts its own.
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
intact = all(open(path).read() == SECRET for path in places)
intact &= ctypes.string_at(segment, len(SECRET)) == SECRET.encode()
if accepted or not intact:
    total = -1.0
"""


_ATTACKER = f"""
import ctypes, glob, os, signal, socket, time
MARK = "sibling" + "-secret-"  # not spelled out: this notebook is in its own /work
libc = ctypes.CDLL(None, use_errno=True)
me = os.getpid()
found = []
children = []
while True:  # take every process this run may have, and hold them
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
assert len(children) >= 40, len(children)
stop = time.monotonic() + {OVERLAP_SECONDS}
while time.monotonic() < stop:
    paths = glob.glob("/work/*") + glob.glob("/tmp/*") + glob.glob("/dev/shm/*")
    paths += glob.glob("/proc/*/root/work/*") + glob.glob("/proc/*/cwd/*") + glob.glob("/proc/*/root/tmp/*")
    for path in paths:
        try:
            if MARK in open(path, errors="replace").read(4096):
                found.append(path)
        except OSError:
            pass
    visible = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    found += [("pid", p) for p in visible if p not in (1, me, *children)]
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect("\\0assess-sibling")
        found.append("abstract socket")
    except OSError:
        pass
    probe.close()
    if libc.shmget(0x5EED, 0, 0) >= 0:
        found.append("SysV shared memory")
    os.kill(-1, signal.SIGSTOP)  # every process this run may signal, its own children included
    time.sleep(0.05)
for pid in range(2, 1 << 15):  # every pid that answers must be this run's own (a new namespace counts from 1)
    if pid in (me, *children):
        continue
    try:
        os.kill(pid, signal.SIGKILL)
        found.append(("killed", pid))
    except ProcessLookupError:
        pass
    except PermissionError:
        found.append(("exists", pid))
os.kill(-1, signal.SIGKILL)
for pid in children:
    os.waitpid(pid, 0)
if found:
    top_group = str(found[:5])
"""


@pytest.fixture(scope="module")
def roomy_forks() -> Iterator[ForkServer]:
    """A template whose runs have room for the sibling attacks' long cells on a busy machine."""
    server = ForkServer(dataclasses.replace(TEST_LIMITS, cell_seconds=20))
    server.start()
    yield server
    server.close()


def test_two_siblings_at_once_cannot_read_reach_or_signal_each_other(roomy_forks, case, solved) -> None:
    fork_server = roomy_forks
    secret = "sibling-secret-" + secrets.token_hex(8)
    notebooks = [solved(_victim(secret)), solved(_ATTACKER)]
    spans = []

    def grade(notebook: nbformat.NotebookNode) -> GradeReport:
        started = time.monotonic()
        report = grade_notebook(notebook, case, SEED, pool=fork_server)
        spans.append((started, time.monotonic()))
        return report

    lost = fork_server.lost
    with ThreadPoolExecutor(max_workers=2) as executor:
        victim, attacker = executor.map(grade, notebooks)
    assert fork_server.lost == lost, "the fork path was not taken"
    # Both attack cells ran for OVERLAP_SECONDS and both runs were in flight for most of it.
    (first_start, first_end), (second_start, second_end) = spans
    assert min(first_end, second_end) - max(first_start, second_start) > OVERLAP_SECONDS * 0.6
    _assert_all_correct(attacker)
    _assert_all_correct(victim)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, value in (line.split(":", 1) for line in lines)}


def test_the_template_never_runs_candidate_code(fork_server, case, solved) -> None:
    template = fork_server.template_pid
    assert template is not None
    before = _status(template)
    environ = Path(f"/proc/{template}/environ").read_bytes().split(b"\0")
    assert sorted(item.split(b"=")[0] for item in environ if item) == [
        b"MKL_NUM_THREADS",
        b"OMP_NUM_THREADS",
        b"OPENBLAS_NUM_THREADS",
        b"PATH",
    ]
    leave = solved(
        """
import numpy, pandas, sys
numpy.assess_left_here = pandas.assess_left_here = "by an earlier run"
sys.modules["assess_left_here"] = numpy
hog = bytearray(256 * 1024**2)
assert numpy.assess_left_here == "by an earlier run"
"""
    )
    look = solved(
        """
import numpy, pandas, sys
if hasattr(numpy, "assess_left_here") or hasattr(pandas, "assess_left_here") or "assess_left_here" in sys.modules:
    total = -1.0
"""
    )
    for notebook in (leave, look):
        _assert_all_correct(grade_notebook(notebook, case, SEED, pool=fork_server))
    after = _status(template)
    assert fork_server.template_pid == template
    assert (after["Uid"], after["Threads"], after["PPid"]) == (before["Uid"], "1", str(os.getpid()))
    grown = int(after["VmRSS"].split()[0]) - int(before["VmRSS"].split()[0])
    assert grown < 16 * 1024, f"the template grew by {grown} kB"


def test_the_forked_kernel_holds_no_descriptor_but_its_own(fork_server, case, solved) -> None:
    # Forked, not exec'd: whatever the template or the runner had open would still be open here (the
    # template's socket, the worker's stderr, the result pipe, the submission's memory file).
    probe = """
import os
links = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        links[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass  # the listing's own descriptor, closed by now
standard = [links.pop(fd) for fd in (0, 1, 2)]
if standard != ["/dev/null"] * 3 or len(links) != 2 or not all(link.startswith("pipe:") for link in links.values()):
    total = -1.0
"""
    _assert_all_correct(grade_notebook(solved(probe), case, SEED, pool=fork_server))


def _comparable(report: GradeReport) -> dict:
    """A report without what differs from run to run (timings, per-cell seconds)."""
    data = dataclasses.asdict(report)
    data.pop("timings")
    for cell in data["cells"]:
        cell.pop("seconds")
    return data


def test_a_fork_grades_exactly_as_a_cold_sandbox(fork_server, case, solved, released, sandbox) -> None:
    partly = solved(before_answers=("1 / 0", "raise ValueError('not done yet')"))
    for notebook in (solved(), released, partly):
        cold = grade_notebook(notebook, case, SEED, limits=sandbox)
        forked = grade_notebook(notebook, case, SEED, pool=fork_server)
        assert forked.timings.warm and not cold.timings.warm
        assert _comparable(forked) == _comparable(cold)


def test_a_fork_server_that_cannot_start_says_why_and_grading_goes_cold(case, solved, sandbox, monkeypatch) -> None:
    monkeypatch.setattr("assessments.grading.forkserver.TEMPLATE", Path("/nonexistent/template.py"))
    server = ForkServer(sandbox, startup_seconds=20)
    try:
        report = grade_notebook(solved(), case, SEED, pool=server)
    finally:
        server.close()
    assert (server.handed_out, server.lost) == (1, 1)
    assert not report.timings.warm
    _assert_all_correct(report)
