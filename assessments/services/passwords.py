"""Set-password links: a new account's first password and a forgotten one, through a mailed link.

A link's token is shown to its owner only (in the mail); the database keeps its sha256, as for
invitation tokens. A link works once, until it expires, and only the newest one of an account
works: making a new link, using one, or deactivating the account ends the others.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from assessments.errors import NotFound
from assessments.extensions import db
from assessments.models import LoginThrottle, PasswordLink, PasswordLinkPurpose, Role, User
from assessments.models.types import utcnow
from assessments.services import outbox
from assessments.services.accounts import find_user_by_email, hash_password
from assessments.services.audit import record_event
from assessments.services.invitations import hash_token

# Stored as the password hash of an account that has not set a password yet: no hash format
# matches it, so nobody can sign in to it until its owner uses their link.
NO_PASSWORD = "!"
# A forgotten-password request for an account that asked for a link this recently sends nothing
# more: the form must not be a way to fill someone's inbox.
RESET_COOLDOWN = timedelta(minutes=2)

LINK_UNAVAILABLE = (
    "This link is not valid any more: it was already used, a newer link replaced it, or it expired. "
    "Ask for a new one below, or ask an administrator to send you one."
)

ROLE_WORDS = {
    Role.ADMIN: "an administrator",
    Role.INTERVIEWER: "an interviewer",
    Role.MENTOR: "a mentor",
    Role.MENTEE: "a mentee",
}


def has_password(user: User) -> bool:
    """False for an invited account whose owner has not set a password yet."""
    return user.password_hash != NO_PASSWORD


def _lifetime(purpose: PasswordLinkPurpose) -> timedelta:
    config = current_app.config
    if purpose == PasswordLinkPurpose.INVITE:
        return timedelta(hours=config["PASSWORD_INVITE_HOURS"])
    return timedelta(minutes=config["PASSWORD_RESET_MINUTES"])


def end_open_links(user: User, now: datetime) -> None:
    """Make every unused link of this account stop working (in the caller's transaction)."""
    db.session.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def send_password_link(user: User, purpose: PasswordLinkPurpose, actor: User | None) -> str:
    """Make a new link for the account (ending its older ones) and queue the mail that carries it,
    in the caller's transaction; returns the token, which is stored only hashed.
    """
    now = utcnow()
    end_open_links(user, now)
    token = secrets.token_urlsafe(32)
    link = PasswordLink(
        user_id=user.id,
        token_hash=hash_token(token),
        purpose=purpose,
        created_at=now,
        expires_at=now + _lifetime(purpose),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(link)
    db.session.flush()
    template = "password_invite" if purpose == PasswordLinkPurpose.INVITE else "password_reset"
    subject = (
        "You are invited to ML Assessments: set your password"
        if purpose == PasswordLinkPurpose.INVITE
        else "Reset your ML Assessments password"
    )
    outbox.queue_mail(
        user.email,
        subject,
        template,
        about=f"user:{user.id}",
        user=user,
        role=ROLE_WORDS.get(user.role, user.role),
        inviter=actor,
        link=outbox.absolute_url("password.set_password", token=token),
        expires_at=link.expires_at,
    )
    record_event(actor, f"password_link.{purpose}", "user", user.id, link_id=link.id)
    return token


def request_password_reset(email: str) -> None:
    """Mail a reset link to an active account with this email; do nothing otherwise.

    The person asking is told the same either way, so the form never says whether an email has an
    account.
    """
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    now = utcnow()
    recent = db.session.scalar(
        select(PasswordLink.id).where(
            PasswordLink.user_id == user.id,
            PasswordLink.created_by_id.is_(None),  # asked for on the form, not sent by an admin
            PasswordLink.created_at > now - RESET_COOLDOWN,
        )
    )
    if recent is not None:
        return
    purpose = PasswordLinkPurpose.RESET if has_password(user) else PasswordLinkPurpose.INVITE
    send_password_link(user, purpose, None)
    db.session.commit()


def find_password_link(token: str, now: datetime | None = None) -> PasswordLink:
    """The usable link with this token.

    :raises NotFound: for an unknown, used, replaced or expired link, or a deactivated account
        (one message for all, so a link reveals nothing about the account).
    """
    link = db.session.scalar(select(PasswordLink).where(PasswordLink.token_hash == hash_token(token)))
    if link is None or not link.usable(now or utcnow()):
        raise NotFound(LINK_UNAVAILABLE)
    return link


def set_password(token: str, password: str, now: datetime | None = None) -> User:
    """Set the account's password through its link, which then stops working (as do its others),
    and sign out every session of the account.

    :raises NotFound: when the link cannot be used (see `find_password_link`).
    :raises InvalidInput: for a password that is too short.
    """
    now = now or utcnow()
    link = find_password_link(token, now)
    user = link.user
    user.password_hash = hash_password(password)
    # Whoever was signed in with the old password (a shared machine, a stolen session) is signed out.
    user.new_session_token()
    end_open_links(user, now)
    # A forgotten password often follows a locked account: the new one starts with a clean slate.
    throttle = db.session.get(LoginThrottle, f"account:{user.email}")
    if throttle is not None:
        db.session.delete(throttle)
    record_event(user, "password.set", "user", user.id, purpose=link.purpose)
    db.session.commit()
    return user
