"""The faults bench/deadline_night.py injects, and the database reads they watch the run with.

Consumer fault: SIGKILL one grading consumer's process group while it holds a run, then start a
new one; the run's lease runs out and the sweep hands it to a consumer again.

Database fault: break every connection the app servers and consumers hold, and refuse new ones
for a few seconds, while uploads arrive and notebooks are graded.
- PostgreSQL: the app's processes connect as a role of their own (the bench's own reads use the
  superuser and `SET ROLE`, so they are untouched). The fault sets that role's CONNECTION LIMIT
  to 0 and `pg_terminate_backend`s all its backends, exactly what a server restart does to its
  clients (FATAL "terminating connection due to administrator command", then refused
  connections), but confined to this bench: a real `pg_ctlcluster restart` would also cut every
  other user of the shared server.
- SQLite: there is no server and no connection to break. The nearest real fault is the write
  lock held longer than the busy timeout (5 s), as a long writer or a restore would: the bench
  holds BEGIN IMMEDIATE on the database file, so writes time out with "database is locked".
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


def signal_group(proc: Any, sig: int) -> None:
    """Send a signal to a process's group (it was started in its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def run_counts(app) -> dict[str, int]:
    """Grade runs by state, from the database."""
    from sqlalchemy import func, select

    from assessments.extensions import db
    from assessments.models import GradeRun

    with app.app_context():
        counts = dict(db.session.execute(select(GradeRun.status, func.count()).group_by(GradeRun.status)).all())
        db.session.remove()
    return counts


def running_claims(app) -> list[tuple[int, str]]:
    """Runs being graded now and who holds them."""
    from sqlalchemy import select

    from assessments.extensions import db
    from assessments.models import GradeRun, GradeStatus

    with app.app_context():
        rows = db.session.execute(
            select(GradeRun.id, GradeRun.claimed_by).where(GradeRun.status == GradeStatus.RUNNING)
        ).all()
        db.session.remove()
    return [(r[0], r[1] or "") for r in rows]


def unfinished_runs(app) -> list[int]:
    """Runs queued or being graded now."""
    from sqlalchemy import select

    from assessments.extensions import db
    from assessments.models import GradeRun, GradeStatus

    with app.app_context():
        ids = db.session.scalars(
            select(GradeRun.id).where(GradeRun.status.in_([GradeStatus.QUEUED, GradeStatus.RUNNING]))
        ).all()
        db.session.remove()
    return list(ids)


class ConsumerFault(threading.Thread):
    """Kills consumer 0's process group while it holds a run (once enough runs are done), restarts it."""

    def __init__(
        self, app, instance, after_done: int, stop: threading.Event, after: DatabaseFault | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.app, self.instance, self.after_done, self.stop_event = app, instance, after_done, stop
        self.after = after
        self.killed_runs: list[int] = []
        self.killed_at: float | None = None

    def run(self) -> None:
        while not self.stop_event.wait(0.3):
            if run_counts(self.app).get("done", 0) < self.after_done:
                continue
            # With both faults, the runs caught by the database outage finish first, so each fault
            # is seen on its own.
            if self.after is not None and not self.after.settled():
                continue
            victim = self.instance.consumers[0]
            held = [run_id for run_id, worker in running_claims(self.app) if worker.endswith(f":{victim.pid}")]
            if not held:
                continue
            signal_group(victim, signal.SIGKILL)
            victim.wait(timeout=10)
            self.killed_runs, self.killed_at = held, time.time()
            self.instance.start_consumer(0)
            return


class DatabaseFault(threading.Thread):
    """From `at` (wall-clock time) cuts the app's database off for `seconds`, then lets it back.

    PostgreSQL: new connections are refused from the start, and the open ones are terminated as
    soon as a run is queued or being graded (or after 3 s), so a consumer has work in flight when
    its pool dies; a server shutting down does the same, in the same order. SQLite: the write lock
    is taken once a run is queued or being graded (or after 30 s).
    """

    def __init__(
        self,
        app,
        backend: str,
        at: float,
        seconds: float,
        *,
        admin_url: str | None = None,
        role: str | None = None,
        sqlite_path: Path | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.app, self.backend, self.at, self.seconds = app, backend, at, seconds
        self.admin_url, self.role, self.sqlite_path = admin_url, role, sqlite_path
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.terminated = 0
        self.runs_in_flight: list[int] = []
        self.failure: str | None = None

    def run(self) -> None:
        time.sleep(max(0.0, self.at - time.time()))
        try:
            if self.backend == "postgres":
                self._postgres_outage()
            else:
                self._sqlite_lock()
        except Exception as error:  # reported as a problem of the bench, not hidden
            self.failure = f"{type(error).__name__}: {error}"

    def _catch_runs_in_flight(self, seconds: float) -> None:
        give_up = time.monotonic() + seconds
        while not self.runs_in_flight and time.monotonic() < give_up:
            self.runs_in_flight = unfinished_runs(self.app)
            time.sleep(0.05)

    def _postgres_outage(self) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'ALTER ROLE "{self.role}" CONNECTION LIMIT 0'))
                self.started_at = time.time()
                self._catch_runs_in_flight(3.0)
                self.terminated = (
                    conn.scalar(
                        sa.text(
                            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE usename = :role"
                        ),
                        {"role": self.role},
                    )
                    or 0
                )
                time.sleep(max(0.0, self.started_at + self.seconds - time.time()))
                conn.execute(sa.text(f'ALTER ROLE "{self.role}" CONNECTION LIMIT -1'))
                self.ended_at = time.time()
        finally:
            engine.dispose()

    def _sqlite_lock(self) -> None:
        # The lock takes hold at once (and stops new submissions): first wait for work in flight.
        self._catch_runs_in_flight(30.0)
        connection = sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=30)
        try:
            connection.execute("BEGIN IMMEDIATE")
            self.started_at = time.time()
            time.sleep(max(0.0, self.started_at + self.seconds - time.time()))
            connection.execute("ROLLBACK")
            self.ended_at = time.time()
        finally:
            connection.close()

    def settled(self) -> bool:
        """The outage is over (or could not be made) and the runs it caught are finished."""
        if self.failure:
            return True
        if self.ended_at is None:
            return False
        return not set(unfinished_runs(self.app)) & set(self.runs_in_flight)

    def describe(self) -> str:
        """One line for the report: what was done, when, and for how long."""
        if self.failure:
            return f"could not be injected: {self.failure}"
        if self.started_at is None or self.ended_at is None:
            return "was never injected"
        what = (
            f"new connections of the app's role refused and its {self.terminated} open ones terminated"
            if self.backend == "postgres"
            else "write lock held on the database file"
        )
        return (
            f"{what}, for {self.ended_at - self.started_at:.1f} s; runs queued or being graded then: "
            f"{self.runs_in_flight or 'none'}"
        )
