"""Adversarial notebooks, each run through grade_notebook in the real sandbox.

Pattern: the notebook first answers every part correctly, then attacks; an attack that works
overwrites an answer with a wrong value, so "the attack failed and the notebook was graded" is
"every check is still correct" (plus the attack cell ran to its end, so the attack really ran).
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from assessments.grading import cgroups
from assessments.grading.cgroups import PROCESS_LIMITS, memory_bound
from assessments.grading.report import GradeReport, RunFailure
from assessments.grading.runtime import default_runtime_path
from assessments.grading.sandbox import RUNNER_DIR, SandboxLimits
from tests.grading.conftest import FIXTURE_CASE, grade_cold_or_warm

pytestmark = pytest.mark.sandbox

PARTS = ("total", "top_group", "has_negative", "flagged", "group_means")


def _assert_all_correct(report: GradeReport) -> None:
    assert report.error is None, report.error
    wrong = {c.part_id: (c.status, c.message) for c in report.checks if c.status != "correct"}
    assert not wrong, wrong
    assert report.earned == report.possible == 9


def _last_cells(report: GradeReport, count: int) -> list:
    return list(report.cells[-count:])


def _kill_cells_ok(report: GradeReport, count: int) -> None:
    for cell in _last_cells(report, count):
        assert cell.status == "ok", cell


# --- network -----------------------------------------------------------------------------


def test_no_network_neither_the_hosts_loopback_nor_a_route_out(solved, grade) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    # Control: the server is reachable from outside the sandbox, so the test can fail.
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.accept()[0].close()
    attack = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    total = -1.0
except OSError:
    pass
try:
    # connect() on UDP only looks up a route; it sends nothing. 192.0.2.1 is a documentation address.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("192.0.2.1", 9))
    has_negative = not has_negative
except OSError:
    pass
"""
    report = grade(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()


# --- reading what is not the candidate's ------------------------------------------------------


def test_cannot_read_secrets_the_app_other_candidates_or_the_key(solved, grade, tmp_path, monkeypatch) -> None:
    secret = "s3cr3t-" + os.urandom(8).hex()
    monkeypatch.setenv("ASSESS_TEST_SECRET", secret)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "app.db").write_text(secret)
    other_run = Path(tempfile.mkdtemp(prefix="assess-run-"))
    (other_run / "other.ipynb").write_text(secret)
    (other_run / "rows.csv").write_text(secret)
    os.chmod(other_run, 0o755)
    project = Path(__file__).resolve().parents[2]
    paths = [
        str(instance / "app.db"),
        str(other_run / "other.ipynb"),
        str(other_run / "rows.csv"),
        str(FIXTURE_CASE / "generator.py"),
        str(project / "assessments" / "grading" / "pipeline.py"),
        str(project / "instance"),
        "/etc/shadow",
        "/root/.pyenv",
    ]
    attack = f"""
import glob, os
secret_seen = any({secret!r} in v for v in os.environ.values())
for path in glob.glob("/proc/*/environ"):
    try:
        secret_seen |= {secret!r}.encode() in open(path, "rb").read()
    except OSError:
        pass
if secret_seen:
    top_group = "leaked"
readable = []
for path in {paths!r}:
    try:
        if os.path.isdir(path):
            readable.append((path, os.listdir(path)))
        else:
            readable.append((path, open(path, "rb").read(100)))
    except OSError:
        pass
if readable:
    total = -1.0
if glob.glob("/tmp/assess-run-*") or glob.glob("/tmp/pytest-of-*"):
    flagged = ["other-runs-visible"]
"""
    try:
        report = grade(solved(attack))
    finally:
        for child in other_run.iterdir():
            child.unlink()
        other_run.rmdir()
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_detecting_the_grader_finds_no_key_to_use(solved, grade_cold_or_fork) -> None:
    runtime = str(default_runtime_path())
    attack = f"""
import os
graded = os.getcwd() == "/work" or os.environ.get("USER") == "candidate"
found = []
if graded:
    for root, dirs, files in os.walk("/"):
        if root in ("/proc", "/sys", "/dev", "/usr", "/work"):  # /work holds the candidate's own files
            dirs[:] = []
            continue
        for name in files:
            path = os.path.join(root, name)
            if name in ("case.toml", "brief.md", ".env") or "tiny-sums" in name or name.endswith((".db", ".sqlite")):
                found.append(path)
            elif name.endswith(".py") and not path.startswith({runtime!r}):
                try:
                    if "answer_key" in open(path, errors="replace").read():
                        found.append(path)
                except OSError:
                    pass
if found:
    group_means = {{"found": 1.0}}
"""
    report = grade_cold_or_fork(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


# --- writing ----------------------------------------------------------------------------


def test_writes_outside_the_scratch_folder_do_not_reach_the_host(solved, grade_cold_or_fork, tmp_path) -> None:
    targets = [
        tmp_path / "pwned.txt",
        RUNNER_DIR / "pwned.txt",
        default_runtime_path() / "pwned.txt",
        Path("/usr/pwned.txt"),
    ]
    attack = f"""
import os
for path in {[str(t) for t in targets]!r}:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("pwned")
    except OSError:
        pass
with open("scratch-output.txt", "w") as handle:  # writing in the working folder is allowed
    handle.write("fine")
"""
    report = grade_cold_or_fork(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)
    assert not [t for t in targets if t.exists()]


def test_a_one_gigabyte_file_stops_at_the_file_size_limit(solved, grade_cold_or_fork) -> None:
    attack = """
with open("big.bin", "wb") as handle:
    for _ in range(1024):
        handle.write(bytes(1024 * 1024))
"""
    report = grade_cold_or_fork(solved(attack))
    _assert_all_correct(report)
    last = report.cells[-1]
    assert last.status == "error" and "File too large" in last.error


def test_filling_shared_memory_and_dev_stops_at_a_small_cap(solved, sandbox, grade_cold_or_fork) -> None:
    # bwrap's /dev and /dev/shm were tmpfs of half the host's memory: two gradings filling them could
    # take the host (and its database) down. /dev/shm is now capped, /dev read-only.
    attack = f"""
import errno, os
cap = {sandbox.shm_bytes}
assert os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize <= cap
written = 0
try:
    for i in range(4 * cap // (8 * 1024**2)):
        with open(f"/dev/shm/fill{{i}}", "wb") as handle:
            for _ in range(8):
                handle.write(bytes(1024**2))
                written += 1024**2
except OSError as error:
    assert error.errno == errno.ENOSPC, error
assert written <= cap, written
try:
    open("/dev/fill", "wb").write(bytes(1024**2))
except OSError as error:
    assert error.errno == errno.EROFS, error
else:
    raise AssertionError("/dev is writable")
for i in range(4 * cap // (8 * 1024**2)):
    if os.path.exists(f"/dev/shm/fill{{i}}"):
        os.remove(f"/dev/shm/fill{{i}}")
"""
    report = grade_cold_or_fork(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_every_writable_tmpfs_is_size_capped_and_the_root_is_read_only(solved, grade, sandbox) -> None:
    # bwrap's own root was a tmpfs of half the host's memory that the slot user could fill (/, /var,
    # /opt): under process limits alone two gradings filling it could take the host down.
    cap = max(sandbox.scratch_bytes, sandbox.shm_bytes)
    attack = f"""
import errno, os
units = {{"k": 1024, "m": 1024**2, "g": 1024**3}}
uncapped = []
for line in open("/proc/self/mounts"):
    target, kind, options = line.split()[1:4]
    options = options.split(",")
    if kind == "tmpfs" and "rw" in options:
        sizes = [o[5:] for o in options if o.startswith("size=")]
        size = int(sizes[0].rstrip("kmg")) * units.get(sizes[0][-1], 1) if sizes else None
        if size is None or size > {cap}:
            uncapped.append(target)
for folder in ("/", "/var", "/opt"):
    try:
        with open(os.path.join(folder, "fill"), "wb") as handle:
            handle.write(b"x")
        uncapped.append(folder)
    except OSError as error:
        assert error.errno in (errno.EROFS, errno.EACCES, errno.ENOENT), error
if uncapped:
    flagged = uncapped
"""
    report = grade(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


# --- resources --------------------------------------------------------------------------


def test_graded_code_runs_below_the_web_servers_priority_and_cannot_raise_it(solved, grade_cold_or_fork) -> None:
    probe = """
import os
assert os.nice(0) == 10, os.nice(0)
try:
    os.setpriority(os.PRIO_PROCESS, 0, 0)
except PermissionError:
    pass
assert os.getpriority(os.PRIO_PROCESS, 0) == 10
"""
    report = grade_cold_or_fork(solved(probe))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_a_fork_bomb_is_contained_and_the_notebook_still_graded(solved, grade, monkeypatch) -> None:
    # Slot uids of this test alone: other graders on the machine (a worker, a benchmark) use the
    # default range, and their live sandboxes are not this run's leftovers.
    base = 61000 + (os.getpid() % 100) * 10
    monkeypatch.setenv("ASSESS_SANDBOX_UID_BASE", str(base))
    monkeypatch.setenv("ASSESS_SANDBOX_SLOTS", "8")
    bomb = """
import os
kernel = os.getpid()
try:
    while True:
        try:
            os.fork()
        except OSError:
            pass
finally:
    if os.getpid() != kernel:
        os._exit(0)
"""
    report = grade(solved(bomb))
    _assert_all_correct(report)
    assert report.cells[-1].status == "timeout"
    slot_uids = range(base, base + 8)
    # A zombie runs nothing (bubblewrap leaves its namespace's init for the machine's init to reap).
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _uid_of(p) in slot_uids and not _zombie(p)]
    assert not leftovers


def test_orphans_are_collected_and_do_not_use_up_the_process_limit(solved, grade) -> None:
    # The runner is the sandbox's init, so every orphan becomes its child: one it never collected
    # would count against the process limit (64) until the run ends. 90 orphans over six cells.
    orphans = """
import os
for _ in range(15):
    child = os.fork()
    if child == 0:
        if os.fork() == 0:
            os._exit(0)
        os._exit(0)
    os.waitpid(child, 0)
"""
    report = grade(solved(*[orphans] * 6))
    _assert_all_correct(report)
    _kill_cells_ok(report, 6)


def _uid_of(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def _zombie(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True  # gone meanwhile


def test_allocating_eight_gibibytes_fails_only_that_cell(solved, grade_cold_or_fork) -> None:
    report = grade_cold_or_fork(solved("import numpy\nhog = numpy.ones(8 * 1024**3, dtype=numpy.uint8)"))
    _assert_all_correct(report)
    assert report.cells[-1].status == "error" and report.cells[-1].error.startswith("MemoryError")


@pytest.fixture(params=["cold", "warm", "fork"])
def grade_bounded(request: pytest.FixtureRequest, case, sandbox):
    """grade_cold_or_warm (the grade fixture's cold, warm and fork paths) under limits of a test's own.

    Where the kernel gives this process no memory cgroup, the test is skipped, saying why.
    """
    bound = memory_bound()
    if bound.kind == PROCESS_LIMITS:
        pytest.skip(f"no writable memory cgroup on this machine ({bound.reason})")
    return lambda notebook, limits: grade_cold_or_warm(request.param, notebook, case, limits)


def _bounded(sandbox: SandboxLimits, memory_bytes: int) -> SandboxLimits:
    # A notebook past its memory bound runs slowly at first (the kernel reclaims what it can before it
    # kills), so the cell gets time enough on a loaded machine.
    return replace(sandbox, memory_bytes=memory_bytes, cell_seconds=30)


def test_children_together_are_held_to_the_memory_bound_of_the_submission(solved, grade_bounded, sandbox) -> None:
    # prlimit bounds each process: six children of 300 MiB (1.8 GiB) were all held under a 1 GiB
    # limit before a run had a memory cgroup of its own. Now the run holds at most its bound, the
    # biggest go, the candidate reads why, and every answer is still graded.
    limits = _bounded(sandbox, 1024**3)
    attack = f"""
import subprocess, sys
child = "import sys; block = bytearray(b'x') * {300 * 1024**2}; print('held', flush=True); sys.stdin.read()"
procs = [subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(6)]
held = sum(proc.stdout.readline() == b"held\\n" for proc in procs)
for proc in procs:
    proc.stdin.close()
codes = [proc.wait() for proc in procs]
if held == 6:
    total = -1.0
if any(codes):
    raise ChildProcessError(f"{{held}} of 6 held their memory; exit codes {{codes}}")
"""
    report = grade_bounded(solved(attack), limits)
    _assert_all_correct(report)
    last = report.cells[-1]
    assert last.status == "error", last
    assert last.error.startswith("MemoryError: more than 1 GiB of memory in total (the limit for one submission")
    assert "ChildProcessError" in last.error and "-9" in last.error
    assert not _run_groups_of_this_process()


def test_a_kernel_past_the_memory_bound_is_stopped_and_reported_in_words(solved, grade_bounded, sandbox) -> None:
    # The kernel is the biggest process when the bound is reached (900 MiB, then a child's 800 MiB,
    # under 1.5 GiB): the OOM killer ends it, and the report says it was memory, not a crash.
    limits = _bounded(sandbox, 3 * 1024**3 // 2)
    attack = f"""
import subprocess, sys
hog = bytearray(b"x") * {900 * 1024**2}
child = "import sys; block = bytearray(b'x') * {800 * 1024**2}; print('held', flush=True); sys.stdin.read()"
proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
if proc.stdout.readline() == b"held\\n":
    total = -1.0
"""
    report = grade_bounded(solved(attack), limits)
    died = report.cells[-1]
    assert died.status == "kernel-died" and died.error.startswith("MemoryError: more than 1.5 GiB"), died
    assert report.failure == RunFailure.KERNEL_DIED
    assert report.error is not None
    assert f"stopped while running cell {died.index + 1} because the notebook used more than 1.5 GiB" in report.error
    assert all(c.status == "missing" for c in report.checks)
    assert not _run_groups_of_this_process()


def _run_groups_of_this_process() -> list[str]:
    prefix = f"run-{os.getpid()}-"
    return [p.name for parent in cgroups._PARENTS.values() for p in parent.iterdir() if p.name.startswith(prefix)]


def test_an_infinite_loop_and_a_failing_cell_fail_only_themselves(solved, grade_cold_or_fork) -> None:
    notebook = solved(before_answers=("while True:\n    pass", "1 / 0"))
    loop = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("while True"))
    answer = {
        c.metadata["assess"]["answer"]: i
        for i, c in enumerate(notebook.cells)
        if "answer" in c.metadata.get("assess", {})
    }
    notebook.cells[answer["flagged"]].source = "flagged = rows.loc[rows['value'] > 2, 'identifier'].tolist()"
    report = grade_cold_or_fork(notebook)
    assert report.error is None, report.error
    statuses = {c.index: (c.status, c.error) for c in report.cells}
    assert statuses[loop][0] == "timeout"
    assert statuses[loop + 1] == ("error", "ZeroDivisionError: division by zero")
    flagged = report.check("flagged")
    assert flagged.status == "missing"
    assert f"cell {answer['flagged'] + 1}" in flagged.message and "KeyError" in flagged.message
    assert all(report.check(p).status == "correct" for p in PARTS if p != "flagged")
    assert report.earned == 7


def test_a_cell_that_ignores_interrupts_is_ended_and_reported(solved, sandbox, grade_cold_or_fork) -> None:
    attack = """
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    try:
        time.sleep(0.01)
    except BaseException:
        pass
"""
    notebook = solved(before_answers=(attack,))
    report = grade_cold_or_fork(notebook)
    stuck = next(c for c in report.cells if c.status != "ok")
    assert stuck.status == "kernel-died" and "ignored the interrupt" in stuck.error, report.cells
    assert report.error is not None and f"Cell {stuck.index + 1} ran past the" in report.error
    assert "ignored the interrupt" in report.error and report.failure == RunFailure.INTERRUPT_IGNORED
    assert report.earned == 0 and all(c.status == "missing" for c in report.checks)
    assert report.timings.total < sandbox.wall_seconds


def test_fifty_megabytes_of_printed_output_are_discarded(solved, grade_cold_or_fork) -> None:
    attack = """
import os, sys
chunk = "x" * (1024 * 1024)
for _ in range(50):
    print(chunk)
os.write(1, b"y" * (10 * 1024 * 1024))
os.write(2, b"z" * (10 * 1024 * 1024))
"""
    report = grade_cold_or_fork(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_a_dying_kernel_is_reported_in_words(solved, grade_cold_or_fork) -> None:
    notebook = solved(before_answers=("import os\nos._exit(3)",))
    report = grade_cold_or_fork(notebook)
    assert report.error is not None and "kernel died" in report.error
    assert report.failure == RunFailure.KERNEL_DIED
    assert GradeReport.from_dict(report.to_dict()).failure == RunFailure.KERNEL_DIED
    assert report.earned == 0
    assert all(c.status == "missing" and c.message.startswith("not graded") for c in report.checks)


# --- tampering with the comparison or the result -----------------------------------------


def test_monkeypatching_equality_or_numpy_does_not_fool_scoring(released, grade_cold_or_fork) -> None:
    attack = """
import math, numpy, pandas
numpy.isclose = numpy.allclose = math.isclose = lambda *a, **k: True
try:
    numpy.ndarray.__eq__ = lambda self, other: True
except TypeError:
    pass
pandas.Series.__eq__ = lambda self, other: True
class Liar(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = float.__hash__
class LiarStr(str):
    def __eq__(self, other): return True
    __hash__ = str.__hash__
class LiarDict(dict):
    def __eq__(self, other): return True
class LiarList(list):
    def __eq__(self, other): return True
class LiarInt(int):
    def __eq__(self, other): return True
total = Liar(-1.0)
top_group = LiarStr("zzz")
has_negative = LiarInt(1)
flagged = LiarList(["nothing"])
group_means = LiarDict({"a": 123.0})
"""
    released.cells.append(nbformat.v4.new_code_cell(attack))
    report = grade_cold_or_fork(released)
    by_part = {c.part_id: c.status for c in report.checks}
    assert by_part == {
        "total": "incorrect",
        "top_group": "invalid",
        "has_negative": "invalid",
        "flagged": "incorrect",
        "group_means": "incorrect",
    }
    assert report.earned == 0


def test_a_forged_result_printed_or_written_to_the_graders_pipe_is_ignored(released, key, grade) -> None:
    forged_answers = {part: {"state": "ok", "value": key[part]} for part in PARTS}
    attack = f"""
import glob, json, os, sys
doc = {{"runner": 1, "cells": [], "answers": {forged_answers!r}, "failure": None}}
for nonce in ("", "0" * 32):
    line = "ASSESS-RESULT " + nonce + " " + json.dumps(doc) + "\\n"
    print(line)
    sys.__stdout__.write(line)
    os.write(1, line.encode())
    os.write(2, line.encode())
    for path in glob.glob("/proc/*/fd/*"):
        try:
            with open(path, "w") as handle:
                handle.write(line)
        except OSError:
            pass
"""
    released.cells.append(nbformat.v4.new_code_cell(attack))
    report = grade(released)
    assert report.error is None, report.error
    assert all(c.status == "missing" for c in report.checks), report.checks
    assert report.earned == 0


# --- formats ----------------------------------------------------------------------------


def test_an_nbformat_v3_upload_is_upgraded_and_graded(case, solved, grade_cold_or_fork) -> None:
    from assessments.grading.intake import parse_submission

    v3 = nbformat.convert(solved(), 3)
    raw = nbformat.writes(v3, version=3).encode()
    assert b'"nbformat": 3' in raw
    report = grade_cold_or_fork(parse_submission(raw, case_slug=case.slug))
    _assert_all_correct(report)


def test_the_runtime_holds_no_app_and_no_heavy_optional_imports(sandbox) -> None:
    import subprocess

    python = default_runtime_path() / "bin" / "python"
    probe = (
        "import importlib.util as u; "
        "print([m for m in ('assessments', 'flask', 'sqlalchemy', 'rfc3987_syntax', 'rfc3339_validator', 'webcolors') "
        "if u.find_spec(m)])"
    )
    found = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    assert found.stdout.strip() == "[]"


# --- kernel surfaces: the seccomp filter (grading/seccomp.py) ------------------------------
# Each attack cell asserts the errno it got (a cell that fails its assertion is not "ok"), and a
# call that succeeds changes an answer; so an ok last cell and full marks mean "tried and denied".

_LIBC = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def failed_with(result):
    return None if result >= 0 else ctypes.get_errno()
"""


def test_ptrace_of_init_and_of_the_runner_is_denied(solved, grade) -> None:
    # The runner (the executor's parent) holds the run's nonce; pid 1 is the run's init.
    attack = (
        _LIBC
        + """
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buffer = ctypes.create_string_buffer(4096)
denied = []
for target in (1, os.getppid()):
    for request in (PTRACE_ATTACH, PTRACE_SEIZE):
        got = failed_with(libc.ptrace(request, target, None, None))
        if got is None:
            os.waitpid(target, 0x40000000)  # __WALL
            libc.ptrace(PTRACE_DETACH, target, None, None)
            total = -1.0
        denied.append(got)
    try:  # a real address when the target's map can be read (seccomp answers before the address matters)
        stack = next(line for line in open(f"/proc/{target}/maps") if "[stack]" in line)
        address = int(stack.split("-")[0], 16)
    except OSError:
        address = 0x400000
    local, remote = IoVec(ctypes.addressof(buffer), 4096), IoVec(address, 4096)
    got = failed_with(libc.syscall(310, target, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))  # process_vm_readv
    if got is None:
        top_group = "read-another-process"
    denied.append(got)
assert denied == [errno.EPERM] * 6, denied
"""
    )
    report = grade(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_the_memory_of_init_and_of_the_runner_cannot_be_read_through_proc(solved, grade) -> None:
    # Init was bubblewrap's own reaper, dumpable: its memory could be read and written, and its fd 1
    # is the grader's pipe. The runner is init now, and neither is dumpable.
    attack = """
import errno, os
tried = 0
for pid in sorted({1, os.getppid()}):
    for path in (f"/proc/{pid}/mem", f"/proc/{pid}/environ", f"/proc/{pid}/fd/1", f"/proc/{pid}/maps"):
        tried += 1
        try:
            open(path, "rb").close()
            flagged = ["opened " + path]
        except OSError as error:
            assert error.errno in (errno.EACCES, errno.EPERM), (path, error)
assert tried >= 4
"""
    report = grade(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_nested_user_namespaces_cannot_be_made(solved, grade) -> None:
    # Today's classic: a user namespace of one's own regains every capability inside it (mounts,
    # a network of its own, ...). unshare(2), clone(2) with CLONE_NEW*, and the unshare program.
    attack = (
        _LIBC
        + """
import subprocess
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, SIGCHLD = 0x10000000, 0x00020000, 0x40000000, 17
denied = [failed_with(libc.unshare(flag)) for flag in (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET)]
if None in denied:
    total = -1.0
for flag in (CLONE_NEWUSER, CLONE_NEWUSER | CLONE_NEWNS):
    child = libc.syscall(56, flag | SIGCHLD, None, None, None, 0)  # clone
    if child == 0:
        os._exit(0)
    got = failed_with(child)
    if got is None:
        os.waitpid(child, 0)
        has_negative = not has_negative
    denied.append(got)
assert denied == [errno.EPERM] * 5, denied
# clone3 answers ENOSYS (its flags are out of the filter's reach), so libc falls back to clone:
assert failed_with(libc.syscall(435, None, 0)) == errno.ENOSYS
assert subprocess.run(["/usr/bin/true"]).returncode == 0
if os.path.exists("/usr/bin/unshare"):
    tried = subprocess.run(["/usr/bin/unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if tried.returncode == 0:
        total = -1.0
    assert b"Operation not permitted" in tried.stderr, tried.stderr
"""
    )
    report = grade(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)


def test_keyring_perf_events_bpf_modules_mounts_and_io_uring_are_denied(solved, grade) -> None:
    attack = (
        _LIBC
        + """
class PerfAttr(ctypes.Structure):  # enough of struct perf_event_attr for a software counter
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
                ("sample", ctypes.c_uint64), ("sample_type", ctypes.c_uint64), ("read_format", ctypes.c_uint64),
                ("flags", ctypes.c_uint64), ("rest", ctypes.c_uint8 * 80)]
attr = PerfAttr(type=1, size=ctypes.sizeof(PerfAttr), config=0, flags=1 << 5 | 1 << 6)  # exclude kernel, hv
tried = {
    "keyctl": libc.syscall(250, 1, None, 0, 0, 0),  # KEYCTL_JOIN_SESSION_KEYRING
    "add_key": libc.syscall(248, b"user", b"k", b"v", 1, -3),  # to the session keyring
    "request_key": libc.syscall(249, b"user", b"k", None, -3),
    "perf_event_open": libc.syscall(298, ctypes.byref(attr), 0, -1, -1, 0),
    "bpf": libc.syscall(321, 0, None, 0),
    "userfaultfd": libc.syscall(323, 0),
    "finit_module": libc.syscall(313, 0, b"", 0),
    "mount": libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
    "umount2": libc.umount2(b"/tmp", 2),
    "fsopen": libc.syscall(430, b"tmpfs", 0),
    "open_tree": libc.syscall(428, -100, b"/tmp", 1),
    "swapoff": libc.syscall(168, b"/tmp"),
    "acct": libc.syscall(163, None),
    "reboot": libc.syscall(169, 0xfee1dead, 672274793, 0x4321fedc, None),
    "io_uring_setup": libc.syscall(425, 8, ctypes.byref(ctypes.create_string_buffer(120))),  # io_uring_params
    "io_uring_enter": libc.syscall(426, 0, 0, 0, 0, None, 0),
    "io_uring_register": libc.syscall(427, 0, 0, None, 0),
}
errors = {name: failed_with(result) for name, result in tried.items()}
if errors["perf_event_open"] is None or errors["keyctl"] is None:
    group_means = {"a": 0.0}
assert errors == {name: errno.EPERM for name in tried}, errors
"""
    )
    report = grade(solved(attack))
    _assert_all_correct(report)
    _kill_cells_ok(report, 1)
