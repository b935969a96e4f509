"""Grading latency and throughput: ours (sandboxed, per-candidate data) against nbgrader autograde.

    .venv/bin/python bench/grading.py [--runs 5] [--batch 20] [--nbgrader-venv /tmp/bench-nbgrader-venv]

Both grade the same solved notebook of the tiny-sums fixture case (pandas, five checked answers).
nbgrader runs in a throwaway venv built with Debian's Python (created when missing), grading its
students one at a time as it does; ours runs each notebook in the bubblewrap sandbox with as many
concurrent slots as there are cores. Prints medians and ratios measured in this run; never fails on speed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assessments.content.bundle import data_files  # noqa: E402
from assessments.content.case import load_case  # noqa: E402
from assessments.content.notebook import solution_notebook  # noqa: E402
from assessments.grading.pipeline import grade_notebook  # noqa: E402
from assessments.grading.sandbox import SandboxLimits  # noqa: E402

CASE = ROOT / "tests" / "grading" / "fixtures" / "tiny-sums"
SEED = 7
POINTS = {"total": 2, "top_group": 1, "has_negative": 1, "flagged": 2, "group_means": 3}


def _ours(runs: int, batch: int) -> tuple[list[float], float]:
    case = load_case(CASE)
    notebook = solution_notebook(case)
    limits = SandboxLimits(wall_seconds=120, cell_seconds=60)
    latencies = []
    for _ in range(runs):
        started = time.monotonic()
        report = grade_notebook(notebook, case, SEED, limits=limits)
        latencies.append(time.monotonic() - started)
        assert report.earned == report.possible, report
    workers = os.cpu_count() or 1
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(lambda seed: grade_notebook(notebook, case, seed, limits=limits), range(batch)))
    elapsed = time.monotonic() - started
    assert all(r.earned == r.possible for r in reports)
    return latencies, elapsed


def _nbgrader_venv(path: Path) -> Path:
    if not (path / "bin" / "nbgrader").exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", "nbgrader>=0.9,<0.10", "pandas", "numpy"], check=True)
    return path


def _cell(source: str, kind: str = "code", nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": kind, "metadata": {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {},
            "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _nbgrader_notebook(key: dict) -> dict:
    """The fixture's notebook in nbgrader form: solution cells and hidden-value assert cells."""
    solutions = {
        "total": "total = rows['value'].sum()",
        "top_group": "top_group = rows.groupby('group')['value'].sum().idxmax()",
        "has_negative": "has_negative = bool((rows['value'] < 0).any())",
        "flagged": "flagged = rows.loc[rows['value'] > 2, 'id'].tolist()",
        "group_means": "group_means = rows.groupby('group')['value'].mean().to_dict()",
    }
    tests = {
        "total": f"assert abs(total - {key['total']!r}) <= 1e-6",
        "top_group": f"assert str(top_group).strip().lower() == {key['top_group']!r}",
        "has_negative": f"assert has_negative == {key['has_negative']!r}",
        "flagged": f"assert sorted(flagged) == {sorted(key['flagged'])!r}",
        "group_means": f"assert all(abs(group_means[k] - v) <= 1e-6 for k, v in {key['group_means']!r}.items())",
    }
    cells = [_cell("import pandas as pd\nrows = pd.read_csv('rows.csv')")]
    for part, solution in solutions.items():
        cells.append(_cell(f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION",
                           nbgrader={"grade": False, "solution": True, "locked": False, "task": False, "grade_id": f"answer_{part}"}))
        cells.append(_cell(tests[part], nbgrader={"grade": True, "solution": False, "locked": True, "task": False,
                                                  "points": POINTS[part], "grade_id": f"test_{part}"}))
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _nbgrader(venv: Path, runs: int, batch: int) -> tuple[list[float], float]:
    case = load_case(CASE)
    key = case.answer_key(case.generate(SEED))
    rows = data_files(case, SEED)["rows.csv"]
    course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    env = {**os.environ, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)

    def nbgrader(*args: str) -> None:
        subprocess.run([str(venv / "bin" / "nbgrader"), *args], cwd=course, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    try:
        (course / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.course_id = 'bench'\n"
            "c.Exchange.root = " + repr(str(course / "exchange")) + "\n")
        source = course / "source" / "ps1"
        source.mkdir(parents=True)
        notebook = _nbgrader_notebook(key)
        for index, cell in enumerate(notebook["cells"]):
            cell["id"] = f"c{index}"
        (source / "tiny.ipynb").write_text(json.dumps(notebook))
        (source / "rows.csv").write_bytes(rows)
        nbgrader("db", "assignment", "add", "ps1")
        students = [f"s{i:03d}" for i in range(max(batch, 1))]
        for student in students:
            nbgrader("db", "student", "add", student)
        nbgrader("generate_assignment", "ps1", "--force")
        for student in students:
            submitted = course / "submitted" / student / "ps1"
            submitted.mkdir(parents=True)
            shutil.copy(source / "tiny.ipynb", submitted / "tiny.ipynb")  # the solution, as a student's answers
            (submitted / "rows.csv").write_bytes(rows)
        latencies = []
        for _ in range(runs):
            started = time.monotonic()
            nbgrader("autograde", "ps1", "--student", students[0], "--force")
            latencies.append(time.monotonic() - started)
        started = time.monotonic()
        nbgrader("autograde", "ps1", "--force")
        elapsed = time.monotonic() - started
        # A fair race only if nbgrader graded the solution as we did: full marks for everyone.
        nbgrader("export", "--to", str(course / "grades.csv"))
        with open(course / "grades.csv", encoding="utf-8") as handle:
            scores = [float(row["raw_score"]) for row in csv.DictReader(handle)]
        assert len(scores) == len(students) and all(score == sum(POINTS.values()) for score in scores), scores
        return latencies, elapsed
    finally:
        shutil.rmtree(course, ignore_errors=True)


def main() -> int:
    """Measure both graders and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="latency samples per grader (>= 5 for a median)")
    parser.add_argument("--batch", type=int, default=20, help="submissions in the throughput batch")
    parser.add_argument("--nbgrader-venv", type=Path, default=Path(tempfile.gettempdir()) / "bench-nbgrader-venv")
    args = parser.parse_args()
    ours_latency, ours_batch = _ours(args.runs, args.batch)
    theirs_latency, theirs_batch = _nbgrader(_nbgrader_venv(args.nbgrader_venv), args.runs, args.batch)
    ours_median, theirs_median = statistics.median(ours_latency), statistics.median(theirs_latency)
    print(f"cores: {os.cpu_count()}; latency samples: {args.runs}; batch: {args.batch} notebooks")
    print(f"{'':28}{'ours (sandboxed)':>18}{'nbgrader autograde':>20}{'ratio':>8}")
    print(f"{'median latency (s)':28}{ours_median:>18.2f}{theirs_median:>20.2f}{theirs_median / ours_median:>7.2f}x")
    ours_rate, theirs_rate = args.batch / ours_batch * 60, args.batch / theirs_batch * 60
    print(f"{'throughput (notebooks/min)':28}{ours_rate:>18.1f}{theirs_rate:>20.1f}{ours_rate / theirs_rate:>7.2f}x")
    print("ratio > 1 means ours is faster. Ours also isolates each run and gives each candidate their own data.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
