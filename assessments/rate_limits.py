"""Request rate limits (Flask-Limiter), counted in a storage that every app process shares.

The invitation-link limit (`INVITATION_RATE_LIMIT` requests per client address per
`INVITATION_RATE_WINDOW` seconds on `/i/...` pages, 0 = off) slows down guessing of tokens and floods
from one address. Its counters live where every process counts against the same number, so a client
gets the limit once however many gunicorn workers and machines serve it:

- `RATELIMIT_STORAGE_URI` when set (anything the `limits` library reads: redis://, memcached://, ...);
- otherwise Redis at `REDIS_URL` when set (every machine; a scale-out has Redis for its queue);
- otherwise a SQLite file in the instance folder (every process on this machine), like the queue.
  The `limits` library has no SQLite storage, so `SqliteStorage` below is one; it is a file of its
  own, so counting candidate requests never waits on the main database's write lock at a deadline.

The "Forgot password?" form is limited twice, so it is neither a way to fill someone's inbox nor one
to probe which addresses have accounts: per client address (`PASSWORD_RESET_CLIENT_LIMIT` posts per
`PASSWORD_RESET_RATE_WINDOW`, a 429 page) and per address asked about
(`PASSWORD_RESET_EMAIL_LIMIT`, `password_reset_mail_allowed`: the view then sends nothing but gives
the same answer). The per-address count is kept whether or not an account uses the address, under
the address's sha256, so neither the answer nor the storage says which addresses are known.

`RATELIMIT_ENABLED = False` turns every limit above off at once (no storage is opened), for a load
test from one address on an instance of its own (bench/deadline_night.py); it is on by default.

A storage that fails lets requests through (logged): a rate-limit outage must not take candidate
pages down. Sign-in throttling stays in `services/accounts.py`: it counts failures only, grows the
wait per account, locks after repeated failures and is cleared by a success, which request-counting
limits do not express; it is in the database, so it is already shared by every process.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from time import monotonic, sleep
from typing import Any

from flask import Flask, Response, current_app, make_response, render_template, request
from flask_limiter import Limiter, RequestLimit
from limits import RateLimitItemPerSecond
from limits.storage import Storage

log = logging.getLogger(__name__)

INVITATION_PAGES = "candidate"  # the blueprint of every /i/... page
PASSWORD_RESET_FORM = "password.forgot"  # the "Forgot password?" form's endpoint
EXTENSION_KEY = "assessments.rate_limiter"


class SqliteStorage(Storage):
    """Fixed-window counters in a SQLite file (`sqlite:////absolute/path.db`), for the `limits` library.

    Every counter update is one atomic statement, so processes sharing the file never lose a count.
    Writers take turns on a lock file (`<path>.lock`, flock) before SQLite's own write lock: under
    deadline-night load (16 threads in each of 4 gunicorn workers) SQLite's busy handler, which
    retries after sleeps growing to 100 ms, let some writers lose every retry for 2 s ("database is
    locked"), and the counter held 16% of the workers' busy samples; a statement holds the lock file
    for microseconds and a waiter polls it every millisecond.
    """

    STORAGE_SCHEME = ["sqlite"]
    _PURGE_EVERY = 1000  # increments between removals of expired counters

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.removeprefix("sqlite:///")
        self.timeout = float(options.get("timeout", 2.0))
        self._increments = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._writer = threading.Lock()  # one writer per process at the lock file
        self._lock_file: tuple[int, int] | None = None  # (pid, fd)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and process, kept open: closing the last connection to a WAL
        # file checkpoints it, which made each hit cost milliseconds instead of microseconds.
        # It is set up in the writers' turn: on a new file, one connection switching it to WAL while
        # another creates the table can deadlock in SQLite's locks, which answers "database is
        # locked" at once instead of waiting (2 in 300 runs of 16 threads opening a new file).
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            try:
                with self._turn():
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute("PRAGMA synchronous=NORMAL")
                    connection.execute(
                        "CREATE TABLE IF NOT EXISTS rate_limit "
                        "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"
                    )
            except BaseException:
                connection.close()
                raise
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def _lock_fd(self) -> int:
        pid = os.getpid()
        if self._lock_file is None or self._lock_file[0] != pid:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = (pid, os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600))
        return self._lock_file[1]

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, holding the writers' turn."""
        connection = self._connection()
        with self._turn():
            yield connection

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """The writers' turn: this process's writer lock, then the lock file (sqlite3's error after the timeout)."""
        if not self._writer.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("rate-limit storage busy")
        try:
            fd = self._lock_fd()
            give_up = monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if monotonic() > give_up:
                        raise sqlite3.OperationalError("rate-limit storage busy") from None
                    sleep(0.001)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._writer.release()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._increments += 1
            purge = self._increments % self._PURGE_EVERY == 0
        with self._writing() as connection:
            # A window that has ended starts again at this hit (the right-hand sides read the old row).
            (count,) = connection.execute(
                "INSERT INTO rate_limit (key, count, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET "
                "count = CASE WHEN expires_at <= ? THEN excluded.count ELSE count + excluded.count END, "
                "expires_at = CASE WHEN expires_at <= ? THEN excluded.expires_at ELSE expires_at END "
                "RETURNING count",
                (key, amount, now + expiry, now, now),
            ).fetchone()
            if purge:
                connection.execute("DELETE FROM rate_limit WHERE expires_at <= ?", (now,))
        return int(count)

    def _row(self, key: str) -> tuple[int, float] | None:
        return (
            self._connection()
            .execute(
                "SELECT count, expires_at FROM rate_limit WHERE key = ? AND expires_at > ?",
                (key, time.time()),
            )
            .fetchone()
        )

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row[1]) if row else time.time()

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except (sqlite3.Error, OSError):
            return False
        return True

    def reset(self) -> int | None:
        with self._writing() as connection:
            return connection.execute("DELETE FROM rate_limit").rowcount

    def close(self) -> None:
        """Close this process's handle on the lock file and the calling thread's connection (another
        thread's connection closes when that thread ends)."""
        local = self._local
        if getattr(local, "pid", None) == os.getpid():
            local.connection.close()
            del local.connection, local.pid
        if self._lock_file is not None and self._lock_file[0] == os.getpid():
            os.close(self._lock_file[1])
        self._lock_file = None

    def clear(self, key: str) -> None:
        with self._writing() as connection:
            connection.execute("DELETE FROM rate_limit WHERE key = ?", (key,))


def client_key() -> str:
    """Whom a request is counted against: the IPv4 address, or the IPv6 /64 (one household)."""
    address = request.remote_addr
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def storage_uri(app: Flask) -> str:
    """Where the counters live: the configured URI, else Redis, else a file in the instance folder."""
    if app.config.get("RATELIMIT_STORAGE_URI"):
        return str(app.config["RATELIMIT_STORAGE_URI"])
    if app.config.get("REDIS_URL"):
        return str(app.config["REDIS_URL"])
    return f"sqlite:///{Path(app.instance_path) / 'ratelimits.db'}"


def _invitation_limit() -> str:
    config = current_app.config
    return f"{int(config['INVITATION_RATE_LIMIT'])} per {int(config['INVITATION_RATE_WINDOW'])} second"


def _invitation_limit_off() -> bool:
    return int(current_app.config.get("INVITATION_RATE_LIMIT") or 0) <= 0


def _too_many_invitation_requests(limit: RequestLimit) -> Response:
    seconds = max(1, math.ceil(limit.window.reset_time - time.time()))
    message = (
        f"Too many requests for invitation pages came from your network in the last minute. "
        f"Wait {seconds} seconds, then reload the page; nothing you uploaded is lost."
    )
    response = make_response(render_template("error.html", title="Please wait a moment", message=message), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _reset_client_limit() -> str:
    config = current_app.config
    return f"{int(config['PASSWORD_RESET_CLIENT_LIMIT'])} per {int(config['PASSWORD_RESET_RATE_WINDOW'])} second"


def _reset_client_limit_off() -> bool:
    return int(current_app.config.get("PASSWORD_RESET_CLIENT_LIMIT") or 0) <= 0


def _too_many_reset_requests(limit: RequestLimit) -> Response:
    minutes = max(1, math.ceil((limit.window.reset_time - time.time()) / 60))
    message = (
        f"Too many password-reset requests came from your network. Wait {minutes} minutes and try again, "
        "or ask an administrator to send you a link."
    )
    response = make_response(render_template("error.html", title="Please wait a moment", message=message), 429)
    response.headers["Retry-After"] = str(minutes * 60)
    return response


def password_reset_mail_allowed(email: str) -> bool:
    """Count a password-reset request for this address; False once the address has had its share
    of the window (`PASSWORD_RESET_EMAIL_LIMIT`, 0 = no limit). Counted for every address alike.
    """
    config = current_app.config
    allowed = int(config.get("PASSWORD_RESET_EMAIL_LIMIT") or 0)
    limiter: Limiter | None = current_app.extensions.get(EXTENSION_KEY)
    if allowed <= 0 or limiter is None:
        return True
    item = RateLimitItemPerSecond(allowed, int(config["PASSWORD_RESET_RATE_WINDOW"]))
    key = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    try:
        return limiter.limiter.hit(item, "password-reset-email", key)
    except Exception:  # any storage failure, as Flask-Limiter's swallow_errors
        # The account's own cooldown (services/passwords.py) still spaces its mails.
        log.warning("rate-limit storage failed; password reset for an address not counted", exc_info=True)
        return True


def init_app(app: Flask) -> None:
    """Give the app its limiter; limit the invitation pages and the forgot-password form per client address.

    One limiter per app, not one unbound in extensions.py: Flask-Limiter keeps its storage on the
    limiter object, so a shared one would follow whichever app was bound last. With
    `RATELIMIT_ENABLED` False the app gets none and nothing is counted.
    """
    if not app.config.get("RATELIMIT_ENABLED", True):
        log.warning("RATELIMIT_ENABLED is False: invitation links and the forgot-password form are not rate limited")
        app.extensions[EXTENSION_KEY] = None
        return
    uri = storage_uri(app)
    options = dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    if uri.startswith(("redis://", "rediss://")):
        # A Redis that stopped answering must not hold candidate pages for long.
        options = {"socket_connect_timeout": 1, "socket_timeout": 1, **options}
    limiter = Limiter(
        client_key,
        storage_uri=uri,
        storage_options=options,
        strategy="fixed-window",
        swallow_errors=True,
    )
    limiter.init_app(app)
    limiter.shared_limit(
        _invitation_limit,
        scope="invitation-links",
        exempt_when=_invitation_limit_off,
        on_breach=_too_many_invitation_requests,
    )(app.blueprints[INVITATION_PAGES])
    # Only posts count: reading the form costs nothing. Flask-Limiter checks a decorated view's
    # limits in its wrapper, not before the request, so the view is replaced by the wrapped one.
    app.view_functions[PASSWORD_RESET_FORM] = limiter.limit(
        _reset_client_limit,
        methods=["POST"],
        exempt_when=_reset_client_limit_off,
        on_breach=_too_many_reset_requests,
    )(app.view_functions[PASSWORD_RESET_FORM])
    # First in line, before CSRF protection reads the form: a refused body is never read.
    hooks = app.before_request_funcs[None]
    hooks.remove(limiter._check_request_limit)
    hooks.insert(0, limiter._check_request_limit)
    app.extensions[EXTENSION_KEY] = limiter
