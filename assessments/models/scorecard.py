"""Scorecards and their per-dimension ratings; a submitted scorecard is never edited."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class ScorecardStatus(StrEnum):
    """A draft can change; a submitted scorecard is locked (changes are amendments)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


class ScorecardPurpose(StrEnum):
    """A hiring scorecard rates an invitation; a mentoring review rates a practice attempt."""

    HIRING = "hiring"
    MENTORING = "mentoring"


class Scorecard(db.Model):
    """One interviewer's assessment of an invitation (or a mentor's of a practice attempt) against a rubric."""

    __tablename__ = "scorecard"
    __table_args__ = (CheckConstraint("(invitation_id IS NULL) <> (practice_attempt_id IS NULL)", name="one_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Exactly one of these is set: a hiring scorecard rates an invitation, a mentoring review
    # (purpose "mentoring") rates a practice attempt and never enters hiring calibration.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id"), index=True)
    practice_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("practice_attempt.id"), index=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default=ScorecardPurpose.HIRING)
    rubric_slug: Mapped[str] = mapped_column(String(80))
    rubric_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=ScorecardStatus.DRAFT)
    recommendation: Mapped[str | None] = mapped_column(String(20))
    takeaways: Mapped[str] = mapped_column(Text, default="")
    red_flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("scorecard.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ratings: Mapped[list[Rating]] = relationship(
        back_populates="scorecard", order_by="Rating.id", cascade="all, delete-orphan"
    )
    interviewer: Mapped[User] = relationship()  # noqa: F821
    invitation: Mapped[Invitation | None] = relationship()  # noqa: F821
    practice_attempt: Mapped[PracticeAttempt | None] = relationship()  # noqa: F821


class Rating(db.Model):
    """A level on one rubric dimension (None: explicitly not assessed) with its evidence."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("scorecard_id", "dimension_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecard.id"), index=True)
    dimension_id: Mapped[str] = mapped_column(String(80))
    level: Mapped[int | None]
    evidence: Mapped[str] = mapped_column(Text, default="")

    scorecard: Mapped[Scorecard] = relationship(back_populates="ratings")
