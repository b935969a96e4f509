"""Fixtures: `app`, `client`, `auth`, `runner`, factories, and the database backends.

Every test that touches the database runs on SQLite, and also on PostgreSQL when
TEST_DATABASE_URL is set: one schema per test session, emptied between tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from assessments import create_app
from assessments.extensions import db
from assessments.models import Role, User
from assessments.models.types import utcnow
from assessments.services import accounts, catalog, invitations

HERE = Path(__file__).resolve().parent
FIXTURE_CASES = HERE / "fixtures" / "cases"
PASSWORD = "correct horse battery"

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A fresh database for this test session, with every table created."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        settings: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
        yield settings
        return
    from assessments.config import normalise_database_url

    url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    settings = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "connect_args": {"options": f"-csearch_path={schema}"},
        },
    }
    yield settings
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


_created: set[str] = set()


@pytest.fixture
def app(database_url: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app on the session's database, emptied before the test, with fixture cases synced."""
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "HUEY_IMMEDIATE": True,
        "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
        "SECRET_KEY": "test-secret",
        "CASES_DIR": str(FIXTURE_CASES),
        "SUBMISSIONS_DIR": str(tmp_path / "submissions"),
        "SERVER_NAME": "localhost",
        **database_url,
    }
    monkeypatch.setenv("ASSESS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(config)
    with app.app_context():
        key = database_url["SQLALCHEMY_DATABASE_URI"] + str(database_url.get("SQLALCHEMY_ENGINE_OPTIONS"))
        if key not in _created:
            db.create_all()
            _created.add(key)
        _empty_tables()
        catalog.sync_cases()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An app context, for service-level tests."""
    with app.app_context():
        yield


class UserFactory:
    """Creates accounts with defaults."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.count = 0

    def __call__(self, role: str = Role.INTERVIEWER, email: str | None = None, **kwargs: Any) -> User:
        self.count += 1
        email = email or f"{role}{self.count}@example.com"
        with self.app.app_context():
            user = accounts.create_user(email, kwargs.get("name", f"{role.title()} {self.count}"), role, PASSWORD)
            db.session.refresh(user)
            db.session.expunge(user)
            return user


@pytest.fixture
def make_user(app: Flask) -> UserFactory:
    """Factory: `make_user(role)` creates an account whose password is PASSWORD."""
    return UserFactory(app)


class AuthActions:
    """Signs a test client in and out."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD) -> Any:
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """`auth.login(email)` / `auth.logout()` on the test client."""
    return AuthActions(client)


@pytest.fixture
def make_invitation(app: Flask, make_user: UserFactory) -> Any:
    """Factory: an invitation to the fixture hiring case; returns (invitation id, token)."""

    def factory(*, days: float = 3, panel: list[User] | None = None, **kwargs: Any) -> tuple[int, str]:
        with app.app_context():
            admin = accounts.find_user_by_email("owner@example.com")
            if admin is None:
                admin = accounts.create_user("owner@example.com", "Owner", Role.ADMIN, PASSWORD)
            members = [db.session.get(User, u.id) for u in (panel or [])]
            # Tests invite the same person again and again; an empty panel is their explicit choice.
            kwargs.setdefault("add_to_existing", True)
            kwargs.setdefault("panel_later", not members)
            invitation, token = invitations.invite_candidate(
                "Casey Candidate",
                "casey@example.org",
                catalog.find_current_case("tiny-hiring"),
                due_at=utcnow() + timedelta(days=days),
                panel=members,
                actor=admin,
                **kwargs,
            )
            return invitation.id, token

    return factory


@pytest.fixture
def smtp_server(app: Flask) -> Iterator[Any]:
    """A real SMTP server on loopback that the app sends to (MAIL_URL); read `smtp_server.messages`."""
    from tests.mailserver import running_smtp_server

    with running_smtp_server() as server:
        app.config["MAIL_URL"] = server.url
        yield server


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless chromium driven by Playwright; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page (UTC, desktop width)."""
    context = browser.new_context(timezone_id="UTC", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()
