"""Configuration defaults; `instance/config.py` and environment variables override them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_DATABASE_URI": None,  # filled in from the instance folder when not overridden
    # pre-ping: a connection the database dropped (a restart, a failover) is replaced on checkout
    # instead of failing the request that drew it from the pool.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # PostgreSQL: give up connecting after this long (libpq waits for TCP otherwise, minutes).
    "DATABASE_CONNECT_TIMEOUT": 5,
    # /readyz answers within this bound even when a component hangs.
    "READINESS_TIMEOUT_SECONDS": 3.0,
    # /readyz also checks the grading sandbox (make run grades on the same machine); set it False on
    # app servers whose grading workers run elsewhere.
    "READINESS_SANDBOX": True,
    "REDIS_URL": None,
    "CASES_DIR": str(PROJECT_ROOT / "cases"),
    "RUBRICS_DIR": str(PROJECT_ROOT / "rubrics"),
    # Case authors' careless-analyst corpora (`cases validate --careless`), one folder per case.
    "CARELESS_DIR": str(PROJECT_ROOT / "tests" / "cases" / "careless"),
    "SUBMISSIONS_DIR": None,  # defaults to <instance>/submissions
    # Each seed's data files and answer key, kept for grading (grading/materials.py); trusted side only.
    "SEED_CACHE_DIR": None,  # defaults to <instance>/seeds
    # The key candidates' data seeds are derived with (content/seeds.py), as 64 hex digits. Unset, it
    # is read from <instance>/seed.key (made on first start). Every machine must hold the same key.
    "SEED_KEY": None,
    # The one upload limit: the form's hint, intake and the request cap (this plus the form's other
    # fields, `upload_request_cap`) all follow it.
    "UPLOAD_MAX_MB": 20,
    "MAX_CONTENT_LENGTH": None,  # defaults to upload_request_cap(UPLOAD_MAX_MB)
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Secure is also set per request when the request itself came over HTTPS (see security.py).
    "SESSION_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "LOGIN_SLOWDOWN_AFTER": 3,
    "LOGIN_LOCK_AFTER": 10,
    "LOGIN_LOCK_SECONDS": 15 * 60,
    "LOGIN_WINDOW_SECONDS": 60 * 60,
    "TRUST_PROXY_HEADERS": False,
    # A grade run's lease must outlast the sandbox's wall-clock limit; the sweep re-enqueues
    # runs whose lease expired (their worker died) or that no worker claimed in time.
    "GRADE_LEASE_SECONDS": 600,
    "GRADE_UNCLAIMED_SECONDS": 120,
    # Practice grading limits, so the grader cannot be used as an answer oracle (per mentee × case).
    "PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS": 5 * 60,
    "PRACTICE_ATTEMPTS_PER_DAY": 10,
    # The model solution opens by itself after this many graded attempts of one practice (0 = only
    # when the mentee asks), so the first feedback is for trying again, not for reading the answers.
    "PRACTICE_SOLUTION_AFTER_ATTEMPTS": 3,
    # Operations (assessments/ops.py, logs.py): /metrics answers loopback, or this bearer token.
    "METRICS_TOKEN": None,
    "LOG_JSON": True,  # JSON lines on stderr (never while testing)
    "LOG_LEVEL": "INFO",
    # Requests per client address per window on /i/... pages (0 = off), counted in storage that every
    # process shares (rate_limits.py): this URI, else Redis at REDIS_URL, else instance/ratelimits.db.
    "INVITATION_RATE_LIMIT": 120,
    "INVITATION_RATE_WINDOW": 60,
    "RATELIMIT_STORAGE_URI": None,
    # False turns every limit of rate_limits.py off (a load test from one address on its own instance).
    "RATELIMIT_ENABLED": True,
    # "Forgot password?" (rate_limits.py): posts per client address, and reset requests per address
    # asked about (beyond it nothing is sent, the answer is the same), per window (0 = off).
    "PASSWORD_RESET_CLIENT_LIMIT": 20,
    "PASSWORD_RESET_EMAIL_LIMIT": 5,
    "PASSWORD_RESET_RATE_WINDOW": 3600,
    # Mail (mail.py, services/outbox.py): smtp://user:pass@host:587/?starttls=1 or smtps://...;
    # unset, mails go to the log and the admin outbox page only.
    "MAIL_URL": None,
    "MAIL_FROM": "ML Assessments <no-reply@localhost>",
    # Links in mails sent outside a request (reminders from a worker): this site's address.
    "BASE_URL": "http://localhost:8000",
    # Attempts before a mail is marked failed (an admin can retry it from the outbox page).
    "MAIL_MAX_ATTEMPTS": 5,
    # Set-password links: a new account's lasts days, a forgotten password's an hour.
    "PASSWORD_INVITE_HOURS": 72,
    "PASSWORD_RESET_MINUTES": 60,
    # The hiring packet's PDF (pdf.py): Debian's Chromium, and how long one may take before it is
    # stopped with an error page (a packet takes one to two seconds; a huge notebook more).
    "CHROMIUM_PATH": "/usr/bin/chromium",
    "PACKET_PDF_TIMEOUT_SECONDS": 30,
    # Later performance ratings recorded as outcomes (services/outcomes.py): "MIN..MAX", inclusive.
    "OUTCOME_RATING_SCALE": "1..5",
}

ENV_KEYS = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "REDIS_URL": "REDIS_URL",
    "SECRET_KEY": "SECRET_KEY",
    "SUBMISSIONS_DIR": "SUBMISSIONS_DIR",
    "SEED_CACHE_DIR": "SEED_CACHE_DIR",
    "SEED_KEY": "SEED_KEY",
    "CASES_DIR": "CASES_DIR",
    "CARELESS_DIR": "CARELESS_DIR",
    "METRICS_TOKEN": "METRICS_TOKEN",
    "LOG_LEVEL": "LOG_LEVEL",
    "RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "MAIL_URL": "MAIL_URL",
    "MAIL_FROM": "MAIL_FROM",
    "BASE_URL": "BASE_URL",
}


# Room for the multipart framing and the form's other fields (the CSRF token) around the file.
UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024


def upload_max_bytes(upload_max_mb: float) -> int:
    """The largest notebook file accepted, in bytes."""
    return int(upload_max_mb * 1024 * 1024)


def upload_request_cap(upload_max_mb: float) -> int:
    """The request size cap that lets a file of exactly the upload limit through, and nothing much bigger."""
    return upload_max_bytes(upload_max_mb) + UPLOAD_FORM_OVERHEAD_BYTES


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgres:// URLs, which SQLAlchemy would map to psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(database_uri: str, options: dict[str, Any], connect_timeout: float) -> dict[str, Any]:
    """SQLAlchemy engine options with a connect timeout added for PostgreSQL (given ones win)."""
    if not database_uri.startswith("postgresql"):
        return dict(options)
    connect_args = {"connect_timeout": max(2, round(connect_timeout)), **options.get("connect_args", {})}
    return {**options, "connect_args": connect_args}


def environment_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings given through the environment."""
    environ = dict(os.environ if environ is None else environ)
    found = {ENV_KEYS[k]: v for k, v in environ.items() if k in ENV_KEYS and v}
    if "SQLALCHEMY_DATABASE_URI" in found:
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(found["SQLALCHEMY_DATABASE_URI"])
    return found


def instance_secret_key(instance_path: Path) -> str:
    """Read the instance's secret key, creating it with 0600 permissions on first run."""
    path = instance_path / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
