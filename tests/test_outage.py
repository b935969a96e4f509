"""A database that drops connections or stops answering: pages ask people to try again, workers
retry their writes, and a run is still graded exactly once."""

from __future__ import annotations

import io
import logging

import nbformat
import pytest
import sqlalchemy as sa
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from assessments import outage
from assessments.content.notebook import solution_notebook
from assessments.extensions import db, login_manager
from assessments.logs import JsonFormatter
from assessments.models import GradeRun, GradeStatus, Invitation
from assessments.services import catalog, grade_runs, grading


def _dropped(statement: str) -> OperationalError:
    return OperationalError(statement, {}, Exception("terminating connection due to administrator command"))


def _notebook_bytes(app) -> bytes:
    with app.app_context():
        return nbformat.writes(solution_notebook(catalog.case_specs()["tiny-hiring"])).encode()


def _queued_run(app, make_invitation) -> int:
    """A stored submission whose run is queued but not graded (the test grades it by hand)."""
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)
    invitation_id, _ = make_invitation()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        submission = grading.accept_submission(invitation, "answers.ipynb", _notebook_bytes(app))
        return submission.grade_runs[0].id


def _graded_once(app, run_id: int) -> GradeRun:
    with app.app_context():
        runs = db.session.scalars(
            select(GradeRun).where(GradeRun.submission_id == db.session.get(GradeRun, run_id).submission_id)
        ).all()
        assert len(runs) == 1
        db.session.expunge(runs[0])
        return runs[0]


def test_an_upload_during_an_outage_gets_a_page_asking_to_upload_again(app, client, make_invitation, monkeypatch):
    _, token = make_invitation()

    def database_gone(*args, **kwargs):
        raise _dropped("INSERT INTO submission ...")

    monkeypatch.setattr(grading, "accept_submission", database_gone)
    response = client.post(
        f"/i/{token}",
        data={"notebook": (io.BytesIO(_notebook_bytes(app)), "a.ipynb")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    page = response.get_data(as_text=True)
    assert "try again in a moment" in page and "upload it again" in page
    assert "OperationalError" not in page and "administrator" not in page


def test_a_signed_in_page_during_an_outage_renders_without_the_database(app, client, auth, make_user, monkeypatch):
    admin = make_user("admin")
    auth.login(admin.email)

    def user_loader_fails(user_id: str):
        raise _dropped("SELECT user ...")

    monkeypatch.setattr(login_manager, "_user_callback", user_loader_fails)
    response = client.get("/dashboard")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "try again in a moment" in page
    assert "Sign out" not in page  # rendered signed out: the page must not need the database


@pytest.mark.sandbox
def test_worker_retries_its_claim_and_its_result_while_the_database_is_unavailable(
    app, make_invitation, monkeypatch, caplog
):
    monkeypatch.setattr(outage, "RETRY_DELAYS", (0.01, 0.01, 0.01))
    failures = {"claim_grade_run": 1, "_finish": 1}

    def fails_once(name: str):
        real = getattr(grade_runs, name)

        def call(*args, **kwargs):
            if failures[name]:
                failures[name] -= 1
                raise _dropped("COMMIT")
            return real(*args, **kwargs)

        return call

    for name in failures:
        monkeypatch.setattr(grade_runs, name, fails_once(name))
    run_id = _queued_run(app, make_invitation)
    with caplog.at_level(logging.WARNING, logger="assessments.outage"), app.app_context():
        grade_runs.run_grade(run_id, "worker-a")
    assert failures == {"claim_grade_run": 0, "_finish": 0}
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2
    run = _graded_once(app, run_id)
    assert run.status == GradeStatus.DONE and run.attempts == 1
    assert run.earned == run.possible > 0


@pytest.mark.sandbox
def test_worker_reconnects_when_the_server_terminated_its_connections_mid_run(app, make_invitation, monkeypatch):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("terminating server connections needs PostgreSQL")
    run_id = _queued_run(app, make_invitation)
    with app.app_context():
        engine = db.engine
    backends: list[int] = []

    def remember(dbapi_connection, connection_record) -> None:
        backends.append(dbapi_connection.info.backend_pid)

    event.listen(engine, "connect", remember)
    engine.dispose()  # every connection from here on is one of ours, and remembered
    terminated: list[int] = []
    real_grade = grade_runs.grade_notebook

    def grade_then_cut_connections(*args, **kwargs):
        report = real_grade(*args, **kwargs)
        # What a server restart does to the worker's pool while the notebook runs.
        admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for pid in backends:
                if conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}):
                    terminated.append(pid)
        admin.dispose()
        return report

    monkeypatch.setattr(grade_runs, "grade_notebook", grade_then_cut_connections)
    try:
        with app.app_context():
            grade_runs.run_grade(run_id, "worker-a")
    finally:
        event.remove(engine, "connect", remember)
    assert terminated, "no connection of the worker was open to terminate"
    run = _graded_once(app, run_id)
    assert run.status == GradeStatus.DONE and run.attempts == 1
    assert run.earned == run.possible > 0


def test_a_session_left_broken_by_a_dropped_connection_also_gets_the_try_again_page(
    app, client, make_invitation, monkeypatch, caplog
):
    from sqlalchemy.exc import PendingRollbackError

    _, token = make_invitation()

    def broken_session(*args, **kwargs):
        raise PendingRollbackError("Can't reconnect until invalid transaction is rolled back.")

    monkeypatch.setattr(grading, "progress_by_version", broken_session)
    client.post(
        f"/i/{token}",
        data={"notebook": (io.BytesIO(_notebook_bytes(app)), "a.ipynb")},
        content_type="multipart/form-data",
    )
    response = client.get(f"/i/{token}/status")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    # Whatever is logged about it names no invitation token.
    assert all(token not in JsonFormatter().format(record) for record in caplog.records)


def test_an_unexpected_error_on_a_candidate_page_is_logged_without_the_token(
    app, client, make_invitation, monkeypatch, caplog
):
    _, token = make_invitation()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(grading, "progress_by_version", bug)
    client.post(
        f"/i/{token}",
        data={"notebook": (io.BytesIO(_notebook_bytes(app)), "a.ipynb")},
        content_type="multipart/form-data",
    )
    with caplog.at_level(logging.ERROR):
        assert client.get(f"/i/{token}/status").status_code == 500
    lines = [JsonFormatter().format(record) for record in caplog.records if record.levelno >= logging.ERROR]
    assert lines and any("a bug" in line for line in lines)
    assert all(token not in line for line in lines), lines


def test_a_connection_that_dies_after_the_response_is_made_does_not_turn_it_into_a_500(app, client, make_invitation):
    _, token = make_invitation()
    failed = []

    def server_terminated_it(conn):
        if not failed:
            failed.append(True)
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection due to administrator command"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "rollback", server_terminated_it)
    try:
        first = client.get(f"/i/{token}")
    finally:
        event.remove(engine, "rollback", server_terminated_it)
    assert failed, "the rollback at the end of the request never ran"
    assert first.status_code == 200
    assert client.get(f"/i/{token}").status_code == 200  # and the next request gets a working connection
