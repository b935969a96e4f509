"""Hiring decisions recorded at the debrief: advance, reject or hold, by whom, when, with a note."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class DecisionOutcome(StrEnum):
    """What the hiring team decided after the debrief."""

    ADVANCE = "advance"
    REJECT = "reject"
    HOLD = "hold"


class HiringDecision(db.Model):
    """One decision about an invitation; rows are only added, the newest is the current one."""

    __tablename__ = "hiring_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    decided_by: Mapped[User] = relationship()  # noqa: F821
