"""Structured logs: one JSON object per line, and one line per request with its request id.

Invitation links carry the candidate's secret in the path (`/i/<token>`), and set-password links a
staff member's (`/password/set/<token>`), so paths are logged with the token replaced and never
with the query string. The request id comes from a sane X-Request-ID header (a proxy's) or is
made here, and is echoed in the response so a person can quote it.
Gunicorn's own error and access logs use the same format through `assessments/gunicorn_conf.py`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from assessments import metrics

REQUEST_LOGGER = "assessments.request"
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_INVITATION_PATH = re.compile(r"/i/[^/\s?\"']+")
# Set-password and reset links carry a secret the same way (views/password.py).
_PASSWORD_PATH = re.compile(r"/password/set/[^/\s?\"'<>]+")
# Fields a record may carry (through `extra=`) that the JSON line shows.
_REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "endpoint", "remote_addr")


def redact_path(path: str) -> str:
    """The path (or any text quoting one) with invitation and set-password tokens replaced, safe to log."""
    return _PASSWORD_PATH.sub("/password/set/<redacted>", _INVITATION_PATH.sub("/i/<redacted>", path))


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is short and plain, otherwise a new one."""
    if header and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            # Redacted here too: a message or traceback may quote a path (Flask's "Exception on /i/...").
            "message": redact_path(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for field in _REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = redact_path(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps every record logged while a request is handled with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None) and has_request_context():
            record.request_id = g.get("request_id")
        return True


class RedactingFilter(logging.Filter):
    """Removes invitation tokens from other loggers' request lines (werkzeug, gunicorn access)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_path(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class AccessLogFields(logging.Filter):
    """Turns gunicorn's access-log atoms into the request fields and a short, redacted message.

    Gunicorn hands its access logger a dict of atoms (the whole environ among them); only the
    fields below are kept, so cookies and query strings never reach the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if not isinstance(atoms, Mapping):
            return True
        path = redact_path(str(atoms.get("U") or "-"))
        status = str(atoms.get("s") or "-")
        record.method = atoms.get("m")
        record.path = path
        record.status = int(status) if status.isdigit() else status
        micros = atoms.get("D")
        record.duration_ms = round(micros / 1000, 1) if isinstance(micros, int) else None
        record.remote_addr = atoms.get("h")
        request_id = atoms.get("{x-request-id}o")
        if request_id and _SAFE_REQUEST_ID.fullmatch(str(request_id)):
            record.request_id = request_id
        record.msg, record.args = f"{record.method} {path} {status}", ()
        return True


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))


def _finish_request(response: Response) -> Response:
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    request_id = g.get("request_id") or request_id_from(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    metrics.observe_request(request.endpoint, response.status_code, seconds)
    logging.getLogger(REQUEST_LOGGER).info(
        "%s %s %s",
        request.method,
        redact_path(request.path),
        response.status_code,
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": redact_path(request.path),
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
            "endpoint": request.endpoint,
        },
    )
    return response


def json_handler(stream: Any = None) -> logging.Handler:
    """A handler writing JSON lines to `stream` (stderr), stamping request ids.

    Also named in gunicorn's logging configuration (gunicorn_conf.py), so gunicorn's own lines
    and the app's share one format.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.assessments_json = True
    return handler


def configure_logging(level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) as JSON lines; safe to call again."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "assessments_json", False):
            return handler
    handler = json_handler(stream)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def init_app(app: Flask) -> None:
    """Give each request an id and a log line; write JSON logs unless testing or told not to."""
    # Registered before the other before_request hooks, so refused requests are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    if app.config.get("LOG_JSON") and not app.testing:
        configure_logging(app.config.get("LOG_LEVEL", "INFO"))
