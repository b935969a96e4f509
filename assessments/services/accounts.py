"""Accounts: creating users, checking passwords, and throttling failed logins."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from assessments.errors import InvalidCredentials, InvalidInput, LoginThrottled
from assessments.extensions import db
from assessments.models import LoginThrottle, Role, User
from assessments.models.types import utcnow
from assessments.permissions import Capability, roles_with
from assessments.services.audit import record_event


def _hasher() -> PasswordHasher:
    # Tests lower the cost through configuration; production keeps argon2-cffi's defaults.
    return PasswordHasher(**current_app.config.get("ARGON2_PARAMETERS", {}))


@functools.cache
def _dummy_hash(parameters: tuple[tuple[str, Any], ...]) -> str:
    """A hash, made once per process and cost setting, to verify against when the email is unknown."""
    return PasswordHasher(**dict(parameters)).hash("not a real password")


MIN_PASSWORD_LENGTH = 10


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding space."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """The stored form of a new password.

    :raises InvalidInput: for a password shorter than MIN_PASSWORD_LENGTH.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    return _hasher().hash(password)


def create_user(email: str, display_name: str, role: str, password: str) -> User:
    """Create an account.

    :raises InvalidInput: for an unknown role, a short password or an email already in use.
    """
    email = normalise_email(email)
    if role not in set(Role):
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(Role)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if db.session.scalar(select(User).where(User.email == email)):
        raise InvalidInput(f"An account with the email {email} already exists.")
    user = User(email=email, display_name=display_name.strip(), role=role, password_hash=_hasher().hash(password))
    db.session.add(user)
    db.session.flush()
    record_event(None, "user.created", "user", user.id, email=email, role=role)
    db.session.commit()
    return user


def find_user_by_email(email: str) -> User | None:
    """The account with this email, if any."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def list_users(capability: Capability | None = None) -> list[User]:
    """Active accounts, optionally only those whose role grants a capability, by name."""
    query = select(User).where(User.active.is_(True)).order_by(User.display_name)
    if capability is not None:
        query = query.where(User.role.in_(roles_with(capability)))
    return list(db.session.scalars(query))


def authenticate(email: str, password: str, address: str) -> User:
    """Check a login, applying the per-account and per-address throttle.

    :raises LoginThrottled: when this account or address must wait.
    :raises InvalidCredentials: for a wrong email or password, or an inactive account.
    """
    now = utcnow()
    keys = [f"account:{normalise_email(email)}", f"address:{address}"]
    _check_throttle(keys, now)
    user = find_user_by_email(email)
    hasher = _hasher()
    # Fetched whether or not the email is known, so even the first sign-in of a process (the one
    # that makes the dummy hash) costs the same either way: one argon2 verify, no hash.
    dummy = _dummy_hash(tuple(sorted(current_app.config.get("ARGON2_PARAMETERS", {}).items())))
    try:
        hasher.verify(user.password_hash if user else dummy, password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        _record_failure(keys, now)
        record_event(None, "login.failed", "user", user.id if user else None, address=address)
        db.session.commit()
        raise InvalidCredentials("Wrong email or password.")
    assert user is not None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    # A success clears the account's counter, not the address's: one good login from an
    # address must not reset an attack spread over many accounts.
    throttle = db.session.get(LoginThrottle, keys[0])
    if throttle:
        db.session.delete(throttle)
    record_event(user, "login.succeeded", "user", user.id, address=address)
    db.session.commit()
    return user


def _check_throttle(keys: list[str], now: datetime) -> None:
    for key in keys:
        throttle = db.session.get(LoginThrottle, key)
        if throttle and throttle.next_allowed_at and throttle.next_allowed_at > now:
            wait = max(1, int((throttle.next_allowed_at - now).total_seconds() + 0.999))
            what = "this account" if key.startswith("account:") else "your network address"
            if throttle.failures >= current_app.config["LOGIN_LOCK_AFTER"]:
                minutes = max(1, round(wait / 60))
                message = (
                    f"Sign-in for {what} is locked for about {minutes} minute(s) after repeated "
                    "failed attempts. Wait, or ask an administrator to reset your password."
                )
            else:
                message = f"Too many failed sign-in attempts for {what}. Try again in {wait} second(s)."
            raise LoginThrottled(message, retry_after=wait)


def _record_failure(keys: list[str], now: datetime) -> None:
    config = current_app.config
    window = timedelta(seconds=config["LOGIN_WINDOW_SECONDS"])
    for key in keys:
        throttle = db.session.get(LoginThrottle, key)
        if throttle is None or now - throttle.first_failure_at > window:
            if throttle is not None:
                db.session.delete(throttle)
                db.session.flush()
            throttle = LoginThrottle(key=key, failures=0, first_failure_at=now)
            db.session.add(throttle)
        throttle.failures += 1
        if throttle.failures >= config["LOGIN_LOCK_AFTER"]:
            throttle.next_allowed_at = now + timedelta(seconds=config["LOGIN_LOCK_SECONDS"])
        elif throttle.failures >= config["LOGIN_SLOWDOWN_AFTER"]:
            delay = 5 * 2 ** (throttle.failures - config["LOGIN_SLOWDOWN_AFTER"])
            throttle.next_allowed_at = now + timedelta(seconds=min(delay, 60))
