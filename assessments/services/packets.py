"""The hiring packet: one document for the hiring committee, read from the debrief.

It holds the candidate (as the reader may see them, `blinding`) and the case, the auto-grade per
part, every submitted scorecard with its evidence and recommendation, the hiring decision, and the
newest notebook for the page to render safely. It follows the debrief's rule: an interviewer opens
it only once their own scorecard is in; those who see every panel always may.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assessments.content.rubric import Rubric
from assessments.errors import AccessDenied
from assessments.extensions import db
from assessments.grading.report import GradeReport
from assessments.models import Invitation, Scorecard, User
from assessments.models.types import utcnow
from assessments.services import blinding, decisions, grading, panels, scorecards
from assessments.services.audit import record_event

PACKET_FORMATS = ("html", "pdf")


@dataclass(frozen=True)
class PacketRating:
    """One dimension of one scorecard: the level as the rubric names it, and the evidence written."""

    dimension: str
    level: int | None
    level_label: str
    evidence: str


@dataclass(frozen=True)
class PacketScorecard:
    """One interviewer's current submitted scorecard."""

    interviewer: str
    submitted_at: datetime | None
    amendment_reason: str | None
    recommendation: str
    ratings: tuple[PacketRating, ...]
    red_flags: tuple[str, ...]
    takeaways: str


@dataclass(frozen=True)
class PacketDecision:
    """The hiring decision that counts (the newest), by whom and when."""

    outcome: str
    decided_by: str
    decided_at: datetime
    note: str


@dataclass(frozen=True)
class PacketNotebook:
    """The newest submitted version and its notebook, for the view to render safely."""

    version: int
    uploaded_at: datetime
    is_late: bool
    content: dict[str, Any]


@dataclass(frozen=True)
class HiringPacket:
    """Everything the hiring packet shows, as plain data."""

    invitation_id: int
    candidate: str
    case_title: str
    auto_grade: GradeReport | None
    scorecards: tuple[PacketScorecard, ...]
    recommendations: dict[str, int]
    pending: tuple[str, ...]
    decision: PacketDecision | None
    notebook: PacketNotebook | None
    prepared_for: str
    prepared_at: datetime


def require_packet_access(invitation: Invitation, reader: User) -> None:
    """Staff on the panel once their own scorecard is in; those who see every panel always.

    :raises AccessDenied: for anyone else, saying why.
    """
    panels.require_staff_access(reader, invitation)
    if not scorecards.may_see_others(reader, invitation):
        raise AccessDenied(
            "The hiring packet opens once your own scorecard for this candidate is submitted: it holds "
            "the rest of the panel's scorecards, which stay hidden until then so that your ratings are your own."
        )


def hiring_packet(invitation: Invitation, reader: User) -> HiringPacket:
    """The packet for this invitation as this reader may see it.

    :raises AccessDenied: for a reader off the panel, or on it before submitting their own scorecard.
    """
    require_packet_access(invitation, reader)
    summary = scorecards.debrief(invitation, reader)
    decision = decisions.current_decision(invitation)
    latest = invitation.submissions[-1] if invitation.submissions else None
    return HiringPacket(
        invitation_id=invitation.id,
        candidate=blinding.candidate_name(reader, invitation),
        case_title=invitation.case.title,
        auto_grade=summary.auto_grade,
        scorecards=tuple(_scorecard(s, summary.recommendation_label(s.recommendation)) for s in summary.scorecards),
        recommendations={summary.recommendation_label(k): n for k, n in summary.recommendations.items()},
        pending=tuple(u.display_name for u in summary.pending),
        decision=PacketDecision(
            outcome=decision.outcome,
            decided_by=decision.decided_by.display_name,
            decided_at=decision.decided_at,
            note=decision.note,
        )
        if decision
        else None,
        notebook=PacketNotebook(
            version=latest.version,
            uploaded_at=latest.uploaded_at,
            is_late=latest.is_late,
            content=grading.submission_notebook(latest),
        )
        if latest
        else None,
        prepared_for=reader.display_name,
        prepared_at=utcnow(),
    )


def _scorecard(scorecard: Scorecard, recommendation: str) -> PacketScorecard:
    rubric = scorecards.rubric_for(scorecard)
    names = {d.id: d.name for d in rubric.dimensions}
    flags = {f.id: f.label for f in rubric.red_flags}
    ratings = []
    for rating in scorecard.ratings:
        label = "not assessed" if rating.level is None else _level_label(rubric, rating.level)
        ratings.append(
            PacketRating(
                dimension=names.get(rating.dimension_id, rating.dimension_id),
                level=rating.level,
                level_label=label,
                evidence=rating.evidence or "",
            )
        )
    return PacketScorecard(
        interviewer=scorecard.interviewer.display_name,
        submitted_at=scorecard.submitted_at,
        amendment_reason=scorecard.amendment_reason,
        recommendation=recommendation,
        ratings=tuple(ratings),
        red_flags=tuple(flags.get(f, f) for f in scorecard.red_flags or ()),
        takeaways=scorecard.takeaways or "",
    )


def _level_label(rubric: Rubric, level: int) -> str:
    try:
        return rubric.level(level).label
    except KeyError:
        return str(level)


def record_packet_download(invitation: Invitation, reader: User, packet_format: str) -> None:
    """Audit that this reader took the packet away, as HTML or PDF.

    :raises AccessDenied: for a reader who may not open the packet.
    """
    require_packet_access(invitation, reader)
    record_event(reader, "packet.downloaded", "invitation", invitation.id, format=packet_format)
    db.session.commit()
