"""Staff and mentee accounts."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class Role(StrEnum):
    """An account's role (admins are the hiring managers); what each may do: `permissions.ROLE_CAPABILITIES`."""

    ADMIN = "admin"
    INTERVIEWER = "interviewer"
    MENTOR = "mentor"
    MENTEE = "mentee"


class User(UserMixin, db.Model):
    """A person with a login."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every session's user id (`get_id`): a new password draws a new one
    # (`new_session_token`), which signs out every session that carries the old one.
    session_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        """What a session stores to find this account again: its id and its current session token."""
        return f"{self.id}:{self.session_token}"

    def new_session_token(self) -> None:
        """End every session signed in to this account (they carry the old token)."""
        self.session_token = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
