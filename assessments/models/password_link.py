"""One-time links that let a staff member set (or reset) their password."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow
from assessments.models.user import User


class PasswordLinkPurpose(StrEnum):
    """Why the link was made: a new account's first password, or a forgotten one."""

    INVITE = "invite"
    RESET = "reset"


class PasswordLink(db.Model):
    """A set-password link: only the token's sha256 is stored; used once, then never again."""

    __tablename__ = "password_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the link was used, or when a newer link or a deactivation replaced it.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    def usable(self, now: datetime) -> bool:
        """True while the link is unused, unexpired, and its account may sign in."""
        return self.used_at is None and now < self.expires_at and self.user.active
