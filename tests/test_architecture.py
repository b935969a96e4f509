"""The layers of docs/architecture.md hold: every import contract in pyproject.toml is kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The console script installed beside this interpreter, so the venv's import-linter is the one run.
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_import_contract_is_kept() -> None:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: install the test extra (make install-test)"
    # --no-cache: nothing is written into the checkout, and an edit is never hidden by a stale graph.
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"lint-imports found imports that break the layers:\n{done.stdout}{done.stderr}"
