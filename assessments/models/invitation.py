"""Invitations: a candidate asked to do one version of a case, with a deadline and a panel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessments.extensions import db
from assessments.models.types import UTCDateTime, utcnow


class InvitationStatus(StrEnum):
    """Stored status; whether a link is open or expired follows from the dates."""

    ACTIVE = "active"
    REVOKED = "revoked"


class LinkState(StrEnum):
    """What an invitation link does at a given moment (worked out from the status and the dates)."""

    REVOKED = "revoked"
    NOT_OPEN = "not-open"
    OPEN = "open"
    EXPIRED = "expired"


class Invitation(db.Model):
    """A candidate × case-version pair with its own seed and a secret link."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    # The public seed id (bundle names show it); the data seed follows from it under `seed_scheme`
    # (content/seeds.py: 0 = the id itself, for rows made before secret seeds; 1 = HMAC with the
    # deployment key whose fingerprint is `seed_key_id`). Read the data seed through the service.
    seed: Mapped[int]
    seed_scheme: Mapped[int] = mapped_column(server_default="0")
    seed_key_id: Mapped[str | None] = mapped_column(String(16))
    # sha256 of the link token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    time_limit_minutes: Mapped[int]
    allow_late: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=InvitationStatus.ACTIVE)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Timed: the time limit runs from the first bundle download and late versions are marked;
    # untimed, the limit is only the expected effort (honour system).
    timed: Mapped[bool] = mapped_column(default=False, server_default=false())
    first_downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Blind first read: interviewers see `candidate_code`, not the name, until their scorecard is in.
    blind_first_read: Mapped[bool] = mapped_column(default=True, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The deadline the candidate's reminder mail was sent for (claimed atomically by the reminder
    # sweep); an extended deadline differs from it and earns one reminder of its own.
    deadline_reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)

    candidate: Mapped[Candidate] = relationship(back_populates="invitations")  # noqa: F821
    case: Mapped[Case] = relationship()  # noqa: F821
    panel: Mapped[list[PanelMember]] = relationship(back_populates="invitation", order_by="PanelMember.id")
    submissions: Mapped[list[Submission]] = relationship(  # noqa: F821
        back_populates="invitation", order_by="Submission.version"
    )

    def state(self, now: datetime) -> LinkState:
        """What the link does right now: revoked, not open yet, open or expired."""
        if self.status == InvitationStatus.REVOKED:
            return LinkState.REVOKED
        if now < self.opens_at:
            return LinkState.NOT_OPEN
        if now >= self.due_at:
            return LinkState.EXPIRED
        return LinkState.OPEN


class PanelMember(db.Model):
    """An interviewer on an invitation's panel."""

    __tablename__ = "panel_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the scorecard reminder went to this panelist (claimed atomically by the reminder sweep).
    scorecard_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation] = relationship(back_populates="panel")
    interviewer: Mapped[User] = relationship()  # noqa: F821

    __table_args__ = (db.UniqueConstraint("invitation_id", "interviewer_id"),)
