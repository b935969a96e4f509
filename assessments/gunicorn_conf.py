"""Gunicorn settings: its own error and access logs as JSON lines, like the app's.

Use: `gunicorn -c python:assessments.gunicorn_conf --bind HOST:PORT app:app`. Everything goes to
stderr as one JSON object per line (`assessments.logs.JsonFormatter`); access lines carry the
method, the path with any invitation token redacted (never the query string), the status, the
duration and the request id the app answered with, so they join with the app's own request lines.
LOG_LEVEL in the environment sets the level, as it does for the app.

Workers are threaded (gthread, GUNICORN_THREADS threads each, 4 by default): a page spends much of
its time waiting on the database, and a sign-in on argon2 (which releases the GIL), so a sync
worker held by one slow request left the next ones queued behind it. Under bench/deadline_night.py's
load, 4 sync workers answered candidate pages in 0.16-0.24 s (median) inside the worker but in 2.4-13 s
as the candidates saw it, nearly all of it waiting for a free worker.
"""

from __future__ import annotations

import os

loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"access_fields": {"()": "assessments.logs.AccessLogFields"}},
    "handlers": {"json": {"()": "assessments.logs.json_handler"}},
    "root": {"level": loglevel.upper(), "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json"], "propagate": False},
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["json"],
            "filters": ["access_fields"],
            "propagate": False,
        },
    },
}
