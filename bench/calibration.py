"""Benchmark: the calibration report from an ATS ratings CSV at 100,000 and 1,000,000 scorecards.

Run: .venv/bin/python bench/calibration.py [--sizes 100000 1000000] [--boot 500]
     .venv/bin/python bench/calibration.py --naive-stages   (the per-stage fast vs naive table)

For each size it writes a simulated export (8 dimensions, 200 interviewers, 3% "not assessed")
and measures in this one run:

- end to end: `flask --app app calibration report --from FILE --scale 1..4` in a child process
  (CPU of the child, wall, peak resident memory), and the same command on a one-row CSV
  (interpreter, imports and app start-up), so "excluding start-up" is the difference;
- in process: parsing (stats.ratings_csv), the statistics alone (stats.calibration_report, by
  stage), and the JSON;
- the baseline: pandas.read_csv of the same file with default options, the least any CSV route
  does. Every figure is also printed as a multiple of it, so the table reads the same on a
  faster or a busier machine.

`--naive-stages` prints the older table: each statistics stage against the obvious
implementation (per-group loops, one krippendorff / ICC call per resample, lsqr on the dummy
design) on 100,000 scorecards. Not a test: it never fails on speed.
"""

from __future__ import annotations

import argparse
import os

# a 200 x 200 dense solve is faster on one BLAS thread than on two contended ones on a shared
# 2-core machine; set before numpy loads (override by exporting OPENBLAS_NUM_THREADS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import TypeVar

import krippendorff
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.linalg import lsqr

from assessments.stats import (
    RECOMMENDATIONS,
    calibration_report,
    report_to_json,
    shrout_fleiss_icc,
    simulate_panel,
    simulate_scorecards,
)
from assessments.stats.ratings_csv import parse_scale, read_ratings_csv

ROOT = Path(__file__).resolve().parent.parent
FLASK = [str(Path(sys.executable).with_name("flask")), "--app", "app", "calibration", "report"]
Result = TypeVar("Result")
PARTS = {
    "base_rate": ["problem-framing"],
    "metric_choice": ["evaluation-rigor", "modeling"],
    "srm_pvalue": ["evaluation-rigor"],
    "leaky_feature": ["modeling", "responsible-ai"],
    "monitoring_plan": ["production-ml"],
    "recommendation": ["communication", "problem-framing"],
}


def simulate_auto_grades(ratings: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Part scores tracking each candidate's mean rating; 10 checks, one inverted, one trivial."""
    rng = np.random.default_rng(seed)
    strength = ratings.groupby("candidate", sort=False)["rating"].mean()
    candidates = strength.index.to_numpy()
    z = ((strength - strength.mean()) / strength.std()).to_numpy()
    parts = pd.DataFrame(
        {
            "candidate": np.tile(candidates, len(PARTS)),
            "part": np.repeat(list(PARTS), candidates.size),
            "score_fraction": 1
            / (1 + np.exp(-(np.tile(z, len(PARTS)) + rng.normal(0, 1, candidates.size * len(PARTS))))),
        }
    )
    names = [f"check_{i}" for i in range(8)] + ["inverted_key", "always_passes"]
    scores = [(z + rng.normal(0, 1, z.size) > 0).astype(float) for _ in range(8)]
    scores += [(z + rng.normal(0, 1, z.size) < 0).astype(float), np.ones(z.size)]
    checks = pd.DataFrame(
        {
            "candidate": np.tile(candidates, len(names)),
            "check": np.repeat(names, candidates.size),
            "score_fraction": np.concatenate(scores),
        }
    )
    return parts, checks


def timed(compute: Callable[[], Result]) -> tuple[Result, float]:
    """The result and the CPU seconds of one call (CPU, so other work on the machine cancels)."""
    start = time.process_time()
    result = compute()
    return result, time.process_time() - start


def naive_alpha(ratings: pd.DataFrame, n_boot: int, seed: int) -> tuple[dict[str, float], float]:
    """krippendorff.alpha on each dimension's raters x candidates matrix; one call per resample."""
    rng = np.random.default_rng(seed)
    points, boot_seconds = {}, 0.0
    for dimension, group in ratings.groupby("dimension", sort=False):
        matrix = group.pivot(index="interviewer", columns="candidate", values="rating").to_numpy()
        matrix = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]
        points[dimension] = krippendorff.alpha(matrix, level_of_measurement="ordinal")
        start = time.process_time()
        for _ in range(n_boot):
            krippendorff.alpha(
                matrix[:, rng.integers(0, matrix.shape[1], matrix.shape[1])], level_of_measurement="ordinal"
            )
        boot_seconds += time.process_time() - start
    return points, boot_seconds


def naive_icc(ratings: pd.DataFrame, n_boot: int, seed: int) -> tuple[dict[str, float], float]:
    """Block by Python sets over rater pairs, then one ICC per resample."""
    rng = np.random.default_rng(seed)
    points, boot_seconds = {}, 0.0
    for dimension, group in ratings.dropna(subset=["rating"]).groupby("dimension", sort=False):
        seen: dict[str, set[str]] = {}
        for candidate, interviewer in zip(group["candidate"], group["interviewer"], strict=True):
            seen.setdefault(interviewer, set()).add(candidate)
        order = {rater: position for position, rater in enumerate(seen)}
        pair = max(combinations(seen, 2), key=lambda p: len(seen[p[0]] & seen[p[1]]))
        chosen, members = list(pair), seen[pair[0]] & seen[pair[1]]
        while True:
            options = [(len(members & seen[r]), -order[r], r) for r in seen if r not in chosen]
            if not options:
                break
            kept, _, best = max(options)
            if kept < 2 or (len(chosen) + 1) * kept <= len(chosen) * len(members):
                break
            chosen.append(best)
            members &= seen[best]
        block = group[group["candidate"].isin(members) & group["interviewer"].isin(chosen)]
        matrix = block.pivot(index="candidate", columns="interviewer", values="rating").to_numpy()
        points[dimension] = shrout_fleiss_icc(matrix).loc[1, "icc"]
        start = time.process_time()
        for _ in range(n_boot):
            shrout_fleiss_icc(matrix[rng.integers(0, len(matrix), len(matrix))])
        boot_seconds += time.process_time() - start
    return points, boot_seconds


def _lsqr_effects(frame: pd.DataFrame, unit_columns: list[str]) -> pd.Series:
    unit = frame.groupby(unit_columns, sort=False).ngroup().to_numpy()
    rater, raters = pd.factorize(frame["interviewer"])
    n, k, m = len(frame), unit.max() + 1, len(raters)
    last = np.flatnonzero(rater == m - 1)
    rows = np.r_[np.arange(n), np.flatnonzero(rater != m - 1), np.repeat(last, m - 1)]
    cols = np.r_[unit, k + rater[rater != m - 1], k + np.tile(np.arange(m - 1), last.size)]
    vals = np.r_[np.ones(n), np.ones((rater != m - 1).sum()), -np.ones(last.size * (m - 1))]
    design = sp.csr_matrix((vals, (rows, cols)), shape=(n, k + m - 1))
    effects = lsqr(design, frame["rating"].to_numpy(float), atol=1e-10, btol=1e-10, iter_lim=5000)[0][k:]
    return pd.Series(np.r_[effects, -effects.sum()], index=np.asarray(raters))


def naive_leniency(ratings: pd.DataFrame) -> dict[str, pd.Series]:
    """lsqr on the full candidate + rater dummy design, per dimension and overall (no SEs).

    Overall fits one mean per scorecard, as the report does.
    """
    present = ratings.dropna(subset=["rating"])
    means = present.groupby(["candidate", "interviewer"], sort=False)["rating"].mean()
    result = {"overall": _lsqr_effects(means.reset_index(), ["candidate"])}
    for dimension, group in present.groupby("dimension", sort=False):
        result[dimension] = _lsqr_effects(group, ["candidate"])
    return result


def naive_small_stages(ratings: pd.DataFrame, scorecards: pd.DataFrame) -> dict[str, float]:
    """Distribution, recommendation shares and disagreements with per-group Python loops."""
    present = ratings.dropna(subset=["rating"])
    means = {}
    for interviewer, group in present.groupby("interviewer"):
        shares = group["rating"].value_counts(normalize=True)
        means[interviewer] = sum(level * share for level, share in shares.items())
    for _, group in scorecards.groupby("interviewer"):
        counts = {choice: 0 for choice in RECOMMENDATIONS}
        for choice in group["recommendation"]:
            counts[choice] += 1
    spreads = present.groupby(["candidate", "dimension"])["rating"].agg(
        lambda values: (values.max() - values.min(), values.std())
    )
    top = sorted(spreads.items(), key=lambda item: (-item[1][0], -item[1][1]))[:20]
    return {"top_range": top[0][1][0], "mean_i": float(np.mean(list(means.values())))}


def naive_autograde(ratings: pd.DataFrame, parts: pd.DataFrame, checks: pd.DataFrame) -> None:
    """Per (part, dimension) merges and per-check Python loops over candidates."""
    present = ratings.dropna(subset=["rating"])
    for part, dimensions in PARTS.items():
        for dimension in dimensions:
            human = present[present["dimension"] == dimension].groupby("candidate")["rating"].mean()
            auto = parts[parts["part"] == part].set_index("candidate")["score_fraction"]
            joined = pd.concat([auto, human], axis=1, join="inner")
            stats.pearsonr(joined.iloc[:, 0], joined.iloc[:, 1])
            stats.spearmanr(joined.iloc[:, 0], joined.iloc[:, 1])
    totals: dict[object, float] = {}
    for candidate, score in zip(checks["candidate"], checks["score_fraction"], strict=True):
        totals[candidate] = totals.get(candidate, 0.0) + score
    for _, group in checks.groupby("check"):
        pairs = zip(group["candidate"], group["score_fraction"], strict=True)
        rest = [totals[candidate] - score for candidate, score in pairs]
        with np.errstate(divide="ignore", invalid="ignore"):  # the always-passing check
            np.corrcoef(group["score_fraction"], rest)


def naive_stages(args: argparse.Namespace) -> None:
    """Each statistics stage on 100,000 scorecards, fast and the obvious way, with the ratio."""
    (ratings, _), simulate_seconds = timed(
        lambda: simulate_panel(
            args.seed, n_candidates=33_334, n_interviewers=200, raters_per_candidate=3, missing_rate=0.03
        )
    )
    scorecards = simulate_scorecards(ratings, seed=args.seed)
    parts, checks = simulate_auto_grades(ratings, seed=args.seed)
    print(
        f"simulated {len(scorecards):,} scorecards, {len(ratings):,} ratings, "
        f"{ratings['interviewer'].nunique()} interviewers in {simulate_seconds:.1f}s; "
        f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}"
    )

    wall_start = time.perf_counter()
    report, cpu = timed(
        lambda: calibration_report(
            ratings,
            scorecards,
            auto_scores=parts,
            part_dimensions=PARTS,
            check_scores=checks,
            n_boot=args.boot,
            seed=args.seed,
        )
    )
    total = time.perf_counter() - wall_start

    scale = args.boot / max(args.naive_boot, 1)
    print(f"fast report: {total:.2f} s wall, {cpu:.2f} s CPU; now the naive path (minutes)", flush=True)
    (alpha_points, alpha_boot), alpha_seconds = timed(lambda: naive_alpha(ratings, args.naive_boot, args.seed))
    (icc_points, icc_boot), icc_seconds = timed(lambda: naive_icc(ratings, args.naive_boot, args.seed))
    lsqr_effects, leniency_seconds = timed(lambda: naive_leniency(ratings))
    _, small_seconds = timed(lambda: naive_small_stages(ratings, scorecards))
    _, auto_seconds = timed(lambda: naive_autograde(ratings, parts, checks))

    fast = report.cpu_seconds
    rows = [
        ("code ratings", fast["code ratings"], 0.0, "(naive stages work on the frame)"),
        (
            "alpha + bootstrap",
            fast["alpha"],
            alpha_seconds + alpha_boot * (scale - 1),
            f"naive bootstrap: {args.naive_boot} resamples, scaled x{scale:.0f}",
        ),
        (
            "ICC + bootstrap",
            fast["icc"],
            icc_seconds + icc_boot * (scale - 1),
            f"naive bootstrap: {args.naive_boot} resamples, scaled x{scale:.0f}",
        ),
        ("leniency (+ SEs)", fast["leniency"], leniency_seconds, "naive: lsqr, no SEs"),
        (
            "distribution, shares, agenda",
            fast["rating distribution"] + fast["recommendation shares"] + fast["disagreements"],
            small_seconds,
            "",
        ),
        ("auto-grade + items", fast["auto-grade agreement"] + fast["item analysis"], auto_seconds, ""),
    ]
    print("\nCPU seconds of this process (wall time swings with the other work on the machine)")
    print(f"{'stage':32s} {'fast s':>8s} {'naive s':>9s} {'ratio':>7s}  note")
    for stage, fast_seconds, naive_seconds, note in rows:
        ratio = f"{naive_seconds / fast_seconds:7.0f}" if naive_seconds else "      -"
        print(f"{stage:32s} {fast_seconds:8.3f} {naive_seconds:9.2f} {ratio}  {note}")
    naive_total = sum(row[2] for row in rows)
    print(
        f"{'whole report':32s} {cpu:8.3f} {naive_total:9.2f} {naive_total / cpu:7.0f}  "
        f"bootstrap: {args.boot} resamples per dimension and statistic"
    )

    # the two paths must agree, or the speed means nothing
    alpha_gap = max(abs(report.alpha.set_index("dimension").loc[d, "alpha"] - v) for d, v in alpha_points.items())
    icc = report.icc[report.icc["form"] == "ICC(2,1)"].set_index("dimension")["icc"]
    icc_gap = max(abs(icc.loc[d] - v) for d, v in icc_points.items())
    # least squares identifies differences between raters: compare both centred
    leniency = report.leniency.set_index(["dimension", "interviewer"])["fixed_effect"]
    lsqr_gap = max(
        float((leniency.loc[d].loc[s.index] - leniency.loc[d].loc[s.index].mean() - s).abs().max())
        for d, s in lsqr_effects.items()
    )
    print(
        f"\nagreement with the naive path: alpha {alpha_gap:.1e}, ICC(2,1) {icc_gap:.1e}, "
        f"leniency vs lsqr {lsqr_gap:.1e}"
    )
    print(f"whole report: wall {total:.2f} s, CPU {cpu:.2f} s; load average {os.getloadavg()[0]:.1f}")


def write_export(n_scorecards: int, path: Path, seed: int) -> int:
    """A simulated ATS export of `n_scorecards` x 8 dimensions; returns its rows."""
    ratings, _ = simulate_panel(
        seed, n_candidates=-(-n_scorecards // 3), n_interviewers=200, raters_per_candidate=3, missing_rate=0.03
    )
    text = ratings["rating"].map({1.0: "1", 2.0: "2", 3.0: "3", 4.0: "4"}).fillna("")
    ratings.assign(rating=text).to_csv(path, index=False)
    return len(ratings)


# Started from a small helper: a child forked from this (large) process would count the pages it
# shared before exec in its peak RSS.
PEAK_HELPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def child(command: list[str]) -> tuple[float, float, float]:
    """Wall s, CPU s and peak RSS (MB) of one child process (it must exit 0)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_HELPER, *command], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(done.stdout.split()[-1]) / 1024


def in_process(path: Path, n_boot: int) -> dict[str, float]:
    """CPU seconds of parsing, the statistics (by stage) and the JSON, in this process."""
    start = time.process_time()
    imported = read_ratings_csv(path, scale=parse_scale("1..4"))
    parsed = time.process_time()
    empty = pd.DataFrame(columns=["candidate", "interviewer", "recommendation"])
    report = calibration_report(imported.coded(), empty, levels=imported.scale.levels, n_boot=n_boot)
    computed = time.process_time()
    report_to_json(report)
    done = time.process_time()
    return {
        "parse": parsed - start,
        "stats": computed - parsed,
        "json": done - computed,
        **{f"  {stage}": seconds for stage, seconds in report.cpu_seconds.items()},
    }


def sweep(sizes: list[int], n_boot: int, seed: int) -> None:
    """The end-to-end and stats-alone table at each size."""
    with tempfile.TemporaryDirectory() as folder:
        tiny = Path(folder) / "one.csv"
        tiny.write_text("candidate,interviewer,dimension,rating\nc,a,x,1\nc,b,x,2\n")
        startup_wall, startup_cpu, _ = child([*FLASK, "--from", str(tiny), "--scale", "1..4"])
        print(f"start-up (CLI on a 2-row CSV): {startup_cpu:.2f} s CPU, {startup_wall:.2f} s wall")
        for size in sizes:
            path = Path(folder) / f"ratings-{size}.csv"
            start = time.perf_counter()
            rows = write_export(size, path, seed)
            print(
                f"\n{size:,} scorecards: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB "
                f"(written in {time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            start = time.process_time()
            pd.read_csv(path)
            baseline = time.process_time() - start
            wall, cpu, rss = child(
                [*FLASK, "--from", str(path), "--scale", "1..4", "--out", str(Path(folder) / "report.json")]
            )
            alone = in_process(path, n_boot)
            table = [
                ("baseline: pandas.read_csv", baseline, ""),
                ("CLI end to end", cpu, f"wall {wall:.2f} s, peak {rss:.0f} MB"),
                ("CLI excluding start-up", cpu - startup_cpu, ""),
                ("in process: parse", alone.pop("parse"), ""),
                ("in process: statistics alone", alone.pop("stats"), ""),
                *[(stage, seconds, "") for stage, seconds in alone.items() if stage != "json"],
                ("in process: JSON", alone["json"], ""),
            ]
            print(f"{'':34s} {'CPU s':>8s} {'x baseline':>10s}")
            for name, seconds, note in table:
                print(f"{name:34s} {seconds:8.2f} {seconds / baseline:10.2f}  {note}")


def main() -> None:
    """Parse the arguments and run the sweep (or the naive per-stage table)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--boot", type=int, default=500, help="bootstrap resamples (as the CLI)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--naive-stages", action="store_true", help="the per-stage fast vs naive table at 100,000 scorecards instead"
    )
    parser.add_argument("--naive-boot", type=int, default=5, help="resamples timed naively")
    args = parser.parse_args()
    if args.naive_stages:
        naive_stages(args)
    else:
        sweep(args.sizes, args.boot, args.seed)


if __name__ == "__main__":
    main()
