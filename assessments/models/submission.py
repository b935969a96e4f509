"""Submissions: append-only versions of a candidate's notebook (their grade runs are in grade_run.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class Submission(db.Model):
    """One uploaded version of a candidate's notebook, stored by sha256 before grading."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("invitation_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_late: Mapped[bool] = mapped_column(default=False)

    invitation: Mapped[Invitation] = relationship(back_populates="submissions")  # noqa: F821
    grade_runs: Mapped[list[GradeRun]] = relationship(  # noqa: F821
        back_populates="submission", order_by="GradeRun.id"
    )
