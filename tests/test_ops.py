"""Operations: health and readiness, metrics and who may read them, request logs, backup and
restore, and the upload size limit (the invitation-link rate limit: test_rate_limits.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sqlite3
import tarfile
import time
from pathlib import Path

import nbformat
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from assessments import create_app
from assessments.config import engine_options
from assessments.content.notebook import release_notebook
from assessments.extensions import db
from assessments.grading.cgroups import memory_bound
from assessments.logs import REQUEST_LOGGER, JsonFormatter, redact_path
from assessments.metrics import sandbox_limits_hit
from assessments.models import GradeRun, Invitation, Submission
from assessments.services import catalog, grade_runs, grading, worker


def _without_grading(app) -> None:
    """Uploads are stored and queued, but nothing is graded (no sandbox needed)."""
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)


def _submit(app, invitation_id: int, marker: str = "") -> int:
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        notebook = release_notebook(catalog.case_specs()["tiny-hiring"])
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"my notes {marker}"))
        return grading.accept_submission(invitation, "nb.ipynb", nbformat.writes(notebook).encode()).id


def _bare_app(tmp_path: Path, monkeypatch, **config):
    monkeypatch.setenv("ASSESS_INSTANCE_PATH", str(tmp_path / "instance"))
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SUBMISSIONS_DIR": str(tmp_path / "store"),
        "HUEY_IMMEDIATE": True,
        **config,
    }
    return create_app(settings)


# --- health and readiness


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_each_component(client, app):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "queue": "ok", "submission_store": "ok", "sandbox": "ok"}
    bound = memory_bound()
    assert body["memory_bound"] == {"kind": bound.kind, "description": bound.describe()}
    assert bound.kind in ("cgroup-v2", "cgroup-v1", "process-limits")
    assert "GiB" in bound.describe()


def test_the_worker_says_at_start_which_memory_bound_holds_a_submission(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSESS_WARM_SANDBOXES", "0")
    monkeypatch.setattr(worker, "consume", lambda workers: None)
    app = _bare_app(tmp_path, monkeypatch)
    with app.app_context():
        db.create_all()
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 0, result.output
    assert f"Memory bound: {memory_bound().describe()}" in result.output


def test_the_worker_says_at_start_which_grading_path_is_in_force(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "consume", lambda workers: None)
    app = _bare_app(tmp_path, monkeypatch)
    with app.app_context():
        db.create_all()
    monkeypatch.setenv("ASSESS_FORK_GRADING", "0")
    monkeypatch.setenv("ASSESS_WARM_SANDBOXES", "0")
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 0, result.output
    assert "Grading path: cold sandboxes, one started per submission (no fork grading: ASSESS_FORK_GRADING=0)" in (
        result.output
    )
    if os.geteuid() == 0:  # fork grading needs root; as root it is the default
        monkeypatch.delenv("ASSESS_FORK_GRADING")
        result = app.test_cli_runner().invoke(args=["worker"])
        assert result.exit_code == 0, result.output
        assert "Grading path: forks of one template (pid " in result.output
        assert app.extensions["assessments.sandbox_pool"].template_pid is not None


def test_readyz_is_503_naming_an_unreachable_database(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such" / "folder" / "x.db"
    app = _bare_app(tmp_path, monkeypatch, SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["database"]
    assert body["checks"]["queue"] == "ok"
    assert str(tmp_path) not in response.get_data(as_text=True)


def test_readyz_answers_quickly_when_the_database_never_answers(tmp_path, monkeypatch):
    # A listening socket that accepts connections and never says a word: connecting hangs.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        app = _bare_app(
            tmp_path,
            monkeypatch,
            SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://u@127.0.0.1:{port}/x",
            READINESS_TIMEOUT_SECONDS=1.0,
        )
        started = time.monotonic()
        response = app.test_client().get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 3
    body = response.get_json()
    assert body["status"] == "unavailable" and body["failing"] == ["database"]
    assert body["checks"] == {"database": "timeout", "queue": "ok", "submission_store": "ok", "sandbox": "ok"}
    assert str(port) not in response.get_data(as_text=True)


def test_readyz_names_a_sandbox_that_cannot_grade_and_the_worker_refuses_to_start(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("ASSESS_UNSAFE_NO_SANDBOX", raising=False)
    monkeypatch.setenv("ASSESS_SANDBOX_VENV", str(tmp_path / "no-runtime"))
    app = _bare_app(tmp_path, monkeypatch)
    with app.app_context():
        db.create_all()
    with caplog.at_level("WARNING"):
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["sandbox"] and body["checks"]["sandbox"] == "runtime-missing"
    assert str(tmp_path) not in response.get_data(as_text=True)
    assert "make sandbox" in caplog.text, "the operator's log says what to do"
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "cannot grade notebooks" in result.output and "make sandbox" in result.output


def test_readyz_can_leave_the_sandbox_to_grading_machines(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSESS_SANDBOX_VENV", str(tmp_path / "no-runtime"))
    app = _bare_app(tmp_path, monkeypatch, READINESS_SANDBOX=False)
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/readyz")
    assert response.status_code == 200


def test_postgresql_connections_time_out():
    options = engine_options(
        "postgresql+psycopg://u@h/db", {"pool_pre_ping": True, "connect_args": {"options": "-csearch_path=s"}}, 5
    )
    assert options == {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5, "options": "-csearch_path=s"}}
    assert engine_options("sqlite:///x.db", {"pool_pre_ping": True}, 5) == {"pool_pre_ping": True}


def test_sqlite_connections_use_wal_enforce_foreign_keys_and_wait_for_the_write_lock(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's own settings")
        connection = db.engine.raw_connection().driver_connection
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (5000,)


def test_readyz_is_503_for_a_missing_queue_file_and_an_unwritable_store(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    app = _bare_app(
        tmp_path,
        monkeypatch,
        HUEY_IMMEDIATE=False,
        HUEY_SQLITE_PATH=str(tmp_path / "q.db"),
        SUBMISSIONS_DIR=str(tmp_path / "a-file" / "store"),
    )
    with app.app_context():
        db.create_all()
    for path in tmp_path.glob("q.db*"):
        path.unlink()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["queue", "submission_store"]
    assert not (tmp_path / "q.db").exists(), "the probe must not create a new empty queue"


def test_readyz_does_not_leak_the_redis_url(tmp_path, monkeypatch):
    app = _bare_app(tmp_path, monkeypatch, HUEY_IMMEDIATE=False, REDIS_URL="redis://:hunter2@127.0.0.1:1/0")
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["queue"]
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "6379" not in text and "127.0.0.1" not in text


# --- metrics


def test_metrics_show_request_latency_and_queue_depth(app, client, make_invitation):
    _without_grading(app)
    invitation_id, _ = make_invitation()
    _submit(app, invitation_id, "a")
    _submit(app, invitation_id, "b")
    client.get("/login")
    client.get("/no/such/page/" + "x" * 20)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'assess_http_request_duration_seconds_count{endpoint="auth.login",status="200"}' in text
    # Unknown URLs share one label, so a scanner cannot grow the series without bound.
    assert 'endpoint="unmatched",status="404"' in text
    assert "xxxxxxxxxx" not in text
    with app.app_context():
        queued = db.session.scalar(select(func.count()).select_from(GradeRun).where(GradeRun.status == "queued"))
    assert queued == 2
    assert 'assess_grade_runs{state="queued"} 2.0' in text
    assert 'assess_grade_runs{state="running"} 0.0' in text


def test_metrics_are_refused_off_loopback_without_the_token(app, client):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    # A reverse proxy on this host makes visitors look local: forwarded requests are not trusted.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    app.config["METRICS_TOKEN"] = "s3cret-token"
    wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 200
    assert "assess_grade_runs" in right.get_data(as_text=True)


def test_finished_runs_are_counted_by_outcome(app, make_invitation):
    _without_grading(app)
    invitation_id, _ = make_invitation()
    submission_id = _submit(app, invitation_id)
    labels = {"outcome": "failed"}
    before = REGISTRY.get_sample_value("assess_grading_duration_seconds_count", labels) or 0.0
    with app.app_context():
        run = db.session.scalar(select(GradeRun).where(GradeRun.submission_id == submission_id))
        assert grade_runs.claim_grade_run(run.id, "test-worker")
        db.session.refresh(run)
        grade_runs._finish(run, None, "The grader failed: broken case")
    assert REGISTRY.get_sample_value("assess_grading_duration_seconds_count", labels) == before + 1


def test_sandbox_limit_hits_are_read_from_the_reports_failure_code():
    assert sandbox_limits_hit({"failure": "wall-time", "cells": []}) == {"wall_time"}
    assert sandbox_limits_hit({"failure": "output-cap"}) == {"output"}
    assert sandbox_limits_hit({"failure": "interrupt-ignored"}) == {"cell_time"}
    assert sandbox_limits_hit({"failure": "unreadable-result"}) == set()
    # Words in the message (which quotes the candidate's own output) cannot fake a limit.
    assert sandbox_limits_hit({"failure": None, "error": "took longer than 300 s in total"}) == set()
    cells = {
        "cells": [
            {"index": 1, "status": "timeout", "error": None, "seconds": 30.0},
            {"index": 2, "status": "error", "error": "MemoryError: ", "seconds": 0.1},
        ]
    }
    assert sandbox_limits_hit(cells) == {"cell_time", "memory"}
    assert sandbox_limits_hit(None) == set()


# --- request ids and logs


def test_request_id_is_made_or_taken_and_echoed(client):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()
    assert client.get("/healthz", headers={"X-Request-ID": "lb-42.a_b"}).headers["X-Request-ID"] == "lb-42.a_b"
    for bad in ("has space", "x" * 65, "<script>", "a\u00e9"):
        echoed = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad and len(echoed) == 32


def test_request_log_line_redacts_the_invitation_token(client, make_invitation, caplog):
    _, token = make_invitation()
    with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
        response = client.get(f"/i/{token}/bundle?download=1&t={token}", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 200
    records = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    entry = json.loads(line)
    assert token not in line and "download" not in line
    assert entry["path"] == "/i/<redacted>/bundle"
    assert entry["request_id"] == "req-1"
    assert entry["method"] == "GET" and entry["status"] == 200 and entry["level"] == "INFO"
    assert entry["duration_ms"] >= 0 and entry["time"].endswith("+00:00")


def test_redact_path_covers_every_invitation_page():
    assert redact_path("/i/abcDEF-123_x") == "/i/<redacted>"
    assert redact_path("/i/abc/status") == "/i/<redacted>/status"
    assert redact_path('"GET /i/abc HTTP/1.1" 200') == '"GET /i/<redacted> HTTP/1.1" 200'
    assert redact_path("/admin/invitations/4") == "/admin/invitations/4"


# --- backup and restore


def _table_rows(path: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: sorted(connection.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        connection.close()


def _store_files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("archive", [False, True], ids=["directory", "tar.gz"])
def test_backup_and_restore_round_trip(app, runner, make_invitation, tmp_path, monkeypatch, archive):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("backup covers the SQLite default; PostgreSQL uses pg_dump")
    _without_grading(app)
    for marker in "abc":
        invitation_id, _ = make_invitation()
        _submit(app, invitation_id, marker)
    target = tmp_path / ("backup.tar.gz" if archive else "backup")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "3 submission files" in result.output

    source_db = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    fresh = _bare_app(tmp_path / "fresh", monkeypatch)
    restored = fresh.test_cli_runner().invoke(args=["restore", str(target)])
    assert restored.exit_code == 0, restored.output
    with app.app_context():
        db.session.remove()
    assert _table_rows(tmp_path / "fresh" / "db.sqlite") == _table_rows(source_db)
    assert _store_files(tmp_path / "fresh" / "store") == _store_files(Path(app.config["SUBMISSIONS_DIR"]))
    with fresh.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 3
        submission = db.session.scalars(select(Submission)).first()
        assert b"my notes" in grading.submission_bytes(submission)

    again = fresh.test_cli_runner().invoke(args=["restore", str(target)])
    assert again.exit_code != 0 and "--force" in again.output
    forced = fresh.test_cli_runner().invoke(args=["restore", "--force", str(target)])
    assert forced.exit_code == 0, forced.output


def test_restore_refuses_a_damaged_backup(app, runner, make_invitation, tmp_path, monkeypatch):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("backup covers the SQLite default")
    _without_grading(app)
    invitation_id, _ = make_invitation()
    _submit(app, invitation_id)
    target = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    stored = next(p for p in (target / "submissions").rglob("*") if p.is_file())
    stored.write_bytes(stored.read_bytes() + b" ")
    fresh = _bare_app(tmp_path / "fresh", monkeypatch)
    result = fresh.test_cli_runner().invoke(args=["restore", str(target)])
    assert result.exit_code != 0
    assert "damaged" in result.output
    assert not (tmp_path / "fresh" / "store").exists() or not _store_files(tmp_path / "fresh" / "store")


def test_restore_refuses_an_archive_escaping_its_folder(tmp_path, monkeypatch):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as archive:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    fresh = _bare_app(tmp_path / "fresh", monkeypatch)
    result = fresh.test_cli_runner().invoke(args=["restore", str(evil)])
    assert result.exit_code != 0
    assert not (tmp_path / "escaped.txt").exists()


def test_backup_of_postgresql_points_to_pg_dump(tmp_path, monkeypatch):
    app = _bare_app(tmp_path, monkeypatch, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u:pw@127.0.0.1:1/x")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code != 0
    assert "pg_dump" in result.output and "pw" not in result.output


# --- upload size limit


def test_oversized_upload_is_refused_with_a_clear_page(app, client, make_invitation):
    invitation_id, token = make_invitation()
    # Encoded by hand: werkzeug's own encoder spools big bodies to a file it never closes.
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="notebook"; filename="big.ipynb"\r\n'
        f"Content-Type: application/json\r\n\r\n{{{' ' * (30 * 1024 * 1024)}}}\r\n--{boundary}--\r\n"
    ).encode()
    response = client.post(f"/i/{token}", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    # The candidate lands back on their own page, with the message beside the form.
    assert response.status_code == 303
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert "this site accepts uploads up to 20 MB" in page and "Clear the notebook" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
