"""The grading queue: Huey on a SQLite file by default, on Redis when REDIS_URL is set.

Huey removes a task before running it, so a worker killed mid-run loses it: the database is the
source of truth, and the periodic sweep re-enqueues what the queue lost (services/grade_runs.py).
The queue imports no service: what its tasks do is handed to it (`set_handlers`,
`set_mail_handlers`, `set_reminder_sweep`) when the app is built, so services may enqueue without a cycle. The same
workers send the outbox's mails (services/outbox.py), ahead of grading work.
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


@dataclass(frozen=True)
class MailQueue:
    """The task to send an outbox mail with."""

    send: Any

    def enqueue(self, mail_id: int) -> None:
        """Ask a worker to send a mail (a duplicate is harmless: claiming is atomic)."""
        self.send(mail_id)


@dataclass(frozen=True)
class MailHandlers:
    """What the mail tasks call, inside an app context."""

    deliver: Callable[[int], object]  # an outbox mail's id
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


def set_mail_handlers(app: Flask, handlers: MailHandlers) -> None:
    """Say what this app's mail tasks do."""
    app.extensions["assessments.mail_handlers"] = handlers


def set_reminder_sweep(app: Flask, sweep: Callable[[], object]) -> None:
    """Say what this app's minute reminder task runs (the due scorecard and deadline reminders)."""
    app.extensions["assessments.reminder_sweep"] = sweep


def _mail_handlers(app: Flask) -> MailHandlers:
    handlers = app.extensions.get("assessments.mail_handlers")
    if handlers is None:
        raise RuntimeError("The mail tasks have no handlers: the app must call queue.set_mail_handlers.")
    return handlers


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

    # A mail is a short network call: it goes ahead of grading tasks waiting in the queue.
    @huey.task(name="send_mail", priority=10)
    def send_mail(mail_id: int) -> None:
        with app.app_context():
            _mail_handlers(app).deliver(mail_id)

    # Retries and lost tasks: the outbox table, not the queue, says which mails are due.
    @huey.periodic_task(crontab(minute="*"), name="mail_sweep")
    def mail_sweep() -> None:
        with app.app_context():
            _mail_handlers(app).sweep()

    # Reminders (services/notifications.py): each is claimed in the database, so the sweep is safe
    # to run on every worker at once.
    @huey.periodic_task(crontab(minute="*"), name="reminder_sweep")
    def reminder_sweep() -> None:
        with app.app_context():
            sweep = app.extensions.get("assessments.reminder_sweep")
            if sweep is None:
                raise RuntimeError("The reminder task has no sweep: the app must call queue.set_reminder_sweep.")
            sweep()

    app.extensions["assessments.mail_queue"] = MailQueue(send=send_mail)


def grading_queue() -> GradingQueue:
    """The app's grading queue."""
    return current_app.extensions["assessments.queue"]


def mail_queue() -> MailQueue:
    """The app's mail task (on the grading queue)."""
    return current_app.extensions["assessments.mail_queue"]
