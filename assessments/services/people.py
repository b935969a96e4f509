"""People: admins invite staff by email, change their roles and deactivate their accounts.

An account is never deleted: its scorecards, reviews and audit events keep pointing at it. A
deactivated account cannot sign in, and a session it already had stops working on its next
request (security.py loads only active accounts).
"""

from __future__ import annotations

from sqlalchemy import func, select

from assessments.errors import InvalidInput, NotFound
from assessments.extensions import db
from assessments.models import PasswordLinkPurpose, Role, User
from assessments.models.types import utcnow
from assessments.services.accounts import find_user_by_email, normalise_email
from assessments.services.audit import record_event
from assessments.services.passwords import NO_PASSWORD, end_open_links, has_password, send_password_link


def list_people() -> list[User]:
    """Every account, active ones first, then by name."""
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.display_name, User.id)))


def get_person(user_id: int) -> User:
    """One account.

    :raises NotFound: when there is no such account.
    """
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such account.")
    return user


def _check_role(role: str) -> None:
    if role not in set(Role):
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(Role)}.")


def invite_person(email: str, display_name: str, role: str, actor: User) -> tuple[User, str]:
    """Add an account and mail its owner a link to set their password, in one transaction;
    returns the account and the link's token (shown to the admin only when no mail server is set).

    :raises InvalidInput: for a missing name or email, an unknown role or an email already in use.
    """
    email = normalise_email(email)
    if not email or not display_name.strip():
        raise InvalidInput("Give the person's name and email.")
    _check_role(role)
    if find_user_by_email(email) is not None:
        raise InvalidInput(f"An account with the email {email} already exists.")
    user = User(email=email, display_name=display_name.strip(), role=role, password_hash=NO_PASSWORD)
    db.session.add(user)
    db.session.flush()
    record_event(actor, "user.invited", "user", user.id, email=email, role=role)
    token = send_password_link(user, PasswordLinkPurpose.INVITE, actor)
    db.session.commit()
    return user, token


def resend_password_link(user: User, actor: User) -> str:
    """Mail the account a new set-password link (its older links stop working); returns the token.

    :raises InvalidInput: for a deactivated account.
    """
    if not user.active:
        raise InvalidInput("This account is deactivated: reactivate it before sending a link.")
    purpose = PasswordLinkPurpose.RESET if has_password(user) else PasswordLinkPurpose.INVITE
    token = send_password_link(user, purpose, actor)
    db.session.commit()
    return token


def _other_active_admins(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
        )
        or 0
    )


def _check_not_self(user: User, actor: User, what: str) -> None:
    if user.id == actor.id:
        raise InvalidInput(f"You cannot {what} your own account: ask another administrator.")


def change_role(user: User, role: str, actor: User) -> None:
    """Give the account another role; it takes effect on the person's next page.

    :raises InvalidInput: for an unknown role, one's own account, or the last active admin.
    """
    _check_role(role)
    if role == user.role:
        return
    _check_not_self(user, actor, "change the role of")
    if user.role == Role.ADMIN and user.active and not _other_active_admins(user):
        raise InvalidInput("This is the last active administrator: make someone else an administrator first.")
    record_event(actor, "user.role_changed", "user", user.id, old=user.role, new=role)
    user.role = role
    db.session.commit()


def deactivate_person(user: User, actor: User) -> None:
    """Stop the account from signing in (now, and in sessions it already has); its work stays.

    :raises InvalidInput: for one's own account or the last active admin.
    """
    if not user.active:
        return
    _check_not_self(user, actor, "deactivate")
    if user.role == Role.ADMIN and not _other_active_admins(user):
        raise InvalidInput("This is the last active administrator: make someone else an administrator first.")
    user.active = False
    end_open_links(user, utcnow())
    record_event(actor, "user.deactivated", "user", user.id)
    db.session.commit()


def reactivate_person(user: User, actor: User) -> None:
    """Let a deactivated account sign in again with the password it had."""
    if user.active:
        return
    user.active = True
    record_event(actor, "user.reactivated", "user", user.id)
    db.session.commit()
