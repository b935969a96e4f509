"""Voluntary self-identification: kept apart from the assessment, read only by the fairness report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class SelfIdSource(StrEnum):
    """Where an answer came from."""

    CANDIDATE = "candidate"
    IMPORT = "import"


class SelfIdentification(db.Model):
    """A candidate's own answers (None: not answered or declined); one row per candidate, replaced on change.

    No relationship points here from `Candidate`, so nothing that loads a candidate loads these.
    """

    __tablename__ = "self_identification"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"), unique=True)
    sex: Mapped[str | None] = mapped_column(String(80))
    race_ethnicity: Mapped[str | None] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(20), default=SelfIdSource.CANDIDATE)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
