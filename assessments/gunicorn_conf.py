"""Gunicorn settings: its own error and access logs as JSON lines, like the app's.

Use: `gunicorn -c python:assessments.gunicorn_conf --bind HOST:PORT app:app`. Everything goes to
stderr as one JSON object per line (`assessments.logs.JsonFormatter`); access lines carry the
method, the path with any invitation token redacted (never the query string), the status, the
duration and the request id the app answered with, so they join with the app's own request lines.
LOG_LEVEL in the environment sets the level, as it does for the app.
"""

from __future__ import annotations

import os

loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()

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
