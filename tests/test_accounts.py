"""Accounts: creating users, signing in, and the login throttle."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from assessments.errors import InvalidCredentials, InvalidInput, LoginThrottled
from assessments.extensions import db
from assessments.models import AuditEvent, LoginThrottle, User
from assessments.services import accounts
from tests.conftest import PASSWORD


def test_password_is_stored_as_argon2_hash(ctx, make_user):
    user = make_user("admin", email="a@example.com")
    stored = db.session.get(User, user.id)
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("x@example.com", "wizard", "long enough pw", "Unknown role"),
        ("x@example.com", "admin", "short", "at least 10 characters"),
    ],
)
def test_create_user_refuses_bad_input(ctx, email, role, password, message):
    with pytest.raises(InvalidInput, match=message):
        accounts.create_user(email, "X", role, password)


def test_duplicate_email_is_refused_case_insensitively(ctx, make_user):
    make_user("admin", email="dup@example.com")
    with pytest.raises(InvalidInput, match="already exists"):
        accounts.create_user("DUP@Example.com ", "Y", "mentor", "long enough pw")


def test_login_and_logout(client, auth, make_user):
    make_user("interviewer", email="iris@example.com")
    response = auth.login("iris@example.com")
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    auth.logout()
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_gets_a_clear_message(client, auth, make_user):
    make_user("interviewer", email="iris@example.com")
    response = auth.login("iris@example.com", "not the password")
    assert response.status_code == 401
    assert b"Wrong email or password." in response.data


def test_unknown_email_gets_the_same_message_as_a_wrong_password(client, auth):
    response = auth.login("nobody@example.com", "whatever123")
    assert response.status_code == 401
    assert b"Wrong email or password." in response.data


def test_inactive_account_cannot_sign_in(app, client, auth, make_user):
    user = make_user("mentor", email="gone@example.com")
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert auth.login("gone@example.com").status_code == 401


def test_failed_logins_slow_down_then_lock(ctx, make_user):
    make_user("admin", email="target@example.com")
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("target@example.com", "wrong password", "10.0.0.1")
    # After three failures the account must wait, even with the right password.
    with pytest.raises(LoginThrottled, match=r"Try again in \d+ second") as slowed:
        accounts.authenticate("target@example.com", PASSWORD, "10.0.0.1")
    assert slowed.value.retry_after >= 1
    throttle = db.session.get(LoginThrottle, "account:target@example.com")
    throttle.failures = 9
    throttle.next_allowed_at = None
    db.session.commit()
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("target@example.com", "wrong again", "10.0.0.2")
    with pytest.raises(LoginThrottled, match="locked for about 15 minute") as locked:
        accounts.authenticate("target@example.com", PASSWORD, "10.0.0.3")
    assert locked.value.retry_after > 14 * 60


def test_throttle_applies_per_address_across_accounts(ctx, make_user):
    for i in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(f"guess{i}@example.com", "wrong password", "192.0.2.9")
    make_user("admin", email="real@example.com")
    with pytest.raises(LoginThrottled, match="your network address"):
        accounts.authenticate("real@example.com", PASSWORD, "192.0.2.9")
    # Another address is not affected.
    assert accounts.authenticate("real@example.com", PASSWORD, "192.0.2.10").email == "real@example.com"


def test_throttled_login_page_says_so_with_retry_after(client, auth, make_user):
    make_user("admin", email="t@example.com")
    for _ in range(3):
        auth.login("t@example.com", "wrong password")
    response = auth.login("t@example.com")
    assert response.status_code == 429
    assert re.search(rb"Try again in \d+ second", response.data)


def test_logins_are_audited(ctx, make_user):
    make_user("admin", email="audit@example.com")
    accounts.authenticate("audit@example.com", PASSWORD, "127.0.0.1")
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("audit@example.com", "bad password", "127.0.0.1")
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["login.succeeded", "login.failed"]


def test_next_parameter_cannot_redirect_off_site(client, auth, make_user):
    make_user("admin", email="n@example.com")
    response = client.post("/login?next=//evil.example/steal", data={"email": "n@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")


@pytest.fixture
def argon2_calls(monkeypatch):
    """Counts argon2 hashes and verifies, the work that decides how long a sign-in takes."""
    from argon2 import PasswordHasher

    calls = {"hash": 0, "verify": 0}
    for name in calls:
        original = getattr(PasswordHasher, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PasswordHasher, name, counted)
    return calls


def _argon2_work(calls, sign_in) -> dict[str, int]:
    before = dict(calls)
    with pytest.raises(InvalidCredentials):
        sign_in()
    return {name: calls[name] - before[name] for name in calls}


def _forget_dummy_hash() -> None:
    getattr(accounts._dummy_hash, "cache_clear", lambda: None)()


def test_unknown_email_costs_the_same_argon2_work_as_a_known_one(ctx, make_user, argon2_calls):
    # An attacker timing sign-ins must not learn which emails have accounts.
    make_user("admin", email="known@example.com")
    _forget_dummy_hash()  # as in a fresh process: the first sign-in must not differ either
    first_unknown = _argon2_work(
        argon2_calls, lambda: accounts.authenticate("nobody@example.com", "guess 1", "198.51.100.1")
    )
    _forget_dummy_hash()
    first_known = _argon2_work(
        argon2_calls, lambda: accounts.authenticate("known@example.com", "guess 1", "198.51.100.2")
    )
    assert first_unknown == first_known
    unknown = _argon2_work(
        argon2_calls, lambda: accounts.authenticate("nobody2@example.com", "guess 2", "198.51.100.3")
    )
    known = _argon2_work(argon2_calls, lambda: accounts.authenticate("known@example.com", "guess 2", "198.51.100.4"))
    assert unknown == known == {"hash": 0, "verify": 1}
