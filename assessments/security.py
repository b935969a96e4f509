"""Session cookies, security headers, loading the signed-in account and turning domain errors into pages."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from flask import Flask, Response, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from assessments.errors import DomainError, LoginThrottled
from assessments.extensions import db, login_manager
from assessments.models import User
from assessments.outage import DATABASE_UNAVAILABLE, close_session

log = logging.getLogger(__name__)

# Seconds a person (or a client) is asked to wait when the database did not answer.
DATABASE_RETRY_AFTER_SECONDS = 5

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# plotly.js styles its charts with injected <style> elements and style attributes; pages with
# charts allow inline styles (never inline script).
CHART_PAGE_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def allow_chart_styles(response: Response) -> Response:
    """Give a page with plotly charts the policy it needs: inline styles, still no inline script."""
    response.headers["Content-Security-Policy"] = CHART_PAGE_POLICY
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Invitation links carry a secret token: never send it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint and not request.endpoint.endswith("static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _domain_error(error: DomainError) -> tuple[str, int, dict[str, str]]:
    headers = {}
    if isinstance(error, LoginThrottled):
        headers["Retry-After"] = str(error.retry_after)
    return (
        render_template("error.html", title="Something is not right", message=error.message),
        error.status_code,
        headers,
    )


def _http_error(status: int, title: str, message: str) -> Callable[[Exception], tuple[str, int]]:
    def handler(error: Exception) -> tuple[str, int]:
        return render_template("error.html", title=title, message=message), status

    return handler


def _database_unavailable(error: Exception) -> tuple[str, int, dict[str, str]]:
    cause = getattr(error, "orig", None) or error
    # The driver's first line says which: a dropped connection, a refused one, a lock, a missing table.
    first_line = (str(cause).strip().splitlines() or [""])[0]
    log.warning("database unavailable: %s: %s", type(cause).__name__, first_line)
    # The page itself must not need the database it could not reach: render it signed out.
    g._login_user = login_manager.anonymous_user()
    message = (
        "The site could not reach its database for a moment, so this request did not go through. "
        "Wait a few seconds and try again. If you were uploading a notebook, upload it again: the "
        "page lists every version that was received."
    )
    return (
        render_template("error.html", title="Please try again in a moment", message=message),
        503,
        {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    message = "This form has expired or was not sent from this site. Go back, reload the page and try again."
    return render_template("error.html", title="Form expired", message=message), 400


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    # `User.get_id`: "<id>:<session token>"; a session from before the account's last password
    # change (or from before tokens existed) carries another token and is signed out.
    user_id, _, token = session_id.partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or not hmac.compare_digest(token, user.session_token):
        return None
    return user


def init_app(app: Flask) -> None:
    """Install the session interface, headers and error pages."""
    if app.config["TRUST_PROXY_HEADERS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.session_interface = SessionInterface()
    app.after_request(_security_headers)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(CSRFError, _csrf_error)
    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, _database_unavailable)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse order).
    app.teardown_appcontext(close_session)
    app.register_error_handler(403, _http_error(403, "Not allowed", "Your account does not have access to this page."))
    app.register_error_handler(404, _http_error(404, "Page not found", "There is nothing at this address."))
    app.register_error_handler(
        413,
        _http_error(413, "Upload too large", "That file is larger than this site accepts."),
    )
