"""Grading latency and throughput on the A/B readout case: ours (cold, warm and forked sandboxes) against nbgrader.

    .venv/bin/python bench/grading.py [--runs 5] [--batch 20] [--size ROWS] [--nbgrader-venv /tmp/bench-nbgrader-venv]

Every grader grades the author's solution notebook of cases/ab-readout at its default size (or --size rows).
nbgrader gets a proper assignment of that notebook: each answer cell is a solution cell followed by
a hidden autograder test cell asserting the answer against the seed's key within the part's
tolerance; it runs in a throwaway venv (built with Debian's Python when missing) and autogrades
one student (latency) or the whole class one after another as it does (throughput). Ours runs in
the bubblewrap sandbox, each candidate on their own seed's data, with as many concurrent runs as
cores: cold (a sandbox started per submission), warm (a pool, sized to the cores, of sandboxes
started and warmed before submissions arrive, each used once) and fork (forkserver.py: one
template that imported the libraries once, a fork of it per submission in its own namespaces;
needs root). Each candidate's data files and key
are built once, as the app does when their bundle is first built, and read back at grading. The floor is the same cells as a
plain Python script, outside any sandbox. Prints medians and ratios; never fails on speed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import resource
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
from assessments.content.case import CaseSpec, load_case  # noqa: E402
from assessments.content.notebook import solution_notebook  # noqa: E402
from assessments.grading.checks import CHECK_RULES  # noqa: E402
from assessments.grading.forkserver import ForkServer  # noqa: E402
from assessments.grading.materials import MaterialsCache, build_materials  # noqa: E402
from assessments.grading.pipeline import grade_notebook  # noqa: E402
from assessments.grading.pool import SandboxPool  # noqa: E402
from assessments.grading.report import GradeReport  # noqa: E402
from assessments.grading.runtime import default_runtime_path, runtime_python  # noqa: E402
from assessments.grading.sandbox import SandboxLimits  # noqa: E402

CASE = ROOT / "cases" / "ab-readout"
SEED = 7
LIMITS = SandboxLimits(wall_seconds=180, cell_seconds=60)


def _code_sources(case: CaseSpec) -> list[str]:
    return [cell.source for cell in solution_notebook(case).cells if cell.cell_type == "code"]


# --- ours ---------------------------------------------------------------------------------


def _wait_warm(pool: SandboxPool, count: int, seconds: float = 180) -> None:
    """Block until the pool holds `count` sandboxes that have finished warming."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        with pool._changed:
            ready = sum(1 for sandbox in pool._ready if sandbox.ready())
        if ready >= count:
            return
        time.sleep(0.1)
    raise RuntimeError("the pool did not warm in time")


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _ours(
    case: CaseSpec, runs: int, batch: int, mode: str, cache: MaterialsCache
) -> tuple[list[float], float, list[GradeReport], float]:
    """Latencies, batch seconds, reports and CPU seconds per submission (mode cold, warm or fork).

    The CPU is what this process's reaped children used (see main: complete for fork only); each
    seed's materials are read from the cache, as the app does.
    """
    cpu_before = _children_cpu()
    notebook = solution_notebook(case)
    workers = os.cpu_count() or 1
    warm = mode != "cold"
    pool: SandboxPool | ForkServer | None = None
    if mode == "warm":
        pool = SandboxPool(workers, limits=LIMITS)
        pool.start()
    elif mode == "fork":
        pool = ForkServer(LIMITS)
        pool.start()  # the template imports once, when the worker starts
    try:
        latencies, reports = [], []
        for _ in range(runs):
            if isinstance(pool, SandboxPool):
                _wait_warm(pool, 1)  # latency of a submission arriving at a warm pool
            started = time.monotonic()
            report = grade_notebook(notebook, case, SEED, limits=LIMITS, pool=pool, materials=cache.get(case, SEED))
            latencies.append(time.monotonic() - started)
            assert report.earned == report.possible, report
            assert report.timings.warm is warm, report.timings
            reports.append(report)
        if isinstance(pool, SandboxPool):
            _wait_warm(pool, workers)  # the batch arrives at a warm pool, as a deadline rush would
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as executor:
            graded = list(
                executor.map(
                    lambda seed: grade_notebook(
                        notebook, case, seed, limits=LIMITS, pool=pool, materials=cache.get(case, seed)
                    ),
                    range(100, 100 + batch),
                )
            )
        elapsed = time.monotonic() - started
        assert all(r.earned == r.possible for r in graded), [r.error for r in graded]
        if pool is not None:
            print(f"  {mode} batch: {sum(r.timings.warm for r in graded)}/{batch} graded {mode}, not cold")
    finally:
        if pool is not None:
            pool.close()
    return latencies, elapsed, reports, (_children_cpu() - cpu_before) / (runs + batch)


def _preparation(case: CaseSpec, cache: MaterialsCache, batch: int) -> tuple[float, float]:
    """Median seconds to build a seed's materials (done once, when the bundle is first built) and to read them back.

    Fills the cache for every seed the measurements grade.
    """
    built, read = [], []
    for seed in [SEED, *range(100, 100 + batch)]:
        started = time.monotonic()
        cache.put(case, seed, build_materials(case, seed))
        built.append(time.monotonic() - started)
        started = time.monotonic()
        assert cache.get(case, seed) is not None
        read.append(time.monotonic() - started)
    return statistics.median(built), statistics.median(read)


# --- the floor: the same cells as a plain script ------------------------------------------


def _floor(case: CaseSpec, runs: int) -> tuple[float, float, float]:
    """Median (process wall time, imports, the rest) of the solution's cells run as one plain script."""
    folder = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        for name, content in data_files(case, SEED).items():
            (folder / name).write_bytes(content)
        sources = _code_sources(case)
        script = (
            "import time as _t\n_t0 = _t.perf_counter()\nimport numpy, pandas, scipy.stats\n"
            "_t1 = _t.perf_counter()\ndisplay = lambda *a, **k: None\n"
            + "\n\n".join(sources)
            + "\nimport sys\nsys.stderr.write(f'{_t1 - _t0} {_t.perf_counter() - _t1}\\n')\n"
        )
        (folder / "floor.py").write_text(script)
        python = runtime_python(default_runtime_path())
        samples = []
        for _ in range(runs):
            started = time.monotonic()
            done = subprocess.run(
                [str(python), "-I", "floor.py"],
                cwd=folder,
                capture_output=True,
                text=True,
                check=True,
                env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"},
            )
            wall = time.monotonic() - started
            imports, rest = (float(x) for x in done.stderr.strip().splitlines()[-1].split())
            samples.append((wall, imports, rest))
        return tuple(statistics.median(s[i] for s in samples) for i in range(3))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- nbgrader -----------------------------------------------------------------------------


def _nbgrader_venv(path: Path) -> Path:
    if not (path / "bin" / "nbgrader").exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(path)], check=True)
    probe = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import nbgrader, pandas, numpy, scipy"], check=False, capture_output=True
    )
    if probe.returncode != 0:  # a venv from an earlier version of this bench may lack scipy
        subprocess.run(
            [str(path / "bin" / "pip"), "install", "-q", "nbgrader>=0.9,<0.10", "pandas", "numpy", "scipy"], check=True
        )
    return path


def _hidden_test(part, expected) -> str:
    """An autograder assertion of one answer against the key, with the part's tolerance."""
    kind, params, name = part.check.kind, part.check.params, part.id
    abs_tol, rel_tol = float(params.get("abs_tol", 0)), float(params.get("rel_tol", 0))
    if kind == "number":
        return f"assert abs(float({name}) - {expected!r}) <= max({abs_tol!r}, {rel_tol!r} * abs({expected!r}))"
    if kind == "table":
        return (
            f"__key = {expected!r}\nassert set(map(str, {name})) == set(__key)\n"
            f"assert all(abs(float({name}[k]) - v) <= max({abs_tol!r}, {rel_tol!r} * abs(v)) for k, v in __key.items())"
        )
    if kind == "boolean":
        return f"assert bool({name}) is {expected!r}"
    if kind == "choice":
        return f"assert str({name}).strip().lower() == {str(expected).strip().lower()!r}"
    raise ValueError(f"no nbgrader test for check kind {kind}")


def _nbgrader_notebook(case: CaseSpec, key: dict) -> dict:
    """The solution notebook as an nbgrader source: answer cells are solutions, each followed by hidden tests."""
    parts = {part.id: part for part in case.checkable_parts}
    cells = []
    for index, cell in enumerate(solution_notebook(case).cells):
        assess = cell.get("metadata", {}).get("assess", {})
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        entry: dict = {"cell_type": cell.cell_type, "metadata": {}, "source": source, "id": f"c{index}"}
        if cell.cell_type == "code":
            entry.update(outputs=[], execution_count=None)
        cells.append(entry)
        part = parts.get(assess.get("answer")) if isinstance(assess, dict) else None
        if part is None:
            continue
        entry["source"] = f"### BEGIN SOLUTION\n{source}\n### END SOLUTION"
        entry["metadata"]["nbgrader"] = {
            "schema_version": 3,
            "grade": False,
            "solution": True,
            "locked": False,
            "task": False,
            "grade_id": f"answer_{part.id}",
        }
        cells.append(
            {
                "cell_type": "code",
                "id": f"t{index}",
                "outputs": [],
                "execution_count": None,
                "source": f"### BEGIN HIDDEN TESTS\n{_hidden_test(part, key[part.id])}\n### END HIDDEN TESTS",
                "metadata": {
                    "nbgrader": {
                        "schema_version": 3,
                        "grade": True,
                        "solution": False,
                        "locked": True,
                        "task": False,
                        "points": part.points,
                        "grade_id": f"test_{part.id}",
                    }
                },
            }
        )
    return {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    }


def _nbgrader(case: CaseSpec, venv: Path, runs: int, batch: int) -> tuple[list[float], float]:
    key = case.answer_key(case.generate(SEED))
    files = data_files(case, SEED)
    possible = sum(part.points for part in case.checkable_parts)
    course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    env = {**os.environ, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("VIRTUAL_ENV", None)

    def nbgrader(*args: str) -> None:
        subprocess.run(
            [str(venv / "bin" / "nbgrader"), *args],
            cwd=course,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    try:
        (course / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.course_id = 'bench'\n"
            "c.Exchange.root = " + repr(str(course / "exchange")) + "\nc.ExecutePreprocessor.timeout = 180\n"
        )
        source = course / "source" / "ps1"
        source.mkdir(parents=True)
        (source / "readout.ipynb").write_text(json.dumps(_nbgrader_notebook(case, key)))
        for name, content in files.items():
            (source / name).write_bytes(content)
        nbgrader("db", "assignment", "add", "ps1")
        students = [f"s{i:03d}" for i in range(max(batch, 1))]
        for student in students:
            nbgrader("db", "student", "add", student)
        nbgrader("generate_assignment", "ps1", "--force")
        for student in students:
            submitted = course / "submitted" / student / "ps1"
            submitted.mkdir(parents=True)
            shutil.copy(source / "readout.ipynb", submitted / "readout.ipynb")  # the solution, as the student's
            for name, content in files.items():
                (submitted / name).write_bytes(content)
        latencies = []
        for _ in range(runs):
            started = time.monotonic()
            nbgrader("autograde", "ps1", "--student", students[0], "--force")
            latencies.append(time.monotonic() - started)
        started = time.monotonic()
        nbgrader("autograde", "ps1", "--force")
        elapsed = time.monotonic() - started
        # A fair race only if nbgrader graded the solution as we did: every autograded point for everyone.
        nbgrader("export", "--to", str(course / "grades.csv"))
        with open(course / "grades.csv", encoding="utf-8") as handle:
            scores = [float(row["raw_score"]) for row in csv.DictReader(handle)]
        assert len(scores) == len(students) and all(score == possible for score in scores), scores
        return latencies, elapsed
    finally:
        shutil.rmtree(course, ignore_errors=True)


# --- the report -----------------------------------------------------------------------------


def _median(reports: list[GradeReport], field: str) -> float:
    return statistics.median(getattr(r.timings, field) for r in reports)


def _breakdown(name: str, reports: list[GradeReport], preparation: float) -> str:
    start = _median(reports, "sandbox_start")
    kernel = _median(reports, "kernel_start")
    execution = _median(reports, "execution")
    scoring = _median(reports, "scoring")
    total = _median(reports, "total")
    other = total - start - execution - scoring - preparation
    first_cell = statistics.median(r.cells[0].seconds for r in reports)
    return (
        f"{name:12}{preparation:>9.2f}{start - kernel:>9.2f}{kernel:>8.2f}{execution:>11.2f}{first_cell:>12.2f}"
        f"{scoring:>9.3f}{other:>8.2f}{total:>8.2f}"
    )


def main() -> int:
    """Measure the graders and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="latency samples per grader (>= 5 for a median)")
    parser.add_argument("--batch", type=int, default=20, help="submissions in the throughput batch")
    parser.add_argument("--nbgrader-venv", type=Path, default=Path(tempfile.gettempdir()) / "bench-nbgrader-venv")
    parser.add_argument("--size", type=int, default=None, help="rows per candidate (default: the case's default size)")
    args = parser.parse_args()
    case = load_case(CASE, check_rules=CHECK_RULES)
    if args.size:
        case = dataclasses.replace(case, default_size=args.size)
    print(
        f"case {case.slug}, size {case.default_size}, seed {SEED}; cores {os.cpu_count()}; "
        f"load average at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    cache = MaterialsCache(Path(tempfile.mkdtemp(prefix="bench-seeds-")))
    built, preparation = _preparation(case, cache, args.batch)
    print(
        f"seed materials: built in {built:.2f} s once per candidate (when the bundle is first built), "
        f"read back in {preparation:.3f} s per grading",
        flush=True,
    )
    floor = _floor(case, max(3, args.runs // 2 + 1))
    print(f"floor measured: {floor[0]:.2f} s", flush=True)
    ours = {}
    for mode in ("cold", "warm", "fork"):
        ours[mode] = _ours(case, args.runs, args.batch, mode, cache)
        print(f"ours {mode} measured: {statistics.median(ours[mode][0]):.2f} s", flush=True)
    shutil.rmtree(cache.root, ignore_errors=True)
    theirs = _nbgrader(case, _nbgrader_venv(args.nbgrader_venv), args.runs, args.batch)
    print(f"load average at end {os.getloadavg()[0]:.1f}\n")

    theirs_median, theirs_rate = statistics.median(theirs[0]), args.batch / theirs[1] * 60
    print(f"{'':16}{'median latency (s)':>19}{'vs nbgrader':>12}{'throughput (/min)':>19}{'vs nbgrader':>12}")
    print(f"{'nbgrader':16}{theirs_median:>19.2f}{'1.00x':>12}{theirs_rate:>19.1f}{'1.00x':>12}")
    for mode, (latencies, elapsed, _, _) in ours.items():
        median, rate = statistics.median(latencies), args.batch / elapsed * 60
        print(
            f"{'ours ' + mode:16}{median:>19.2f}{theirs_median / median:>11.2f}x{rate:>19.1f}{rate / theirs_rate:>11.2f}x"
        )
    print(f"{'floor (script)':16}{floor[0]:>19.2f}{theirs_median / floor[0]:>11.2f}x")
    print(
        "latency: one submission at a time (warm: arriving at a warm pool; fork: at a started template); throughput: "
        f"{args.batch} submissions at once, ours {os.cpu_count()} at a time, nbgrader one class autograde."
    )
    warm_rate, fork_rate = (args.batch / ours[mode][1] * 60 for mode in ("warm", "fork"))
    print(f"fork: {fork_rate / warm_rate:.2f}x the warm pool's throughput")
    fork_cpu = ours["fork"][3]
    # Only the fork path's processes are all reaped by this process (the template is a subreaper);
    # bubblewrap's are killed with their monitor and reaped by the machine's init, uncounted.
    print(
        f"fork: {fork_cpu:.2f} CPU seconds per submission (template, forks and kernels, the template's "
        f"imports included); on {os.cpu_count()} otherwise idle cores that allows at most "
        f"{(os.cpu_count() or 1) * 60 / fork_cpu:.0f}/min"
    )
    print("\nwhere our time goes (medians of the latency runs, seconds):")
    print(
        f"{'':12}{'prepare':>9}{'sandbox':>9}{'kernel':>8}{'execution':>11}{'(1st cell)':>12}{'scoring':>9}"
        f"{'other':>8}{'total':>8}"
    )
    for mode, (_, _, reports, _) in ours.items():
        print(_breakdown(f"ours {mode}", reports, preparation))
    print(
        f"{'floor':12}{'':>9}{'':>9}{'':>8}{floor[1] + floor[2]:>11.2f}{'':>12}{'':>9}"
        f"{floor[0] - floor[1] - floor[2]:>8.2f}{floor[0]:>8.2f}"
    )
    print(
        f"  floor: imports (numpy, pandas, scipy.stats) {floor[1]:.2f} s + cells {floor[2]:.2f} s; 'other' is "
        "interpreter start and exit."
    )
    print(
        "  prepare: reading the seed's kept data files and key (trusted side, measured apart);\n"
        "  sandbox: bwrap and the runner's own start (fork: the fork, namespaces, new root and privilege drop);\n"
        "  kernel: starting it (warm: done before the submission arrived; what is left is writing the files\n"
        "  in; fork: forking it from the runner); execution: every cell (the 1st imports the libraries:\n"
        "  a cold run pays for them, warm and fork runs find them loaded); other: the runner's start and\n"
        "  answer read-out, the handover, parsing."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
