"""Staff and mentee accounts."""

from __future__ import annotations

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

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
