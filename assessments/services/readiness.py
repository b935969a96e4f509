"""Readiness: whether this app process can serve, component by component, within a time bound.

Each check returns 'ok' or a short word on what is wrong; the details go to the log for the
operator, never to the caller (no URL, path or password). The database check is a trivial SQL query
(under PostgreSQL's statement timeout), not a model query: it asks whether the database answers at
all, whatever tables it holds.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from flask import current_app
from huey import RedisHuey, SqliteHuey
from sqlalchemy import text

from assessments.extensions import db
from assessments.grading.cgroups import memory_bound
from assessments.grading.sandbox import sandbox_problem, unsafe_grading_allowed
from assessments.queue import grading_queue

log = logging.getLogger(__name__)

OK = "ok"


def check_database() -> str:
    """'ok' when a trivial query answers, else what failed (no connection details)."""
    try:
        if db.engine.dialect.name == "postgresql":
            # Connecting is bounded by connect_timeout (config.py); the query by this.
            timeout_ms = int(current_app.config["READINESS_TIMEOUT_SECONDS"] * 1000)
            db.session.execute(text(f"SET LOCAL statement_timeout = {timeout_ms}"))
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return OK
    except Exception as error:  # noqa: BLE001 - any driver error means "not ready"
        log.warning("readiness: database: %s: %s", type(error).__name__, error)
        db.session.rollback()
        return "unreachable"


def check_queue() -> str:
    """'ok' when the grading queue answers: a Redis ping, or the Huey SQLite file opening."""
    huey = grading_queue().huey
    try:
        if isinstance(huey, RedisHuey):
            import redis

            client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
        elif isinstance(huey, SqliteHuey):
            path = Path(huey.storage.filename).resolve()
            # mode=rw: a missing file is a failure, not a new empty queue.
            connection = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=2)
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                connection.close()
        return OK
    except Exception as error:  # noqa: BLE001 - any queue client error means "not ready"
        log.warning("readiness: queue: %s: %s", type(error).__name__, error)
        return "unreachable"


def check_submission_store() -> str:
    """'ok' when the submission directory exists (or can be made) and takes a new file."""
    root = Path(current_app.config["SUBMISSIONS_DIR"])
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".ready-"):
            pass
        return OK
    except OSError as error:
        log.warning("readiness: submission store: %s: %s", type(error).__name__, error)
        return "not writable"


def check_sandbox() -> str:
    """'ok' when notebooks can be graded in a sandbox on this machine, else the problem's code (details logged)."""
    if not current_app.config["READINESS_SANDBOX"]:
        return OK
    problem = sandbox_problem()
    if problem is None or unsafe_grading_allowed():
        return OK
    log.warning("readiness: sandbox: %s", problem)
    return problem.code


def sandbox_memory_bound() -> dict[str, str] | None:
    """Which memory bound holds a submission graded on this machine (kind and one sentence); None when the
    sandbox is left to grading machines (READINESS_SANDBOX off)."""
    if not current_app.config["READINESS_SANDBOX"]:
        return None
    bound = memory_bound()
    return {"kind": bound.kind, "description": bound.describe()}


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "queue": check_queue,
    "submission_store": check_submission_store,
    "sandbox": check_sandbox,
}


def check_readiness() -> dict[str, str]:
    """Each component's state ('ok' or a short word on what is wrong), within a time bound.

    The checks run side by side, each in its own app context; one still running at the bound is
    reported as "timeout" and left to finish on its own (its driver's own timeouts end it).
    """
    app = current_app._get_current_object()
    bound = float(app.config["READINESS_TIMEOUT_SECONDS"])

    def run(check: Callable[[], str]) -> str:
        with app.app_context():
            return check()

    pool = ThreadPoolExecutor(max_workers=len(READINESS_CHECKS), thread_name_prefix="readiness")
    try:
        futures = {name: pool.submit(run, check) for name, check in READINESS_CHECKS.items()}
        wait(futures.values(), timeout=bound)
        states = {}
        for name, future in futures.items():
            if future.done():
                states[name] = future.result()
            else:
                log.warning("readiness: %s: no answer within %g s", name.replace("_", " "), bound)
                states[name] = "timeout"
        return states
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
