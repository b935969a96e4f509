"""Submissions (append-only notebook versions) and their grade runs (a regrade adds a run)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
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

    invitation: Mapped["Invitation"] = relationship(back_populates="submissions")  # noqa: F821
    grade_runs: Mapped[list["GradeRun"]] = relationship(
        back_populates="submission", order_by="GradeRun.id"
    )


class GradeStatus(StrEnum):
    """Where a grade run is; the database, not the queue, is the source of truth."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class GradeRun(db.Model):
    """One grading of one submission by one grader version."""

    __tablename__ = "grade_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    grader_version: Mapped[str] = mapped_column(String(40))
    case_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=GradeStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    earned: Mapped[float | None]
    possible: Mapped[float | None]
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    submission: Mapped[Submission] = relationship(back_populates="grade_runs")
