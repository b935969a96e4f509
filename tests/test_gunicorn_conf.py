"""Gunicorn started with assessments/gunicorn_conf.py writes only JSON lines, its own included."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

from assessments.config import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_gunicorn_error_and_access_logs_are_json_lines_with_request_ids(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "LOG_LEVEL")}
    env.update(
        ASSESS_INSTANCE_PATH=str(tmp_path / "instance"),
        SECRET_KEY="gunicorn-test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        SUBMISSIONS_DIR=str(tmp_path / "store"),
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:assessments.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-control-socket",
                "app:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    token = "tok" + "x" * 40
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        assert _get(port, "/healthz", {"X-Request-ID": "probe-7"}) == 200
        _get(port, f"/i/{token}?secret=hunter2")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    messages = {(e["logger"], e["message"]) for e in entries}
    assert any(logger == "gunicorn.error" and m.startswith("Listening at") for logger, m in messages)
    assert any(logger == "gunicorn.error" and m.startswith("Booting worker") for logger, m in messages)
    # Threaded workers: one slow page does not hold the requests behind it.
    assert ("gunicorn.error", "Using worker: gthread") in messages
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    probe = [e for e in access if e.get("request_id") == "probe-7"]
    assert len(probe) == 1
    assert probe[0]["path"] == "/healthz" and probe[0]["status"] == 200 and probe[0]["method"] == "GET"
    app_line = [e for e in entries if e["logger"] == "assessments.request" and e.get("request_id") == "probe-7"]
    assert len(app_line) == 1  # one line each from gunicorn and the app, joined by the request id
    assert any(e["path"] == "/i/<redacted>" for e in access)
    assert token not in text and "hunter2" not in text
