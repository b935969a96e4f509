"""The grading queue: Huey on a SQLite file by default, on Redis when REDIS_URL is set.

Huey removes a task before running it, so a worker killed mid-run loses it: the database is the
source of truth, and the periodic sweep re-enqueues what the queue lost (services/grade_runs.py).
The queue imports no service: what its tasks do is handed to it (`set_handlers`) when the app is
built, so services may enqueue without a cycle.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab


@dataclass(frozen=True)
class GradingQueue:
    """The Huey instance and the task to enqueue a grade run with."""

    huey: Huey
    grade: Any

    def enqueue(self, run_id: int) -> None:
        """Ask a worker to grade a run (a duplicate is harmless: claiming is atomic)."""
        self.grade(run_id)


@dataclass(frozen=True)
class GradingHandlers:
    """What the queue's tasks call, inside an app context."""

    grade: Callable[[int, str], None]  # a grade run's id and the name of the worker claiming it
    sweep: Callable[[], object]


def make_huey(app: Flask) -> Huey:
    """The Huey instance the configuration asks for."""
    if app.config.get("HUEY_IMMEDIATE"):
        # Tests: tasks run in the caller, synchronously.
        return MemoryHuey("assessments", immediate=True)
    if app.config.get("REDIS_URL"):
        from redis import ConnectionPool

        # Timeouts, so an upload's enqueue cannot hang on a Redis that stopped answering; the
        # socket timeout is well above the consumer's 1 s blocking read.
        pool = ConnectionPool.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=5, socket_timeout=10, health_check_interval=30
        )
        return RedisHuey("assessments", connection_pool=pool)
    path = app.config.get("HUEY_SQLITE_PATH") or str(Path(app.instance_path) / "huey.db")
    return SqliteHuey("assessments", filename=path)


def worker_name() -> str:
    """Who claims a run: host and process, so operators can tell workers apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


def set_handlers(app: Flask, handlers: GradingHandlers) -> None:
    """Say what this app's grading tasks do (kept across a later `init_app`)."""
    app.extensions["assessments.grading_handlers"] = handlers


def _handlers(app: Flask) -> GradingHandlers:
    handlers = app.extensions.get("assessments.grading_handlers")
    if handlers is None:
        raise RuntimeError("The grading queue has no handlers: the app must call queue.set_handlers.")
    return handlers


def init_app(app: Flask) -> None:
    """Create the queue and register its tasks, bound to this app."""
    huey = make_huey(app)

    @huey.task(name="grade")
    def grade(run_id: int) -> None:
        with app.app_context():
            _handlers(app).grade(run_id, worker_name())

    @huey.periodic_task(crontab(minute="*"), name="sweep")
    def sweep() -> None:
        with app.app_context():
            _handlers(app).sweep()

    app.extensions["assessments.queue"] = GradingQueue(huey=huey, grade=grade)


def grading_queue() -> GradingQueue:
    """The app's grading queue."""
    return current_app.extensions["assessments.queue"]
