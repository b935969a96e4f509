"""What happened after the assessment: hired or not, start date, later performance ratings (HR data)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class Outcome(db.Model):
    """One candidate's outcomes, kept up to date by admins; read only by the validity report.

    Performance ratings are on the scale `OUTCOME_RATING_SCALE` says; only hires have them.
    """

    __tablename__ = "outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"), unique=True)
    hired: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date | None] = mapped_column(Date)
    rating_6m: Mapped[float | None]
    rating_12m: Mapped[float | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    candidate: Mapped[Candidate] = relationship()  # noqa: F821
