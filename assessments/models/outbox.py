"""The outbox: every mail the app sends is a row first, and a worker sends it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class MailStatus(StrEnum):
    """Where a mail is: waiting (a first try, or a retry after a failure), being sent, sent, or given up."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMail(db.Model):
    """One mail: its parts, and every attempt to send it.

    A link's token stays in the parts only until the mail is sent; then the stored parts keep the
    link with its token removed (services/outbox.py).
    """

    __tablename__ = "outbox_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    # The template it was made from ("password_invite", ...) and what it is about ("user:3").
    template: Mapped[str] = mapped_column(String(60))
    about: Mapped[str | None] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(20), default=MailStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # Each failed attempt and each manual retry: {"at": iso time, "error": text} / {"at", "retried_by"}.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    transport: Mapped[str | None] = mapped_column(String(20))  # "smtp" or "log", once sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def last_error(self) -> str | None:
        """The error of the latest failed attempt, if the latest event was one."""
        for entry in reversed(self.history or []):
            if "error" in entry:
                return entry["error"]
            return None
        return None

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The failed attempts, oldest first."""
        return [entry for entry in self.history or [] if "error" in entry]
