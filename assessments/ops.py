"""Operations: liveness, readiness and metrics endpoints, and the guards that keep the site up.

None of the endpoints needs a login; none shows a URL, path or password. Readiness
(`services/readiness.py`) names the component that failed and logs the details for the operator.
The guard refuses an oversized upload before its body is read; invitation links are rate-limited in
`rate_limits.py`.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Flask, Response, current_app, flash, jsonify, redirect, render_template, request, url_for

from assessments import metrics, rate_limits
from assessments.services.readiness import OK, check_readiness, sandbox_memory_bound

bp = Blueprint("ops", __name__)


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
    """The database, the queue, the submission store and the grading sandbox all work (503 naming what does not).

    ``memory_bound`` says which bound holds a submission graded here (cgroups.py), or null when this
    app leaves the sandbox to grading machines.
    """
    checks = check_readiness()
    bound = sandbox_memory_bound()
    failing = sorted(name for name, state in checks.items() if state != OK)
    if failing:
        return jsonify(status="unavailable", failing=failing, checks=checks, memory_bound=bound), 503
    return jsonify(status=OK, checks=checks, memory_bound=bound), 200


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


def _refuse_oversized_body() -> Response | tuple[str, int] | None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    size = request.content_length
    if not limit or size is None or size <= limit:
        return None
    message = (
        f"That file is {size / 2**20:.1f} MB; this site accepts uploads up to "
        f"{current_app.config['UPLOAD_MAX_MB']:g} MB. Clear the notebook's outputs (Kernel, then Restart "
        "and Clear Output), save it and upload it again."
    )
    if request.endpoint == "candidate.upload" and request.view_args:
        # Back to the candidate's own page, where the message sits beside the form (nothing was read).
        flash(message, "error")
        return redirect(url_for("candidate.invitation", token=request.view_args["token"]), 303)
    return render_template("error.html", title="Upload too large", message=message), 413


def init_app(app: Flask) -> None:
    """Register the operations endpoints and the request guards."""
    app.register_blueprint(bp)
    rate_limits.init_app(app)
    # First in line, ahead of the rate limit and of CSRF protection reading the form: a refused
    # body is never read.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_oversized_body)
