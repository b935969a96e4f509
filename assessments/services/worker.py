"""A grading worker's life: check the sandbox before taking any notebook, keep warm sandboxes, then
consume the queue (any number of workers can run, on any machine, against one database).
"""

from __future__ import annotations

from flask import current_app

from assessments.errors import GradingUnavailable
from assessments.grading.pool import default_pool
from assessments.grading.sandbox import UNSAFE_SWITCH, sandbox_problem, unsafe_grading_allowed
from assessments.queue import grading_queue


def prepare_worker() -> str | None:
    """Make this process ready to grade; a warning for the operator when it will grade unsandboxed.

    :raises GradingUnavailable: when no sandbox can be had and unsandboxed grading is not allowed:
        a worker that cannot sandbox would fail every notebook, so it must not take one.
    """
    problem = sandbox_problem()
    if problem and not unsafe_grading_allowed():
        raise GradingUnavailable(f"this worker cannot grade notebooks: {problem}")
    if problem:
        return f"grading WITHOUT a sandbox ({UNSAFE_SWITCH}=1): {problem}"
    # Warm sandboxes (kernel started, libraries imported, one per submission) live only in
    # workers: pages and tests grade cold and never keep sandboxes waiting.
    current_app.extensions["assessments.sandbox_pool"] = default_pool()
    return None


def queue_backend() -> str:
    """The kind of queue this worker consumes (SqliteHuey, RedisHuey), for its start line."""
    return type(grading_queue().huey).__name__


def consume(workers: int) -> None:
    """Take grading tasks from the queue, `workers` at once, until the process is stopped."""
    from huey.consumer import Consumer  # only a worker process needs the consumer

    Consumer(grading_queue().huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=True).run()
