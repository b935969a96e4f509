"""The sandbox: nice -> prlimit -> setpriv -> bwrap around the in-sandbox runner (see shared/SANDBOX.md).

Each run gets a worker slot (its own uid, so the process limit of one run cannot be used up by
another), a working folder holding only the submission and that candidate's data files, a clean
environment, a capped stdout read incrementally, and a wall-clock limit enforced with ``os.killpg``.
Nothing of the app is visible inside: not its code, its Python, its database or its environment.

Files enter by content, never by path: the runner's modules and the run's files are written into
anonymous memory files (memfd) that bubblewrap copies into the sandbox (``--ro-bind-data``). The
sandbox drops to the slot uid before bubblewrap starts, and that uid cannot read a checkout under a
private home, nor a scratch folder under a private TMPDIR; by content, neither has to be readable.
The runtime venv is the one thing bound by path (runtime.py keeps it where every user can reach it).

Every sandbox also runs under a seccomp filter (seccomp.py: ptrace, nested namespaces, the keyring,
perf events, modules and mounts denied), handed to bubblewrap the same way, as a memory file
(``--seccomp FD``). Without libseccomp there is no sandbox: ``sandbox_problem`` says so.

Warm sandboxes (pool.py) use the same command line, slots, limits and output reading; they start
with an empty working folder and are handed their files over stdin.
"""

from __future__ import annotations

import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import IO

from assessments.grading.cgroups import RunCgroup, process_limits_here, run_cgroup
from assessments.grading.runner.protocol import FILE_NAME
from assessments.grading.runtime import SandboxProblem, default_runtime_path, runtime_problem, runtime_python
from assessments.grading.seccomp import INSTRUCTION_BYTES, filter_program, seccomp_problem
from assessments.grading.slots import SlotsBusy, worker_slot

log = logging.getLogger(__name__)

RUNNER_DIR = Path(__file__).with_name("runner")
UNSAFE_SWITCH = "ASSESS_UNSAFE_NO_SANDBOX"
SANDBOX_WORKDIR = "/work"
SANDBOX_RUNNER_DIR = "/opt/runner"
_FILE_NAME = re.compile(FILE_NAME)
_CLEAN_ENV = {"PATH": "/usr/bin:/bin"}
# In sandbox_inputs' list, the target of the seccomp filter's memory file (not a path: bwrap loads it).
SECCOMP_INPUT = "seccomp-filter"


class SandboxUnavailable(RuntimeError):
    """No sandbox can be had on this machine and the operator has not allowed unsandboxed grading."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one grading run; every one is enforced outside the candidate's control."""

    memory_bytes: int = 2 * 1024**3
    cpu_seconds: int = 300
    wall_seconds: float = 300.0
    cell_seconds: float = 60.0
    processes: int = 64
    open_files: int = 256
    file_bytes: int = 50 * 1024**2
    output_bytes: int = 8 * 1024**2
    scratch_bytes: int = 256 * 1024**2
    # /dev/shm, a tmpfs of its own (uncapped, bwrap's --dev gives half the host's memory): shared
    # memory for multiprocessing and joblib, kept small. With /tmp and the working folder, the
    # writable space a run holds in memory is 2 * scratch_bytes + shm_bytes.
    shm_bytes: int = 64 * 1024**2
    # Scheduling priority (nice 0..19): below the web servers and the database, so that a deadline
    # rush of gradings queues up on the CPU instead of slowing every page down.
    niceness: int = 10

    def __post_init__(self) -> None:
        if self.wall_seconds < 10:
            raise ValueError("wall_seconds must be at least 10 (the runner keeps a few seconds to read answers)")
        if self.cell_seconds <= 0 or self.cell_seconds > self.wall_seconds:
            raise ValueError("cell_seconds must be positive and at most wall_seconds")
        if not 0 <= self.niceness <= 19:
            raise ValueError("niceness must be between 0 and 19")


@dataclass(frozen=True)
class SandboxRun:
    """What came back from one sandboxed run: raw (untrusted) output and how the run ended."""

    output: bytes
    exit_code: int | None
    timed_out: bool
    output_capped: bool
    seconds: float
    sandboxed: bool
    # From the run's memory cgroup (cgroups.py): the kernel's OOM killer ended one of its processes;
    # the most memory it held at once (None without a cgroup).
    oom_killed: bool = False
    memory_peak_bytes: int | None = None


def unsafe_grading_allowed() -> bool:
    """The operator has allowed grading without a sandbox (ASSESS_UNSAFE_NO_SANDBOX=1)."""
    return os.environ.get(UNSAFE_SWITCH, "") == "1"


def _is_root() -> bool:
    return os.geteuid() == 0


@lru_cache(maxsize=1)
def _bwrap_works(bwrap: str) -> SandboxProblem | None:
    """None when bwrap can create its namespaces here (user namespaces may be disabled)."""
    probe = [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--",
        "/usr/bin/true",
    ]
    try:
        result = subprocess.run(probe, env=_CLEAN_ENV, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return SandboxProblem("bubblewrap-failed", f"bubblewrap could not start: {error}")
    if result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip()[:200]
        return SandboxProblem("namespaces-unavailable", f"bubblewrap cannot create its namespaces here: {said}")
    return None


def sandbox_problem(runtime: Path | None = None) -> SandboxProblem | None:
    """Why no sandbox can be had here (None when grading can be sandboxed): checked up to a trial run, once."""
    if not sys.platform.startswith("linux"):
        return SandboxProblem("unsupported-system", "the grading sandbox needs Linux (bubblewrap)")
    tools = ["nice", "bwrap", "prlimit"] + (["setpriv"] if _is_root() else [])
    for tool in tools:
        if shutil.which(tool, path="/usr/bin:/bin") is None:
            package = {"bwrap": "bubblewrap", "nice": "coreutils"}.get(tool, "util-linux")
            return SandboxProblem(
                "tool-missing",
                f"{tool} is missing: install it with `apt-get install {package}` (or run `make sandbox` as root)",
            )
    filter_missing = seccomp_problem()
    if filter_missing:
        return SandboxProblem("seccomp-unavailable", f"no seccomp filter for the sandbox: {filter_missing}")
    runtime = (runtime or default_runtime_path()).resolve()
    problem = runtime_problem(runtime) or _bwrap_works(shutil.which("bwrap", path="/usr/bin:/bin") or "bwrap")
    if problem:
        return problem
    if runtime not in _PROBED:
        problem = _probe(runtime)
        if problem is None:
            _PROBED.add(runtime)
    return problem


_PROBED: set[Path] = set()


def _probe(runtime: Path) -> SandboxProblem | None:
    """Why the runtime's Python cannot start inside a real sandbox (None when it does), found by trying once."""
    limits = SandboxLimits()
    command = [str(runtime_python(runtime)), "-I", "-c", "import sys; print(sys.prefix)"]
    try:
        with _held_slot(wait_seconds=30) if _is_root() else _no_slot() as uid, sandbox_inputs({}) as inputs:
            argv = sandbox_argv(limits, uid, inputs, runtime, command)
            result = subprocess.run(
                argv,
                env=_CLEAN_ENV,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                check=False,
                start_new_session=True,
                pass_fds=[fd for fd, _ in inputs],
            )
    except (OSError, subprocess.TimeoutExpired, SandboxUnavailable) as error:
        return SandboxProblem("trial-failed", f"a trial sandbox could not start: {error}")
    if result.returncode != 0 or result.stdout.decode(errors="replace").strip() != str(runtime):
        said = (result.stderr or result.stdout).decode(errors="replace").strip()[:300]
        return SandboxProblem(
            "trial-failed",
            f"a trial sandbox with the runtime at {runtime} failed (exit code {result.returncode}): {said}",
        )
    return None


# --- what goes in -------------------------------------------------------------------------


def _runner_files() -> dict[str, bytes]:
    """The runner's modules, copied into the sandbox by content."""
    return {path.name: path.read_bytes() for path in sorted(RUNNER_DIR.glob("*.py"))}


@contextmanager
def sandbox_inputs(files: Mapping[str, bytes]) -> Iterator[list[tuple[int, str]]]:
    """(fd, path inside the sandbox) for the runner and these files, as memory files open for one start.

    The last entry is the seccomp filter, (fd, SECCOMP_INPUT): sandbox_argv hands it to --seccomp.

    :raises ValueError: for a file name the sandbox must not be given.
    :raises SeccompUnavailable: when no filter can be compiled here (sandbox_problem says so first).
    """
    for name in files:
        if not _FILE_NAME.match(name):
            raise ValueError(f"unsafe file name for the sandbox: {name!r}")
    wanted = [(f"{SANDBOX_RUNNER_DIR}/{name}", data) for name, data in _runner_files().items()]
    wanted += [(f"{SANDBOX_WORKDIR}/{name}", data) for name, data in files.items()]
    wanted.append((SECCOMP_INPUT, filter_program()))
    opened: list[tuple[int, str]] = []
    try:
        for target, data in wanted:
            fd = os.memfd_create("assess-input")
            opened.append((fd, target))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.lseek(fd, 0, os.SEEK_SET)
        yield opened
    finally:
        for fd, _ in opened:
            os.close(fd)


@contextmanager
def _unsafe_folder(files: Mapping[str, bytes]) -> Iterator[Path]:
    """A private temporary folder holding these files, for the operator-allowed run without a sandbox."""
    with tempfile.TemporaryDirectory(prefix="assess-unsafe-run-") as folder:
        for name, content in files.items():
            if not _FILE_NAME.match(name):
                raise ValueError(f"unsafe file name for the sandbox: {name!r}")
            (Path(folder) / name).write_bytes(content)
        yield Path(folder)


# --- the command line ---------------------------------------------------------------------


def runner_command(runtime: Path, runner_args: Sequence[str]) -> list[str]:
    """The command that starts the in-sandbox runner."""
    return [str(runtime_python(runtime)), "-I", f"{SANDBOX_RUNNER_DIR}/run.py", *runner_args]


def sandbox_argv(
    limits: SandboxLimits,
    uid: int | None,
    inputs: Sequence[tuple[int, str]],
    runtime: Path,
    command: Sequence[str],
    cgroup: RunCgroup | None = None,
) -> list[str]:
    """The nice -> prlimit -> setpriv -> bwrap command line running command over these inputs (see sandbox_inputs).

    With the run's cgroup, the first process joins it before nice (cgroups.py), and the cgroup holds
    the run to ``limits.memory_bytes`` in total; without one, the per-process limit and process count
    are cut so that every sandbox the machine can run at once fits in its memory (``process_limits``).
    """
    memory, nproc = limits.memory_bytes, limits.processes
    if cgroup is None or not cgroup.procs_paths:
        fallback = process_limits_here(limits)
        memory, nproc = min(memory, fallback.per_process_bytes), min(nproc, fallback.processes)
    if uid is None:
        # Not root: the process limit counts this user's existing processes too.
        nproc += sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == os.getuid())
    argv = [
        "/usr/bin/nice",
        "-n",
        str(limits.niceness),
        "/usr/bin/prlimit",
        f"--as={memory}",
        f"--cpu={limits.cpu_seconds}",
        f"--nproc={nproc}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]
    if uid is not None:
        argv += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--"]
    argv += [
        "/usr/bin/bwrap",
        "--unshare-all",
        # The command (the runner, which makes itself non-dumpable) is the namespace's init, not a
        # reaper of bwrap's own: that one was dumpable, so the notebook could read and write its
        # memory and reach its fds (one is the grader's pipe) through /proc/1.
        "--as-pid-1",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(limits.shm_bytes),
        "--tmpfs",
        "/dev/shm",
        # /dev itself is another uncapped tmpfs: read-only (its device nodes are mounts of their own).
        "--remount-ro",
        "/dev",
        "--size",
        str(limits.scratch_bytes),
        "--tmpfs",
        "/tmp",
        # Writes go to a size-capped tmpfs; the inputs are copied in read-only.
        "--size",
        str(limits.scratch_bytes),
        "--tmpfs",
        SANDBOX_WORKDIR,
        "--ro-bind",
        str(runtime),
        str(runtime),
    ]
    for fd, target in inputs:
        argv += ["--seccomp", str(fd)] if target == SECCOMP_INPUT else ["--ro-bind-data", str(fd), target]
    # bwrap's own root is one more tmpfs, uncapped and writable by the slot user (so were the folders
    # it made there, /var and /opt): read-only once every mount point is in place.
    argv += ["--remount-ro", "/"]
    argv += ["--chdir", SANDBOX_WORKDIR, "--clearenv"]
    for key, value in _sandbox_env(runtime).items():
        argv += ["--setenv", key, value]
    argv = [*argv, "--", *command]
    return cgroup.join_command(argv) if cgroup is not None else argv


def _sandbox_env(runtime: Path) -> dict[str, str]:
    return {
        "PATH": f"{runtime}/bin:/usr/bin",
        "HOME": SANDBOX_WORKDIR,
        "USER": "candidate",
        "LANG": "C.UTF-8",
        "JUPYTER_RUNTIME_DIR": "/tmp/jr",
        "IPYTHONDIR": "/tmp/ipy",
        "MPLCONFIGDIR": "/tmp/mpl",
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        # One thread per BLAS: fair on shared cores, and thread arenas would eat the memory limit.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _unsafe_argv(runtime: Path, runner_args: Sequence[str]) -> list[str]:
    python = runtime_python(runtime) if runtime_python(runtime).exists() else Path(sys.executable)
    return [str(python), "-I", str(RUNNER_DIR / "run.py"), *runner_args]


# --- running ------------------------------------------------------------------------------


def exchange(
    proc: subprocess.Popen[bytes],
    payload: bytes,
    output_bytes: int,
    deadline: float,
    result_marker: bytes | None = None,
) -> tuple[bytes, bool, bool]:
    """Write payload to stdin while reading stdout until exit, the output cap or the deadline.

    With result_marker (the result prefix and this run's nonce, which only the runner knows), reading
    also ends at the first complete line holding it, and the sandbox is killed rather than awaited.
    Returns (output, timed_out, capped); on either limit the process group is killed.
    """
    assert proc.stdout is not None and proc.stdin is not None
    stdin, stdout = proc.stdin, proc.stdout
    chunks: list[bytes] = []
    size = 0
    timed_out = capped = ended = False
    pending = memoryview(payload)
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        if pending:
            # Non-blocking, so a runner that stops reading cannot stall the deadline.
            os.set_blocking(stdin.fileno(), False)
            selector.register(stdin, selectors.EVENT_WRITE)
        else:
            _close_quietly(stdin)
        while not (ended or timed_out or capped):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                if key.fileobj is stdin:
                    pending = _send(stdin, pending)
                    if not pending:
                        selector.unregister(stdin)
                        _close_quietly(stdin)
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    ended = True
                    break
                size += len(chunk)
                if size > output_bytes:
                    capped = True
                    break
                chunks.append(chunk)
                if result_marker and b"\n" in chunk:
                    received = b"".join(chunks)
                    at = received.find(result_marker)
                    ended = at >= 0 and received.find(b"\n", at) >= 0
                    if ended:
                        break
    _close_quietly(stdin)
    if timed_out or capped or ended and result_marker:
        kill_group(proc)
    return b"".join(chunks), timed_out, capped


def _send(stdin: IO[bytes], pending: memoryview) -> memoryview:
    """Write what the pipe takes now; what is left (nothing once the runner has gone away)."""
    try:
        return pending[os.write(stdin.fileno(), pending) :]
    except BlockingIOError:
        return pending
    except OSError:
        return pending[:0]


def _close_quietly(stream: IO[bytes]) -> None:
    try:
        stream.close()
    except OSError:
        pass


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the sandbox's whole process group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_in_sandbox(
    files: Mapping[str, bytes],
    runner_args: Sequence[str],
    limits: SandboxLimits,
    *,
    stdin: bytes = b"",
    runtime: Path | None = None,
    result_marker: bytes | None = None,
) -> SandboxRun:
    """Run the in-sandbox runner over a scratch folder holding exactly these files, feeding it stdin.

    With result_marker, the run ends as soon as a line holding it has arrived (see ``exchange``).

    :raises SandboxUnavailable: when there is no sandbox and ASSESS_UNSAFE_NO_SANDBOX=1 is not set.
    """
    runtime = (runtime or default_runtime_path()).resolve()
    problem = sandbox_problem(runtime)
    sandboxed = problem is None
    if not sandboxed:
        if not unsafe_grading_allowed():
            raise SandboxUnavailable(
                f"cannot grade: no sandbox ({problem}). Fix that, or set {UNSAFE_SWITCH}=1 to run candidate "
                "code WITHOUT isolation (only on a machine that holds nothing worth protecting)."
            )
        log.warning(
            "GRADING WITHOUT A SANDBOX (%s=1): candidate code runs with this process's access. Reason: %s",
            UNSAFE_SWITCH,
            problem,
        )
    with _held_slot(wait_seconds=limits.wall_seconds) if sandboxed and _is_root() else _no_slot() as uid:
        if sandboxed:
            with sandbox_inputs(files) as inputs, run_cgroup(limits) as cgroup:
                argv = sandbox_argv(limits, uid, inputs, runtime, runner_command(runtime, runner_args), cgroup)
                run = _run(argv, "/", _CLEAN_ENV, [fd for fd, _ in inputs], stdin, limits, result_marker, True)
                return replace(run, oom_killed=cgroup.oom_killed(), memory_peak_bytes=cgroup.peak_bytes())
        with _unsafe_folder(files) as folder:
            env = {
                **_CLEAN_ENV,
                **_sandbox_env(runtime),
                "HOME": str(folder),
                "PATH": f"{Path(_unsafe_argv(runtime, runner_args)[0]).parent}:/usr/bin:/bin",
                "JUPYTER_RUNTIME_DIR": str(folder / ".jr"),
            }
            return _run(_unsafe_argv(runtime, runner_args), str(folder), env, [], stdin, limits, result_marker, False)


def _run(
    argv: list[str],
    cwd: str,
    env: Mapping[str, str],
    pass_fds: Sequence[int],
    stdin: bytes,
    limits: SandboxLimits,
    result_marker: bytes | None,
    sandboxed: bool,
) -> SandboxRun:
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    try:
        # The runner stops itself before this deadline.
        output, timed_out, capped = exchange(
            proc, stdin, limits.output_bytes, started + limits.wall_seconds + 2.0, result_marker
        )
    finally:
        finish(proc)
    return SandboxRun(
        output=output,
        exit_code=proc.returncode,
        timed_out=timed_out,
        output_capped=capped,
        seconds=time.monotonic() - started,
        sandboxed=sandboxed,
    )


def finish(proc: subprocess.Popen[bytes]) -> None:
    """Wait briefly for the sandbox to exit, kill its group if it does not, and close its pipes."""
    if proc.poll() is None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            _close_quietly(stream)


@contextmanager
def _held_slot(wait_seconds: float) -> Iterator[int]:
    try:
        with worker_slot(wait_seconds) as uid:
            yield uid
    except SlotsBusy as busy:
        raise SandboxUnavailable(str(busy)) from None


@contextmanager
def _no_slot() -> Iterator[None]:
    yield None


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `check` says whether notebooks can be graded here and, if not, why and what to do."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["check"]:
        print("usage: python -m assessments.grading.sandbox check", file=sys.stderr)
        return 2
    runtime = default_runtime_path()
    problem = sandbox_problem(runtime)
    if problem is None:
        instructions = len(filter_program()) // INSTRUCTION_BYTES
        print(f"grading sandbox ready (runtime {runtime.resolve()}; seccomp filter of {instructions} instructions)")
        return 0
    print(f"error: notebooks cannot be graded on this machine: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
