"""Operations: liveness, readiness and metrics endpoints, and the guards that keep the site up.

None of the endpoints needs a login; none shows a URL, path or password. Readiness names the
component that failed and logs the details for the operator. The guard refuses an oversized
upload before its body is read; invitation links are rate-limited in `rate_limits.py`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import sqlite3
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from huey import RedisHuey, SqliteHuey
from sqlalchemy import text

from assessments import metrics, rate_limits
from assessments.extensions import db
from assessments.grading.sandbox import sandbox_problem, unsafe_grading_allowed
from assessments.queue import grading_queue

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)

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
    except Exception as error:  # any driver error means "not ready"
        log.warning("readiness: database: %s: %s", type(error).__name__, error)
        db.session.rollback()
        return "unreachable"


def check_queue() -> str:
    """'ok' when the grading queue answers: a Redis ping, or the Huey SQLite file opening."""
    huey = grading_queue().huey
    try:
        if isinstance(huey, RedisHuey):
            import redis

            client = redis.Redis.from_url(
                current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2
            )
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
    except Exception as error:
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


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "queue": check_queue,
    "submission_store": check_submission_store,
    "sandbox": check_sandbox,
}


def readiness() -> dict[str, str]:
    """Each component's state ('ok' or a short word on what is wrong), within a time bound.

    The checks run side by side, each in its own app context; one still running at the bound is
    reported as "timeout" and left to finish on its own (its driver's own timeouts end it).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
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


def metrics_allowed() -> bool:
    """Metrics reveal volumes: only loopback callers (not proxied) or holders of METRICS_TOKEN."""
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    # A proxy on this host makes every visitor look like loopback; a forwarded request is not local.
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answering."""
    return jsonify(status=OK)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database, the queue, the submission store and the grading sandbox all work (503 naming what does not)."""
    checks = readiness()
    failing = sorted(name for name, state in checks.items() if state != OK)
    if failing:
        return jsonify(status="unavailable", failing=failing, checks=checks), 503
    return jsonify(status=OK, checks=checks), 200


@bp.get("/metrics", endpoint="metrics")
def metrics_view() -> Response:
    """Prometheus metrics, for loopback or a bearer token."""
    if not metrics_allowed():
        return Response(
            "Metrics are served to loopback or with the metrics token.\n",
            status=403,
            mimetype="text/plain",
        )
    return Response(metrics.exposition(), mimetype=None, content_type=metrics.CONTENT_TYPE_LATEST)



# --- Request guard: refuse oversized bodies unread.


def _refuse_oversized_body() -> tuple[str, int] | None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    size = request.content_length
    if not limit or size is None or size <= limit:
        return None
    message = (f"That file is {size / 2**20:.1f} MB; this site accepts uploads up to {limit / 2**20:.0f} MB. "
               "Clear the notebook's outputs (Kernel, then Restart and Clear Output), save it and upload "
               "it again.")
    return render_template("error.html", title="Upload too large", message=message), 413


def init_app(app: Flask) -> None:
    """Register the operations endpoints and the request guards."""
    app.register_blueprint(bp)
    rate_limits.init_app(app)
    # First in line, ahead of the rate limit and of CSRF protection reading the form: a refused
    # body is never read.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_oversized_body)
