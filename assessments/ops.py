"""Operations: liveness, readiness and metrics endpoints, and the guards that keep the site up.

None of the endpoints needs a login; none shows a URL, path or password. Readiness names the
component that failed and logs the details for the operator. The guards refuse an oversized
upload before its body is read and rate-limit invitation links per client address.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from huey import RedisHuey, SqliteHuey
from sqlalchemy import text
from assessments.grading.sandbox import sandbox_problem, unsafe_grading_allowed

from assessments import metrics
from assessments.extensions import db
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
def check_sandbox() -> str:
    """'ok' when notebooks can be graded in a sandbox on this machine, else the problem's code (details logged)."""
    if not current_app.config["READINESS_SANDBOX"]:
        return OK
    problem = sandbox_problem()
    if problem is None or unsafe_grading_allowed():
        return OK
    log.warning("readiness: sandbox: %s", problem)
    return problem.code


        return "not writable"


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "sandbox": check_sandbox,
    "database": check_database,
    "queue": check_queue,
    "submission_store": check_submission_store,
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




# --- Request guards: refuse oversized bodies unread, and slow down guessing of invitation links.


class LinkRateLimiter:
    """Requests per client address in a fixed window, counted in this process's memory.

    Memory, not the database: a counter row written on every candidate request would contend
    with uploads on SQLite exactly on deadline night. Each gunicorn process counts on its own, so
    a client may get up to (processes x limit) per window; against 256-bit tokens that still makes
    guessing hopeless, and it stops floods from one address.
    """

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str, now: float) -> float | None:
        """Count a request; the seconds to wait when the address is over its limit, else None."""
        with self._lock:
            if len(self._windows) > 10_000:
                self._windows = {a: w for a, w in self._windows.items() if now - w[0] < self.window}
            started, count = self._windows.get(address, (now, 0))
            if now - started >= self.window:
                started, count = now, 0
            self._windows[address] = (started, count + 1)
            if count + 1 > self.limit:
                return max(self.window - (now - started), 1.0)
            return None


def client_key(address: str | None) -> str:
    """Whom a request is counted against: the IPv4 address, or the IPv6 /64 (one household)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _refuse_oversized_body() -> tuple[str, int] | None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    size = request.content_length
    if not limit or size is None or size <= limit:
        return None
    message = (f"That file is {size / 2**20:.1f} MB; this site accepts uploads up to {limit / 2**20:.0f} MB. "
               "Clear the notebook's outputs (Kernel, then Restart and Clear Output), save it and upload "
               "it again.")
    return render_template("error.html", title="Upload too large", message=message), 413


def _limit_invitation_links() -> tuple[str, int, dict[str, str]] | None:
    if not request.path.startswith("/i/"):
        return None
    limiter: LinkRateLimiter | None = current_app.extensions.get("assessments.link_limiter")
    if limiter is None:
        return None
    wait = limiter.hit(client_key(request.remote_addr), time.monotonic())
    if wait is None:
        return None
    seconds = math.ceil(wait)
    message = (f"Too many requests for invitation pages came from your network in the last minute. "
               f"Wait {seconds} seconds, then reload the page; nothing you uploaded is lost.")
    return (render_template("error.html", title="Please wait a moment", message=message), 429,
            {"Retry-After": str(seconds)})


def init_app(app: Flask) -> None:
    """Register the operations endpoints and the request guards."""
    app.register_blueprint(bp)
    limit = int(app.config.get("INVITATION_RATE_LIMIT") or 0)
    if limit > 0:
        app.extensions["assessments.link_limiter"] = LinkRateLimiter(
            limit, float(app.config.get("INVITATION_RATE_WINDOW", 60))
        )
    # First in line, before CSRF protection reads the form: a refused body is never read.
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(0, _limit_invitation_links)
    hooks.insert(0, _refuse_oversized_body)
