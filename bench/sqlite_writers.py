"""Write latency on one SQLite file with many writers: SQLite's busy handler against taking turns.

    .venv/bin/python bench/sqlite_writers.py [--processes 4] [--threads 4] [--seconds 8]

Each mode runs the same load on a fresh WAL file: `--processes` processes (gunicorn workers and
the grading worker) of `--threads` threads each, every thread in a loop of one short write
transaction (an insert, three updates, 2 ms of work inside the transaction, as rendering a mail
or a round trip does, then commit) and 20 ms of rest. "busy handler" is plain sqlite3 with a 5 s
busy timeout, as the app had; "turns" is the app's connection class
(assessments/sqlite_writers.py). It prints each mode's transactions, their latency percentiles
from begin to commit, and the ratio of turns to the busy handler at each. Both modes run in the
same invocation, one after the other, on the same machine state.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from assessments.sqlite_writers import TurnTakingConnection

MODES = {"busy handler": sqlite3.Connection, "turns": TurnTakingConnection}
PERCENTILES = (0.50, 0.95, 0.99, 1.0)


def _writer(path: str, mode: str, until: float, latencies: list[float]) -> None:
    connection = sqlite3.connect(path, timeout=5.0, factory=MODES[mode])
    connection.execute("PRAGMA busy_timeout=5000")
    while time.time() < until:
        started = time.perf_counter()
        connection.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
        for _ in range(3):
            connection.execute("UPDATE t SET v = v WHERE id = last_insert_rowid()")
        time.sleep(0.002)
        connection.commit()
        latencies.append(time.perf_counter() - started)
        time.sleep(0.02)
    connection.close()


def _process(path: str, mode: str, threads: int, until: float, results: multiprocessing.Queue) -> None:
    latencies: list[float] = []
    workers = [threading.Thread(target=_writer, args=(path, mode, until, latencies)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(latencies)


def run(mode: str, processes: int, threads: int, seconds: float) -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="sqlite-writers-"))
    path = str(folder / "bench.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    setup.close()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    until = time.time() + seconds
    workers = [context.Process(target=_process, args=(path, mode, threads, until, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    latencies = sorted(sum((results.get() for _ in workers), []))
    for worker in workers:
        worker.join()
    return latencies


def _at(latencies: list[float], q: float) -> float:
    return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    print(f"{args.processes} processes x {args.threads} threads, {args.seconds:g} s per mode")
    measured = {mode: run(mode, args.processes, args.threads, args.seconds) for mode in MODES}
    print(f"{'mode':<14}{'transactions':>13}" + "".join(f"{f'p{round(q * 100)} ms':>10}" for q in PERCENTILES))
    for mode, latencies in measured.items():
        print(f"{mode:<14}{len(latencies):>13}" + "".join(f"{_at(latencies, q):>10.1f}" for q in PERCENTILES))
    busy, turns = measured["busy handler"], measured["turns"]
    ratios = "".join(f"{_at(turns, q) / _at(busy, q):>10.2f}" for q in PERCENTILES)
    print(f"{'turns / busy':<14}{len(turns) / len(busy):>13.2f}" + ratios)


if __name__ == "__main__":
    main()
