"""Rate limits: the invitation-link limit per client address, counted once across every process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from limits import RateLimitItemPerSecond
from limits.strategies import FixedWindowRateLimiter

from assessments import create_app, rate_limits
from assessments.extensions import db
from assessments.rate_limits import SqliteStorage


def test_invitation_links_are_rate_limited_per_address(app, client, make_invitation):
    _, token = make_invitation()
    app.config["INVITATION_RATE_LIMIT"] = 5
    for _ in range(5):
        assert client.get(f"/i/{token}/status").status_code == 200
    refused = client.get(f"/i/{token}")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert "Please wait" in page and "nothing you uploaded is lost" in page
    # Guesses of other tokens count against the same address.
    assert client.get("/i/" + "g" * 43).status_code == 429
    assert client.get(f"/i/{token}", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    assert client.get("/login").status_code == 200


def test_an_ipv6_household_counts_as_one_address(app, client, make_invitation):
    _, token = make_invitation()
    app.config["INVITATION_RATE_LIMIT"] = 2
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        assert client.get(f"/i/{token}/status", environ_base={"REMOTE_ADDR": host}).status_code == 200
    assert client.get(f"/i/{token}", environ_base={"REMOTE_ADDR": "2001:db8:1:2::3"}).status_code == 429
    assert client.get(f"/i/{token}", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 200


def test_a_limit_of_zero_turns_it_off(app, client, make_invitation):
    _, token = make_invitation()
    app.config["INVITATION_RATE_LIMIT"] = 0
    assert all(client.get(f"/i/{token}/status").status_code == 200 for _ in range(5))


@pytest.fixture
def twin(app: Flask) -> Iterator[Callable[..., Flask]]:
    """Factory: another app process on the same database and instance folder (ASSESS_INSTANCE_PATH)."""
    made: list[Flask] = []
    keys = (
        "SQLALCHEMY_DATABASE_URI",
        "SQLALCHEMY_ENGINE_OPTIONS",
        "CASES_DIR",
        "SUBMISSIONS_DIR",
        "ARGON2_PARAMETERS",
        "SERVER_NAME",
    )

    def factory(**config: object) -> Flask:
        made.append(
            create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "test-secret",
                    "HUEY_IMMEDIATE": True,
                    **{k: app.config[k] for k in keys},
                    **config,
                }
            )
        )
        return made[-1]

    yield factory
    for other in made:
        with other.app_context():
            db.engine.dispose()


STORAGES = ["instance file", "redis"]


@pytest.mark.parametrize("storage", STORAGES)
def test_two_app_processes_give_a_client_the_limit_once(twin, make_invitation, storage):
    if storage == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        # Both processes find Redis through REDIS_URL, as on two machines; a fresh prefix per run.
        config = {"REDIS_URL": os.environ["REDIS_URL"], "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex}
    else:
        config = {}
    _, token = make_invitation()
    first, second = (twin(INVITATION_RATE_LIMIT=3, **config) for _ in range(2))
    clients = [first.test_client(), second.test_client()]
    statuses = [clients[i % 2].get(f"/i/{token}/status").status_code for i in range(8)]
    # Per-process counters would have let through three requests in each process, six in all.
    assert statuses == [200, 200, 200] + [429] * 5


def test_storage_is_redis_when_configured_else_a_file_every_local_process_shares(app):
    assert rate_limits.storage_uri(app) == f"sqlite:///{Path(app.instance_path) / 'ratelimits.db'}"
    app.config["REDIS_URL"] = "redis://cache:6379/0"
    assert rate_limits.storage_uri(app) == "redis://cache:6379/0"
    app.config["RATELIMIT_STORAGE_URI"] = "memcached://cache:11211"
    assert rate_limits.storage_uri(app) == "memcached://cache:11211"


def test_a_rate_limit_storage_that_fails_lets_candidates_in(twin, make_invitation, tmp_path, caplog):
    _, token = make_invitation()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    broken = twin(RATELIMIT_STORAGE_URI=f"sqlite:///{blocked / 'ratelimits.db'}", INVITATION_RATE_LIMIT=1)
    with caplog.at_level("ERROR", logger="flask-limiter"):
        assert [broken.test_client().get(f"/i/{token}/status").status_code for _ in range(3)] == [200] * 3
    assert "Failed to rate limit" in caplog.text


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


def test_the_file_storage_counts_a_fixed_window_and_starts_again_after_it(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(rate_limits, "time", clock)
    limiter = FixedWindowRateLimiter(SqliteStorage(f"sqlite:///{tmp_path / 'limits.db'}"))
    per_minute = RateLimitItemPerSecond(2, 60)
    assert limiter.hit(per_minute, "a") and limiter.hit(per_minute, "a")
    clock.now += 10
    assert not limiter.hit(per_minute, "a")
    assert limiter.hit(per_minute, "b")
    reset_at, remaining = limiter.get_window_stats(per_minute, "a")
    assert (reset_at, remaining) == (1_000_060.0, 0)
    clock.now += 50
    assert limiter.hit(per_minute, "a")


COUNTER = """
import sys
from limits import RateLimitItemPerSecond
from limits.strategies import FixedWindowRateLimiter
from assessments.rate_limits import SqliteStorage
limiter = FixedWindowRateLimiter(SqliteStorage(sys.argv[1]))
item = RateLimitItemPerSecond(1000, 3600)
print(sum(limiter.hit(item, "shared") for _ in range(int(sys.argv[2]))))
"""


def test_processes_sharing_the_file_never_lose_a_count(tmp_path):
    uri = f"sqlite:///{tmp_path / 'limits.db'}"
    workers = [
        subprocess.Popen([sys.executable, "-c", COUNTER, uri, "300"], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert sum(int(out) for out in outputs) == 600
    assert SqliteStorage(uri).get(RateLimitItemPerSecond(1000, 3600).key_for("shared")) == 600


def test_rate_limits_switched_off_let_one_address_through(twin, make_invitation, caplog):
    _, token = make_invitation()
    with caplog.at_level("WARNING", logger="assessments.rate_limits"):
        # A load test from one address: the limits as low as they go, and switched off.
        off = twin(
            RATELIMIT_ENABLED=False, INVITATION_RATE_LIMIT=2, PASSWORD_RESET_CLIENT_LIMIT=1, WTF_CSRF_ENABLED=False
        )
    assert "RATELIMIT_ENABLED is False" in caplog.text
    client = off.test_client()
    assert [client.get(f"/i/{token}/status").status_code for _ in range(5)] == [200] * 5
    assert client.get(f"/i/{token}").status_code == 200
    answers = [client.post("/password/forgot", data={"email": "mo@example.com"}).status_code for _ in range(3)]
    assert answers == [302] * 3
    with off.test_request_context():
        assert rate_limits.password_reset_mail_allowed("mo@example.com")
    # The same limit with the switch on (the default) refuses the third request.
    on = twin(INVITATION_RATE_LIMIT=2).test_client()
    assert [on.get(f"/i/{token}/status").status_code for _ in range(3)] == [200, 200, 429]


def test_the_instance_file_counts_every_hit_from_many_threads_at_once(tmp_path):
    import threading

    uri = f"sqlite:///{tmp_path / 'ratelimits.db'}"
    # Two storages stand for two gunicorn workers: each has its own handle on the lock file.
    storages = [SqliteStorage(uri), SqliteStorage(uri)]
    failures: list[Exception] = []

    def hits(storage: SqliteStorage) -> None:
        for _ in range(100):
            try:
                storage.incr("client", 60)
            except sqlite3.Error as error:  # "database is locked": a lost hit
                failures.append(error)

    threads = [threading.Thread(target=hits, args=(storages[i % 2],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert storages[0].get("client") == storages[1].get("client") == 1600


def test_workers_opening_a_new_instance_file_at_once_lose_no_hit(tmp_path):
    import threading

    # Each thread stands for a gunicorn worker's first request after a deploy: its own storage, its
    # own connection, all opening the same new file at once. Setting the file up raced in SQLite's
    # locks and answered "database is locked" in about 1 of 150 such starts, so many starts are tried.
    failures: list[Exception] = []
    open_before = len(os.listdir("/proc/self/fd"))
    for start in range(400):
        uri = f"sqlite:///{tmp_path / f'ratelimits-{start}.db'}"
        ready = threading.Barrier(16)
        lost_before = len(failures)

        def first_hits(uri: str = uri, ready: threading.Barrier = ready) -> None:
            storage = SqliteStorage(uri)
            ready.wait()
            for _ in range(5):
                try:
                    storage.incr("client", 60)
                except sqlite3.Error as error:
                    failures.append(error)
            storage.close()

        threads = [threading.Thread(target=first_hits) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counted = SqliteStorage(uri)
        assert counted.get("client") == 80 - (len(failures) - lost_before)
        counted.close()
    assert failures == []
    assert len(os.listdir("/proc/self/fd")) <= open_before + 2  # 6,400 lock files left open broke select() later
