"""Grading workers as real processes: a consumer killed with SIGKILL mid-run loses nothing.

Huey removes a task before running it, so the task dies with its worker; the grade run's lease
expires and the next worker's sweep re-enqueues it. A hiring submission and a practice attempt
are graded by the same job, so one kill covers both. Runs on SQLite + Huey's SQLite queue, and on
PostgreSQL + Redis when TEST_DATABASE_URL and REDIS_URL are set (the scale-out deployment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
from sqlalchemy import select

from assessments import queue
from assessments.config import PROJECT_ROOT
from assessments.content.notebook import solution_notebook
from assessments.extensions import db
from assessments.models import AttemptStatus, AuditEvent, GradeRun, GradeStatus, Invitation, PracticeAttempt, User
from assessments.models.types import utcnow
from assessments.services import catalog, grading, practice, seeds
from tests.conftest import FIXTURE_CASES

pytestmark = pytest.mark.sandbox


def _worker_env(app, instance: Path, redis_url: str | None, lease_seconds: int) -> dict[str, str]:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("options")
    if options:
        url += "?options=" + quote(options)
    (instance / "config.py").write_text(
        f"CASES_DIR = {str(FIXTURE_CASES)!r}\n"
        f"SUBMISSIONS_DIR = {app.config['SUBMISSIONS_DIR']!r}\n"
        f"HUEY_SQLITE_PATH = {app.config['HUEY_SQLITE_PATH']!r}\n"
        f"GRADE_LEASE_SECONDS = {lease_seconds}\nGRADE_UNCLAIMED_SECONDS = 60\nSECRET_KEY = 'worker-test'\n"
        # The key the test app derived its invitations' data seeds with (another would refuse them).
        f"SEED_KEY = {app.extensions[seeds.EXTENSION].hex()!r}\n"
        # The first graded attempt opens the solution, so its one audit event shows the attempt was finished once.
        "PRACTICE_SOLUTION_AFTER_ATTEMPTS = 1\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(ASSESS_INSTANCE_PATH=str(instance), DATABASE_URL=url, PYTHONUNBUFFERED="1")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "--workers", "2"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_for(app, run_ids: list[int], statuses: set[str], seconds: float) -> list[GradeRun]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            runs = [db.session.get(GradeRun, run_id, populate_existing=True) for run_id in run_ids]
            if all(run.status in statuses for run in runs):
                for run in runs:
                    db.session.expunge(run)
                return runs
        time.sleep(0.25)
    raise AssertionError(f"runs {run_ids} did not reach {statuses} in {seconds} s")


def _wait_for_leases_to_expire(app, run_ids: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            leases = [db.session.get(GradeRun, run_id, populate_existing=True).lease_expires_at for run_id in run_ids]
        if all(lease is not None and lease < utcnow() for lease in leases):
            return
        time.sleep(0.1)
    raise AssertionError(f"the leases of runs {run_ids} did not expire in {seconds} s")


def _slow_notebook(app) -> bytes:
    """The fixture case's solution with a slow first cell, so the worker is surely mid-run when it is killed."""
    with app.app_context():
        notebook = solution_notebook(catalog.case_specs()["tiny-hiring"])
    notebook.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(6)"))
    return nbformat.writes(notebook).encode()


def test_sigkilled_worker_loses_nothing_and_grades_once(app, make_invitation, make_user, tmp_path):
    redis_url = None
    # SQLite pairs with Huey's SQLite queue (the default deployment), PostgreSQL with Redis.
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") and os.environ.get("REDIS_URL"):
        import redis

        redis_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/14"
        redis.Redis.from_url(redis_url).flushdb()
        app.config["REDIS_URL"] = redis_url
    app.config.update(HUEY_IMMEDIATE=False, HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    queue.init_app(app)
    instance = tmp_path / "worker-instance"
    instance.mkdir()
    # A short lease for the worker that dies, so the test need not wait long for it to run out.
    env = _worker_env(app, instance, redis_url, lease_seconds=4)
    log = tmp_path / "worker.log"

    invitation_id, _ = make_invitation()
    mentee = make_user("mentee")
    raw = _slow_notebook(app)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        submission = grading.accept_submission(invitation, "slow.ipynb", raw)
        own = practice.start_practice(db.session.get(User, mentee.id), "tiny-hiring")
        attempt = practice.submit_notebook_attempt(own, "slow.ipynb", raw)
        hiring_run, practice_run = submission.grade_runs[0].id, attempt.grade_run.id
        attempt_id = attempt.id

    first = _start_worker(env, log)  # two consumer threads: both runs are mid-grade when it dies
    try:
        claimed = _wait_for(app, [hiring_run, practice_run], {GradeStatus.RUNNING}, 60)
        time.sleep(1.5)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert [run.attempts for run in claimed] == [1, 1]
    with app.app_context():
        # Orphaned, not lost.
        assert [db.session.get(GradeRun, i).status for i in (hiring_run, practice_run)] == [GradeStatus.RUNNING] * 2
        assert db.session.get(PracticeAttempt, attempt_id).status == AttemptStatus.QUEUED
    _wait_for_leases_to_expire(app, [hiring_run, practice_run], 30)

    # The next worker's own claims outlast its grading (a 6 s cell), as a real lease does.
    second = _start_worker(_worker_env(app, instance, redis_url, lease_seconds=120), log)
    try:
        done = _wait_for(app, [hiring_run, practice_run], {GradeStatus.DONE, GradeStatus.FAILED}, 180)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        try:
            second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait()
    for run in done:
        assert run.status == GradeStatus.DONE, log.read_text()[-3000:]
        assert run.attempts == 2
        assert run.earned == run.possible > 0
    with app.app_context():
        runs = db.session.scalars(select(GradeRun).where(GradeRun.submission_id == done[0].submission_id)).all()
        assert len(runs) == 1  # graded exactly once: one run, one result
        graded = db.session.get(PracticeAttempt, attempt_id)
        assert graded.status == AttemptStatus.DONE and graded.earned == graded.possible > 0
        assert graded.grade_run.id == practice_run  # the mentee's feedback is that one run's result
        unlocked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "practice.solution_unlocked")).all()
        assert len(unlocked) == 1
