"""A grading worker's life: check the sandbox before taking any notebook, keep warm sandboxes, then
consume the queue (any number of workers can run, on any machine, against one database).
"""

from __future__ import annotations

from flask import current_app

from assessments.errors import GradingUnavailable
from assessments.extensions import db
from assessments.grading.cgroups import memory_bound
from assessments.grading.forkserver import ForkServer, ForkUnavailable, default_fork_server
from assessments.grading.pool import SandboxPool, default_pool
from assessments.grading.sandbox import UNSAFE_SWITCH, sandbox_problem, unsafe_grading_allowed
from assessments.outage import DATABASE_UNAVAILABLE
from assessments.queue import grading_queue
from assessments.services import seeds


def prepare_worker() -> str | None:
    """Make this process ready to grade; a warning for the operator when it will grade unsandboxed.

    :raises GradingUnavailable: when no sandbox can be had and unsandboxed grading is not allowed:
        a worker that cannot sandbox would fail every notebook, so it must not take one; and when
        it holds another seed key than the newest invitation or practice was issued under.
    """
    _check_seed_key()
    problem = sandbox_problem()
    if problem and not unsafe_grading_allowed():
        raise GradingUnavailable(f"this worker cannot grade notebooks: {problem}")
    if problem:
        return f"grading WITHOUT a sandbox ({UNSAFE_SWITCH}=1): {problem}"
    # Forks of a template or warm sandboxes (libraries imported before a submission arrives, one
    # per submission) live only in workers: pages and tests grade cold and never keep any waiting.
    pool, path = _grading_pool()
    current_app.extensions["assessments.sandbox_pool"] = pool
    current_app.extensions["assessments.grading_path"] = path
    return None


def _grading_pool() -> tuple[ForkServer | SandboxPool | None, str]:
    """Fork > warm > cold: the fastest path that works here, and a sentence saying which and why."""
    try:
        server = default_fork_server()
    except ForkUnavailable as why:
        pool = default_pool()
        if pool is None:
            return None, f"cold sandboxes, one started per submission (no fork grading: {why})"
        return pool, f"warm sandboxes, {pool.size} kept ready (no fork grading: {why})"
    return server, (
        f"forks of one template (pid {server.template_pid}) that imported {', '.join(server.preload)} once; "
        "each submission in its own namespaces, root, uid and cgroup"
    )


def grading_path_description() -> str:
    """How this worker grades (fork, warm or cold, and why not a faster one), for its start-up log."""
    return current_app.extensions.get("assessments.grading_path", "cold sandboxes, one started per submission")


def _check_seed_key() -> None:
    # A machine that made its own key (no SEED_KEY) would fail every candidate's run: refuse to start.
    try:
        kind = seeds.newest_issued_under_another_key()
    except DATABASE_UNAVAILABLE:
        return  # the worker starts anyway (see `flask worker`); each run checks its own row's key
    finally:
        db.session.rollback()
    if kind is not None:
        raise GradingUnavailable(
            f"this worker's seed key is not the one the newest {kind} was issued under, so it would grade "
            "against other data: give every machine the same SEED_KEY (the first machine's instance/seed.key)."
        )


def memory_bound_description() -> str:
    """Which memory bound holds each submission this worker grades, and its size, for its start-up log."""
    return memory_bound().describe()


def queue_backend() -> str:
    """The kind of queue this worker consumes (SqliteHuey, RedisHuey), for its start line."""
    return type(grading_queue().huey).__name__


def consume(workers: int) -> None:
    """Take grading tasks from the queue, `workers` at once, until the process is stopped."""
    from huey.consumer import Consumer  # only a worker process needs the consumer

    Consumer(grading_queue().huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=True).run()
