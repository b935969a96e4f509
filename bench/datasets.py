"""Benchmark: how long each case takes to generate a candidate's data and bundle, and how big it is.

Run with `.venv/bin/python bench/datasets.py [--runs N] [--root cases]`. For every case under the root
it measures, as the median of N runs with seeds 1..N:

- generate: `case.generate(seed, size)` alone, at the default size and at 10x;
- data: generate + serialise to CSV + write the files to a temporary folder (what a bundle needs);
- bundle: the whole `build_bundle` at the default size (generate, CSV, release notebook, README, zip),
  i.e. the work behind one candidate's download;
and the bytes per candidate: the CSVs uncompressed and the zip. The baseline ratio is 10x over 1x of
`data`: ~10 means generation scales linearly with size, well above 10 means it does not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assessments.content.bundle import build_bundle, data_files
from assessments.content.case import CaseFormatError, CaseSpec, load_case
from assessments.grading.checks import CHECK_RULES

ROOT = Path(__file__).resolve().parents[1]


def _median_seconds(work: Callable[[int], object], runs: int) -> float:
    """Median wall time of `work(seed)` over seeds 1..runs."""
    times = []
    for seed in range(1, runs + 1):
        start = time.perf_counter()
        work(seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _write_data(case: CaseSpec, seed: int, size: int, folder: Path) -> int:
    """Generate, serialise and write one candidate's data files; the bytes written."""
    files = data_files(case, seed, size)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return sum(len(data) for data in files.values())


def measure_case(case: CaseSpec, runs: int) -> dict[str, float]:
    """Timings (seconds) and sizes (bytes) for one case."""
    size = case.default_size
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        row = {
            "generate_1x": _median_seconds(lambda s: case.generate(s, size), runs),
            "data_1x": _median_seconds(lambda s: _write_data(case, s, size, folder), runs),
            "generate_10x": _median_seconds(lambda s: case.generate(s, 10 * size), max(1, runs // 2)),
            "data_10x": _median_seconds(lambda s: _write_data(case, s, 10 * size, folder), max(1, runs // 2)),
            "bundle_1x": _median_seconds(lambda s: build_bundle(case, s), runs),
            "csv_bytes": _write_data(case, 1, size, folder),
        }
    row["zip_bytes"] = len(build_bundle(case, 1))
    row["rows"] = sum(len(frame) for frame in case.generate(1, size).values())
    return row


def _table(rows: dict[str, dict[str, float]]) -> str:
    header = (
        f"{'case':<16}{'size':>8}{'rows':>9}{'gen 1x':>9}{'data 1x':>9}{'gen 10x':>9}"
        f"{'data 10x':>10}{'10x/1x':>8}{'bundle':>9}{'CSV KB':>9}{'zip KB':>9}"
    )
    lines = [header, "-" * len(header)]
    for slug, r in rows.items():
        lines.append(
            f"{slug:<16}{int(r['size']):>8}{int(r['rows']):>9}{r['generate_1x']:>8.3f}s{r['data_1x']:>8.3f}s"
            f"{r['generate_10x']:>8.3f}s{r['data_10x']:>9.3f}s{r['data_10x'] / r['data_1x']:>8.1f}"
            f"{r['bundle_1x']:>8.3f}s{r['csv_bytes'] / 1024:>9.0f}{r['zip_bytes'] / 1024:>9.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every case under the root and print the table; 1 when a case does not load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement at 1x (half at 10x)")
    parser.add_argument("--root", type=Path, default=ROOT / "cases", help="folder holding the cases")
    args = parser.parse_args(argv)
    rows, failed = {}, False
    for folder in sorted(p for p in args.root.iterdir() if p.is_dir() and p.name[0] not in "._"):
        try:
            case = load_case(folder, check_rules=CHECK_RULES)
        except CaseFormatError as error:
            print(f"{folder.name}: does not load, skipped:\n{error}\n", file=sys.stderr)
            failed = True
            continue
        rows[case.slug] = {"size": case.default_size, **measure_case(case, args.runs)}
    print(f"median of {args.runs} runs at 1x, {max(1, args.runs // 2)} at 10x; seconds per candidate")
    print(_table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
