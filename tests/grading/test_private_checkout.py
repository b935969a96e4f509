"""A clone in a folder only its owner can enter grades notebooks (a home directory is 0700 or 0750).

The sandbox drops to an unprivileged uid before bubblewrap binds anything, so nothing it needs may
sit behind the clone's private parents: this copies the working tree into a 0700 folder and runs the
operator's own commands there, as a new user would after `make`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assessments.grading.runtime import PROJECT_ROOT, default_runtime_path

pytestmark = pytest.mark.sandbox


def _copy_checkout(target: Path) -> None:
    """The project's files as they are now (tracked and new, not ignored), like a fresh clone of this tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_a_checkout_in_a_private_home_grades_a_correct_notebook(tmp_path, sandbox):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o700)
    clone = home / "assessments"
    _copy_checkout(clone)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ASSESS_") and key not in {"DATABASE_URL", "REDIS_URL", "PYTHONPATH"}
    }
    env["PYTHONPATH"] = str(clone)
    if os.geteuid() != 0:
        # No uid change without root: a runtime the user can read anywhere works; building a second one
        # in the clone would only cost minutes of downloads.
        env["ASSESS_SANDBOX_VENV"] = str(default_runtime_path())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    where = run("-c", "import assessments; print(assessments.__file__)").stdout.strip()
    assert Path(where).is_relative_to(clone), "the clone's own code is under test"
    run("-m", "assessments.grading.runtime", "build")
    assert "ready" in run("-m", "assessments.grading.sandbox", "check").stdout
    run("-m", "flask", "--app", "app", "init")
    bundle = tmp_path / "bundle.zip"
    run(
        "-m",
        "flask",
        "--app",
        "app",
        "cases",
        "bundle",
        "ab-readout",
        "--seed",
        "11",
        "--solution",
        "--out",
        str(bundle),
    )
    with zipfile.ZipFile(bundle) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".ipynb"))
        notebook = home / "solution.ipynb"
        notebook.write_bytes(archive.read(name))
    graded = run(
        "-m", "flask", "--app", "app", "grade", str(notebook), "--case", "ab-readout", "--seed", "11", "--json"
    )
    report = json.loads(graded.stdout[graded.stdout.index("{") :])
    assert report["error"] is None and report["sandboxed"] is True
    assert report["possible"] > 0 and report["earned"] == report["possible"]
