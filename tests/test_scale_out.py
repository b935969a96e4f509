"""Scale-out: grading consumers on separate machines share PostgreSQL, Redis and the submission
store, configured only through the environment, and grade every submission exactly once.

Each consumer is its own `flask --app app worker` process with its own working directory and
instance folder (as on two machines) and no config file. Needs TEST_DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import os
import signal
import socket
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
from assessments.models import GradeRun, GradeStatus, Invitation
from assessments.services import catalog, grading, seeds
from tests.conftest import FIXTURE_CASES

pytestmark = pytest.mark.sandbox

SUBMISSIONS = 6
REDIS_DB = 15


def _machine_env(database_url: str, redis_url: str, store: Path, home: Path, seed_key: str) -> dict[str, str]:
    """The environment of one grading machine: everything it knows comes from here."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SUBMISSIONS_DIR", "CASES_DIR", "SECRET_KEY", "SEED_KEY")
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SUBMISSIONS_DIR=str(store),
        CASES_DIR=str(FIXTURE_CASES),
        SECRET_KEY="scale-out-test",
        # The key the invitations' data seeds were derived with (the test app's): each machine grades
        # against the data its candidate downloaded only when all hold the same one.
        SEED_KEY=seed_key,
        ASSESS_INSTANCE_PATH=str(home / "instance"),
        ASSESS_WARM_SANDBOXES="1",
        # The code is deployed on each machine; here both run the same checkout, from elsewhere.
        PYTHONPATH=str(PROJECT_ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_until(condition, seconds: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs)
            raise AssertionError(f"{what} within {seconds:g} s\n{tails}")
        time.sleep(0.25)


def test_two_grading_machines_share_the_work_and_grade_each_submission_once(app, make_invitation, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql") or not os.environ.get("REDIS_URL"):
        pytest.skip("scale-out needs PostgreSQL (TEST_DATABASE_URL) and Redis (REDIS_URL)")
    import redis

    redis_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    app.config.update(REDIS_URL=redis_url, HUEY_IMMEDIATE=False)
    queue.init_app(app)
    # The test's session schema travels in the URL, as any setting of a machine must.
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("options")
    database_url = url + ("?options=" + quote(options) if options else "")
    store = Path(app.config["SUBMISSIONS_DIR"])

    machines: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for name in ("machine-a", "machine-b"):
            home = tmp_path / name
            home.mkdir()
            log = home / "worker.log"
            logs.append(log)
            with log.open("wb") as out:
                machines.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "flask", "--app", "app", "worker", "--workers", "1"],
                        cwd=home,
                        env=_machine_env(database_url, redis_url, store, home, app.extensions[seeds.EXTENSION].hex()),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        _wait_until(
            lambda: all("Grading worker started" in p.read_text(errors="replace") for p in logs),
            60,
            "both workers did not start",
            logs,
        )

        run_ids = []
        for i in range(SUBMISSIONS):
            invitation_id, _ = make_invitation()
            with app.app_context():
                notebook = solution_notebook(catalog.case_specs()["tiny-hiring"])
                notebook.cells.append(nbformat.v4.new_markdown_cell(f"candidate {i}"))
                invitation = db.session.get(Invitation, invitation_id)
                submission = grading.accept_submission(invitation, "a.ipynb", nbformat.writes(notebook).encode())
                run_ids.append(submission.grade_runs[0].id)

        def all_finished() -> bool:
            with app.app_context():
                states = db.session.scalars(select(GradeRun.status).where(GradeRun.id.in_(run_ids))).all()
                db.session.remove()
            return all(s in (GradeStatus.DONE, GradeStatus.FAILED) for s in states)

        _wait_until(all_finished, 90, "the submissions were not all graded", logs)
        assert all(m.poll() is None for m in machines), "a worker died"
    finally:
        for machine in machines:
            _stop(machine)
        redis.Redis.from_url(redis_url).flushdb()

    with app.app_context():
        runs = db.session.scalars(select(GradeRun)).all()
        assert len(runs) == SUBMISSIONS  # one run per submission: nothing graded twice
        assert len({r.submission_id for r in runs}) == SUBMISSIONS
        assert all(r.status == GradeStatus.DONE and r.attempts == 1 for r in runs)
        assert all(r.earned == r.possible > 0 for r in runs)
        workers = {r.claimed_by.rsplit("/", 1)[0] for r in runs}  # worker/claim
    host = socket.gethostname()
    assert workers == {f"{host}:{m.pid}" for m in machines}, "both machines took part"
    for name in ("machine-a", "machine-b"):
        assert not (tmp_path / name / "instance" / "config.py").exists()
        assert not (tmp_path / name / "instance" / "secret_key").exists()
        assert not (tmp_path / name / "instance" / "seed.key").exists()
