"""The sandbox's own Python environment: only what candidate code may import, built with Debian's Python.

The app's interpreter lives under /root/.pyenv, which the sandbox user cannot read and bwrap does not
bind; the runtime venv is built with /usr/bin/python3 (under /usr, which the sandbox binds read-only)
and holds the packages of ``runtime-requirements.txt`` and nothing of the app.

Where it lives: bubblewrap binds the runtime after the sandbox has dropped to a slot uid (when the
grader runs as root), so every folder on the way to it must be searchable by any user. A checkout
under a private home (0700, 0750) is not, so as root the runtime lives in
``/var/lib/assessments/sandbox-runtime-<requirements hash>``, shared by every checkout with the same
requirements; as another user (no uid change) it lives in the checkout's ``.sandbox-venv``.

    python -m assessments.grading.runtime build [PATH]  # idempotent: a stamp records the requirements' hash
    python -m assessments.grading.runtime where         # the path the grader will use
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

REQUIREMENTS = Path(__file__).with_name("runtime-requirements.txt")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
STAMP_NAME = ".assess-runtime-stamp"
ENV_VAR = "ASSESS_SANDBOX_VENV"
SHARED_ROOT = Path("/var/lib/assessments")


class SandboxProblem(NamedTuple):
    """Why grading cannot be sandboxed here: a stable code for pages and metrics, and what to do, for the operator."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class RuntimeBuildError(RuntimeError):
    """The sandbox runtime could not be built (no system Python, pip failed)."""


def default_runtime_path() -> Path:
    """Where the runtime venv lives: $ASSESS_SANDBOX_VENV, else a shared folder as root, else the checkout's."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return SHARED_ROOT / f"sandbox-runtime-{requirements_hash()[:16]}"
    return PROJECT_ROOT / ".sandbox-venv"


def requirements_hash() -> str:
    """sha256 of the requirements file together with the system Python's version."""
    return _requirements_hash(REQUIREMENTS.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _requirements_hash(_mtime: int) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(str(SYSTEM_PYTHON.resolve()).encode())
    return digest.hexdigest()


def private_folder(path: Path) -> Path | None:
    """The first folder on the way to path (path included) that users other than its owner cannot search."""
    resolved = path.resolve()
    for folder in (*reversed(resolved.parents), resolved):
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return folder
    return None


def runtime_python(path: Path) -> Path:
    """The interpreter of a runtime venv."""
    return path / "bin" / "python"


def runtime_problem(path: Path) -> SandboxProblem | None:
    """Why the runtime at this path cannot be used (None when it is built, current and reachable)."""
    problem = _build_problem(path)
    if problem is None and os.geteuid() == 0:
        private = private_folder(path)
        if private is not None:
            problem = SandboxProblem(
                "runtime-unreachable",
                (
                    f"the sandbox runtime at {path} cannot be reached by the sandbox's unprivileged user, because "
                    f"{private} is mode {stat.S_IMODE(private.stat().st_mode):04o} (other users may not enter it); "
                    f"let them enter it (`chmod o+x {private}`), or set {ENV_VAR} to a folder every user can enter "
                    f"{'(or unset it) ' if ENV_VAR in os.environ else ''}and run `make sandbox`"
                ),
            )
    return problem


def _build_problem(path: Path) -> SandboxProblem | None:
    """Why the runtime at this path is not built and current (None when it is)."""
    build = f"`make sandbox` (python -m assessments.grading.runtime build {path})"
    if not runtime_python(path).exists():
        return SandboxProblem("runtime-missing", f"the sandbox runtime is missing at {path}; build it with {build}")
    stamp = path / STAMP_NAME
    if not stamp.exists():
        return SandboxProblem(
            "runtime-unfinished", f"the sandbox runtime at {path} was never finished; rebuild it with {build}"
        )
    if stamp.read_text().strip() != requirements_hash():
        return SandboxProblem(
            "runtime-outdated",
            f"the sandbox runtime at {path} is out of date with runtime-requirements.txt; rebuild it with {build}",
        )
    return None


def build_runtime(path: Path, *, force: bool = False) -> bool:
    """Build (or bring up to date) the runtime venv at path; False when it was already current.

    :raises RuntimeBuildError: when the system Python is missing or pip fails.
    """
    path = path.resolve()
    if not force and _build_problem(path) is None:
        return False
    if not SYSTEM_PYTHON.exists():
        raise RuntimeBuildError(f"{SYSTEM_PYTHON} is missing: install Debian's python3 and python3-venv")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent == SHARED_ROOT:
        SHARED_ROOT.chmod(0o755)
    # Two builds of one shared runtime (two checkouts, make run beside make test) take turns.
    with open(path.with_name(f"{path.name}.build-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and _build_problem(path) is None:
            return False
        _build(path)
    return True


def _build(path: Path) -> None:
    stamp = path / STAMP_NAME
    if stamp.exists():
        stamp.unlink()
    # From scratch, so that the runtime holds exactly what the requirements list and nothing left over.
    if path.exists():
        shutil.rmtree(path)
    steps = [
        [str(SYSTEM_PYTHON), "-m", "venv", str(path)],
        [str(runtime_python(path)), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(runtime_python(path)), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
    ]
    # The app's environment (virtualenv variables, PYTHONPATH) must not leak into the runtime.
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    for step in steps:
        result = subprocess.run(step, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeBuildError(f"building the sandbox runtime failed at: {' '.join(step)}")
    # The sandbox runs as an unprivileged uid: everything must be world-readable, nothing writable.
    subprocess.run(["chmod", "-R", "a+rX,go-w", str(path)], check=True)
    stamp.write_text(requirements_hash() + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command line: `build [PATH] [--force]`."""
    parser = argparse.ArgumentParser(prog="python -m assessments.grading.runtime")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the sandbox runtime venv (idempotent)")
    build.add_argument("path", nargs="?", type=Path, default=None)
    build.add_argument("--force", action="store_true", help="rebuild from scratch")
    commands.add_parser("where", help="print where the grader looks for the runtime")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(default_runtime_path())
        return 0
    path = args.path or default_runtime_path()
    try:
        built = build_runtime(path, force=args.force)
    except RuntimeBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"sandbox runtime {'built' if built else 'already current'} at {path.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
