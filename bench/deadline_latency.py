"""Latency tables of bench/deadline_night.py: server-side from the request log, client-side from the client.

Server side: gunicorn's access log (JSON lines through assessments/gunicorn_conf.py) gives each
request's method, redacted path, status and `duration_ms`: from the moment a worker has read the
request's headers until it has written the response. Time spent waiting for a free worker (in the
listen backlog, or for a thread) is not in it; the client-side table, from the people's own
clocks, includes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deadline_people import PAGE_TYPES

# What the issue asks of each page type: p95 under this many milliseconds, server side.
TARGET_P95_MS = {
    "candidate pages": 200,
    "status polls": 200,
    "uploads": 500,
    "staff pages": 200,
    "sign-in": None,
}


@dataclass(frozen=True)
class Request:
    """One line of the access log."""

    at: float
    method: str
    path: str
    status: int
    seconds: float


def page_type(method: str, path: str) -> str | None:
    """Which row of the tables a request belongs to; None for probes, metrics and assets."""
    if path.startswith("/i/<redacted>"):
        if path.endswith("/status"):
            return "status polls"
        if method == "POST" and path == "/i/<redacted>":
            return "uploads"
        return "candidate pages"
    if path in ("/login", "/logout"):
        return "sign-in"
    if path == "/dashboard" or path.startswith(("/admin/", "/panels/", "/submissions/")):
        return "staff pages"
    return None


def access_log(paths: Iterable[Path]) -> list[Request]:
    """Every gunicorn access line in these log files."""
    found = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if '"gunicorn.access"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("duration_ms") is None or not isinstance(entry.get("status"), int):
                continue
            found.append(
                Request(
                    datetime.fromisoformat(entry["time"]).timestamp(),
                    entry.get("method") or "",
                    entry.get("path") or "",
                    entry["status"],
                    entry["duration_ms"] / 1000,
                )
            )
    return found


def rank(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values by nearest rank."""
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def table(title: str, samples: dict[str, list[float]], refused: dict[str, int] | None = None) -> str:
    """Per page type: count, p50, p95, p99 and max in milliseconds, and p95 against its target."""
    lines = [
        title,
        f"  {'page type':<16} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  p95 target",
    ]
    for kind in PAGE_TYPES:
        values = sorted(samples.get(kind, []))
        target = TARGET_P95_MS[kind]
        if not values:
            lines.append(f"  {kind:<16} {0:>6}  no samples")
            continue
        p50, p95, p99 = (rank(values, q) * 1000 for q in (0.50, 0.95, 0.99))
        verdict = "-" if target is None else f"< {target} ms: {'met' if p95 < target else 'MISSED'}"
        extra = f"  ({refused[kind]} not 2xx/3xx)" if refused and refused.get(kind) else ""
        lines.append(
            f"  {kind:<16} {len(values):>6} {p50:>7.0f} {p95:>7.0f} {p99:>7.0f} {values[-1] * 1000:>7.0f}  "
            f"{verdict}{extra}"
        )
    return "\n".join(lines)


def server_table(requests: list[Request], since: float, until: float) -> str:
    """The server-side table over the requests logged between two wall-clock times."""
    samples: dict[str, list[float]] = {kind: [] for kind in PAGE_TYPES}
    refused: dict[str, int] = {kind: 0 for kind in PAGE_TYPES}
    for r in requests:
        kind = page_type(r.method, r.path)
        if kind is None or not since <= r.at <= until:
            continue
        samples[kind].append(r.seconds)
        if r.status >= 400:
            refused[kind] += 1
    return table("server side (gunicorn access log, ms):", samples, refused)
