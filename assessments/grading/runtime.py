"""The sandbox's own Python environment: only what candidate code may import, built with Debian's Python.

The app's interpreter lives under /root/.pyenv, which the sandbox user cannot read and bwrap does not
bind; the runtime venv is built with /usr/bin/python3 (under /usr, which the sandbox binds read-only)
and holds the packages of ``runtime-requirements.txt`` and nothing of the app.

    python -m assessments.grading.runtime build PATH    # idempotent: a stamp records the requirements' hash
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("runtime-requirements.txt")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
STAMP_NAME = ".assess-runtime-stamp"
ENV_VAR = "ASSESS_SANDBOX_VENV"


class RuntimeBuildError(RuntimeError):
    """The sandbox runtime could not be built (no system Python, pip failed)."""


def default_runtime_path() -> Path:
    """Where the runtime venv lives: $ASSESS_SANDBOX_VENV, else <project root>/.sandbox-venv."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else PROJECT_ROOT / ".sandbox-venv"


def requirements_hash() -> str:
    """sha256 of the requirements file together with the system Python's version."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(str(SYSTEM_PYTHON.resolve()).encode())
    return digest.hexdigest()


def runtime_python(path: Path) -> Path:
    """The interpreter of a runtime venv."""
    return path / "bin" / "python"


def runtime_problem(path: Path) -> str | None:
    """Why the runtime at this path cannot be used (None when it is built and current)."""
    if not runtime_python(path).exists():
        return f"the sandbox runtime is missing at {path}; build it with `make sandbox-runtime` (python -m assessments.grading.runtime build {path})"
    stamp = path / STAMP_NAME
    if not stamp.exists():
        return f"the sandbox runtime at {path} was never finished; rebuild it with `python -m assessments.grading.runtime build {path}`"
    if stamp.read_text().strip() != requirements_hash():
        return f"the sandbox runtime at {path} is out of date with runtime-requirements.txt; rebuild it with `python -m assessments.grading.runtime build {path}`"
    return None


def build_runtime(path: Path, *, force: bool = False) -> bool:
    """Build (or bring up to date) the runtime venv at path; False when it was already current.

    :raises RuntimeBuildError: when the system Python is missing or pip fails.
    """
    path = path.resolve()
    if not force and runtime_problem(path) is None:
        return False
    if not SYSTEM_PYTHON.exists():
        raise RuntimeBuildError(f"{SYSTEM_PYTHON} is missing: install Debian's python3 and python3-venv")
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
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: `build [PATH] [--force]`."""
    parser = argparse.ArgumentParser(prog="python -m assessments.grading.runtime")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the sandbox runtime venv (idempotent)")
    build.add_argument("path", nargs="?", type=Path, default=None)
    build.add_argument("--force", action="store_true", help="rebuild from scratch")
    args = parser.parse_args(argv)
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
