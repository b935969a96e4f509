"""Mentorship: mentor–mentee pairings, a mentee's practice of a case, and their graded attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class MentorPairing(db.Model):
    """A mentor who follows a mentee's practice; ending a pairing deletes the row (audited)."""

    __tablename__ = "mentor_pairing"
    __table_args__ = (UniqueConstraint("mentor_id", "mentee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # When this mentor was last mailed about a new attempt of this mentee (at most one an hour).
    attempt_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    mentor: Mapped[User] = relationship(foreign_keys=[mentor_id])  # noqa: F821
    mentee: Mapped[User] = relationship(foreign_keys=[mentee_id])  # noqa: F821


class Practice(db.Model):
    """A mentee practising one version of a case, with their own seed (and so their own data)."""

    __tablename__ = "practice"
    __table_args__ = (UniqueConstraint("mentee_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    # The public seed id (bundle names show it); the data seed follows from it under `seed_scheme`
    # (content/seeds.py: 0 = the id itself, for rows made before secret seeds; 1 = HMAC with the
    # deployment key whose fingerprint is `seed_key_id`). Read the data seed through the service.
    seed: Mapped[int]
    seed_scheme: Mapped[int] = mapped_column(server_default="0")
    seed_key_id: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    solution_unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An UnlockReason: after the configured number of graded attempts, or on the mentee's request.
    solution_unlock_reason: Mapped[str | None] = mapped_column(String(40))

    mentee: Mapped[User] = relationship()  # noqa: F821
    case: Mapped[Case] = relationship()  # noqa: F821
    attempts: Mapped[list[PracticeAttempt]] = relationship(back_populates="practice", order_by="PracticeAttempt.number")


class UnlockReason(StrEnum):
    """Why a practice's model solution is open."""

    # Opened by the first graded attempt (before PRACTICE_SOLUTION_AFTER_ATTEMPTS existed; old rows only).
    GRADED_ATTEMPT = "graded-attempt"
    AFTER_ATTEMPTS = "after-attempts"
    REQUESTED = "requested"


class AttemptRoute(StrEnum):
    """How the mentee answered: an uploaded notebook, or flags chosen in the browser."""

    NOTEBOOK = "notebook"
    BROWSER = "browser"


class AttemptStatus(StrEnum):
    """Queued until graded (a notebook attempt's grade run may be running meanwhile); failed means
    the grader (not the mentee) could not grade it."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class PracticeAttempt(db.Model):
    """One graded try at a practice case; the report is stored as GradeReport JSON."""

    __tablename__ = "practice_attempt"
    __table_args__ = (UniqueConstraint("practice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    number: Mapped[int]
    route: Mapped[str] = mapped_column(String(20))
    # Notebook route: the upload, stored by sha256 in the submission store.
    sha256: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None]
    # Browser route: [{"label": "C7", "defect": "target-leakage", "note": "..."}].
    flags: Mapped[list[Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=AttemptStatus.QUEUED)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    earned: Mapped[float | None]
    possible: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    # True when the solution was already open: such a score says little about the mentee's skill.
    after_solution: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    practice: Mapped[Practice] = relationship(back_populates="attempts")
    # Notebook route: the job that grades it; its outcome is copied here when it finishes.
    grade_run: Mapped[GradeRun | None] = relationship(back_populates="practice_attempt")  # noqa: F821
