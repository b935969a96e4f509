"""Prometheus metrics: request latency, grading outcomes and sandbox limit hits, queue depth.

In-process counters and histograms live in prometheus_client's default registry. Under gunicorn
(several processes) and with separate grading workers, set PROMETHEUS_MULTIPROC_DIR to one empty
directory shared by every process of the host before any of them starts: each process then writes
its samples to files there and a scrape adds them up. Queue depth is not kept in any process: it
is read from the database (the source of truth) when /metrics is scraped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from assessments.extensions import db
from assessments.grading.report import RunFailure
from assessments.models import GradeRun, GradeStatus

__all__ = ["CONTENT_TYPE_LATEST", "exposition", "observe_grade_run", "observe_request", "sandbox_limits_hit"]

REQUEST_SECONDS = Histogram(
    "assess_http_request_duration_seconds",
    "Time to answer a request, by endpoint and status.",
    ["endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
GRADING_SECONDS = Histogram(
    "assess_grading_duration_seconds",
    "Time to grade one run (sandbox and scoring), by outcome.",
    ["outcome"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
)
SANDBOX_LIMIT_HITS = Counter(
    "assess_sandbox_limit_hits",
    "Grade runs stopped or harmed by a sandbox limit, by limit.",
    ["limit"],
)

# Outcomes of a finished run: `graded` (a report, no error), `graded_with_error` (a report that
# says why the notebook could not be fully graded, usually the candidate's code), `failed` (the
# grader itself failed; staff must look).
GRADED, GRADED_WITH_ERROR, FAILED = "graded", "graded_with_error", "failed"


def observe_request(endpoint: str | None, status: int, seconds: float) -> None:
    """Record one answered request (unmatched URLs share one label so scanners cannot add series)."""
    REQUEST_SECONDS.labels(endpoint=endpoint or "unmatched", status=str(status)).observe(seconds)


_LIMIT_OF_FAILURE = {
    RunFailure.WALL_TIME: "wall_time",
    RunFailure.OUTPUT_CAP: "output",
    RunFailure.KERNEL_DIED: "kernel_died",
    RunFailure.INTERRUPT_IGNORED: "cell_time",
}


def sandbox_limits_hit(results: Mapping[str, Any] | None) -> set[str]:
    """Which sandbox limits a finished run ran into, read from its stored report's failure code and cells.

    The labels: the whole run's wall clock, the output cap, a kernel death (memory or CPU), one cell's
    time limit, and a MemoryError in a cell.
    """
    hits: set[str] = set()
    results = results or {}
    failure = results.get("failure")
    if failure in set(RunFailure) and RunFailure(failure) in _LIMIT_OF_FAILURE:
        hits.add(_LIMIT_OF_FAILURE[RunFailure(failure)])
    for cell in results.get("cells") or ():
        status = cell.get("status")
        if status == "timeout":
            hits.add("cell_time")
        elif status == "kernel-died":
            hits.add("kernel_died")
        elif str(cell.get("error") or "").startswith("MemoryError"):
            hits.add("memory")
    return hits


def observe_grade_run(run: GradeRun) -> None:
    """Record a grade run that just finished: its duration, outcome and any sandbox limit hits."""
    if run.results is None:
        outcome = FAILED
    else:
        outcome = GRADED_WITH_ERROR if run.error else GRADED
    seconds: float | None = None
    if run.timings and run.timings.get("total") is not None:
        seconds = float(run.timings["total"])
    elif run.started_at is not None and run.finished_at is not None:
        seconds = (run.finished_at - run.started_at).total_seconds()
    if seconds is not None:
        GRADING_SECONDS.labels(outcome=outcome).observe(max(seconds, 0.0))
    for limit in sandbox_limits_hit(run.results):
        SANDBOX_LIMIT_HITS.labels(limit=limit).inc()


class _QueueDepth:
    """Grade runs by state, counted in the database at scrape time (one indexed GROUP BY)."""

    def collect(self) -> Iterator[Metric]:
        counts = dict(db.session.execute(select(GradeRun.status, func.count()).group_by(GradeRun.status)).all())
        family = GaugeMetricFamily("assess_grade_runs", "Grade runs in the database, by state.", labels=["state"])
        for state in GradeStatus:
            family.add_metric([state.value], counts.get(state.value, 0))
        yield family


class _Forward:
    """Hands a scrape the default registry's metrics (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The directory shared by every process when metrics are collected across processes."""
    # prometheus_client still honours the lower-case name that older deployments set.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112


def exposition() -> bytes:
    """The text a Prometheus scrape receives (needs an app context for the queue depth)."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward())
    registry.register(_QueueDepth())
    return generate_latest(registry)
