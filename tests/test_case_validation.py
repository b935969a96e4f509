"""`flask --app app cases validate`, exactly as an operator runs it: every real case on 20 seeds.

For each seed the author's solution must earn full marks and the untouched release notebook zero,
through the real pipeline and sandbox. Validation touches no database, so this runs once, not once
per database backend; a fresh instance folder keeps it away from the developer's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from assessments.config import PROJECT_ROOT

pytestmark = pytest.mark.sandbox

# Every case on disk, so a new case is validated the day it is added.
SLUGS = tuple(sorted(path.parent.name for path in (PROJECT_ROOT / "cases").glob("*/case.toml")))


def test_every_case_validates_on_twenty_seeds_through_the_real_pipeline(tmp_path):
    env = {
        **os.environ,
        "ASSESS_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "cases", "validate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for slug in SLUGS:
        lines = [line for line in done.stdout.splitlines() if line.startswith(f"{slug} ")]
        assert len(lines) == 20 and all(line.endswith(" ok") for line in lines), done.stdout
    assert "FAILED" not in done.stdout
    assert len(SLUGS) >= 4
    assert f"All {len(SLUGS)} case(s) valid on 20 seed(s)." in done.stdout


def test_the_careless_table_says_which_corpus_notebook_earned_what_its_mistake_breaks(tmp_path):
    cases = tmp_path / "cases"
    shutil.copytree(PROJECT_ROOT / "cases" / "ab-readout", cases / "ab-readout")
    corpus = tmp_path / "careless" / "ab_readout"
    corpus.mkdir(parents=True)
    correct = (PROJECT_ROOT / "tests" / "cases" / "careless" / "ab_readout" / "correct_libraries.cells").read_text()
    (corpus / "correct_libraries.cells").write_text(correct)
    # Right work that claims a mistake: the conversion it computes correctly earns full marks.
    (corpus / "mislabelled.cells").write_text(
        correct.replace("# kind: correct", "# kind: careless\n# breaks: conversion")
    )
    env = {
        **os.environ,
        "ASSESS_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "CARELESS_DIR": str(tmp_path / "careless"),
        "CASES_DIR": str(cases),
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "cases", "validate", "ab-readout", "--seeds", "1"]
        + ["--careless", "--careless-seeds", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode != 0, done.stdout
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.startswith("  ") and "%" in line}
    assert rows["correct_libraries"][1:4] == ["correct", "100%", "holds"], done.stdout
    assert rows["mislabelled"][1:4] == ["careless", "100%", "FAILED"], done.stdout
    assert "seed 0: conversion earned 2/2 though the mistake breaks it" in done.stdout
    assert "1 corpus notebook(s) earned what their mistake should cost." in done.stderr
