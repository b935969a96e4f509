"""An interviewer's unsubmitted scorecard, kept apart from the scorecards the panel and reports read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class ScorecardDraft(db.Model):
    """What one interviewer has filled in so far for an invitation, saved by hand or by autosave.

    A separate table, so no query over `scorecard` (debrief, calibration, pipeline, exports) can
    count a draft; submitting deletes it.
    """

    __tablename__ = "scorecard_draft"
    __table_args__ = (UniqueConstraint("invitation_id", "interviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    rubric_slug: Mapped[str] = mapped_column(String(80))
    rubric_version: Mapped[str] = mapped_column(String(64))
    # The draft's fields as ScorecardResult holds them: ratings, evidence, red_flags, takeaways, recommendation.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
