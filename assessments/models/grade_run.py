"""Grade runs: the one grading job, for a hiring submission or a practice attempt alike."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class GradeStatus(StrEnum):
    """Where a grade run is; the database, not the queue, is the source of truth."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunSubject(StrEnum):
    """What a grade run grades."""

    SUBMISSION = "submission"
    PRACTICE_ATTEMPT = "practice attempt"


class GradeRun(db.Model):
    """One grading of one notebook by one grader version: a submission's (a regrade adds a run)
    or a practice attempt's (exactly one run per notebook attempt)."""

    __tablename__ = "grade_run"
    __table_args__ = (CheckConstraint("(submission_id IS NULL) <> (practice_attempt_id IS NULL)", name="one_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    practice_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("practice_attempt.id"), unique=True)
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

    submission: Mapped[Submission | None] = relationship(back_populates="grade_runs")  # noqa: F821
    practice_attempt: Mapped[PracticeAttempt | None] = relationship(back_populates="grade_run")  # noqa: F821

    @property
    def subject(self) -> RunSubject:
        """Whether the run grades a hiring submission or a practice attempt."""
        return RunSubject.SUBMISSION if self.submission_id is not None else RunSubject.PRACTICE_ATTEMPT

    @property
    def subject_id(self) -> int:
        """The id of the submission or practice attempt the run grades."""
        subject_id = self.submission_id if self.submission_id is not None else self.practice_attempt_id
        assert subject_id is not None  # the table's check constraint
        return subject_id
