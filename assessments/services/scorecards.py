"""Scorecards: drafts, submission (which locks), amendments, independence and the debrief.

Independence: until an interviewer has submitted their own scorecard for an invitation, nothing
of anyone else's (scorecards, ratings, aggregates) is returned to them by any function here.
Admins see everything, and the pages say so.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

from flask import current_app
from sqlalchemy import select

from assessments.content.kits import GENERAL_KIT, InterviewKit, load_kits
from assessments.content.rubric import Rubric, load_rubrics
from assessments.errors import AccessDenied, DomainError, InvalidInput, NotFound
from assessments.extensions import db
from assessments.grading.report import GradeReport
from assessments.models import (
    GradeStatus,
    Invitation,
    Rating,
    Scorecard,
    ScorecardDraft,
    ScorecardPurpose,
    ScorecardStatus,
    User,
)
from assessments.models.types import utcnow
from assessments.permissions import Capability, can
from assessments.scorecard import ScorecardResult
from assessments.services import panels, scorecard_drafts
from assessments.services.audit import record_event

DISAGREEMENT_LEVELS = 2

_lock = threading.Lock()
_library: dict[str, tuple[dict[str, Rubric], dict[str, InterviewKit]]] = {}


class ScorecardLocked(DomainError):
    """A submitted scorecard cannot be edited; it can be amended with a reason."""

    status_code = 409


def rubric_library() -> tuple[dict[str, Rubric], dict[str, InterviewKit]]:
    """Every rubric and interview kit on disk, loaded and validated once per process."""
    root = current_app.config["RUBRICS_DIR"]
    with _lock:
        if root not in _library:
            rubrics = load_rubrics(Path(root))
            _library[root] = (rubrics, load_kits(Path(root), rubrics))
        return _library[root]


def _rubric(slug: str) -> Rubric:
    rubrics, _ = rubric_library()
    if slug not in rubrics:
        raise NotFound(f"The rubric {slug!r} is not in the rubrics folder.")
    return rubrics[slug]


def kit_for_case(case_slug: str) -> InterviewKit:
    """The interview kit of a case, or the general kit when the case has none.

    :raises NotFound: when neither is on disk.
    """
    _, kits = rubric_library()
    kit = kits.get(case_slug) or kits.get(GENERAL_KIT)
    if kit is None:
        raise NotFound(f"There is no interview kit for {case_slug!r} and no {GENERAL_KIT!r} kit.")
    return kit


def kit_for(invitation: Invitation) -> InterviewKit:
    """The interview kit of the invitation's case, or the general kit."""
    return kit_for_case(invitation.case.slug)


def kit_rubric(kit: InterviewKit) -> Rubric:
    """The rubric an interview kit names: its questions and focus are written against it."""
    return _rubric(kit.rubric_slug)


def rubric_for(scorecard: Scorecard | None = None) -> Rubric:
    """The rubric a scorecard was filled against; without one, the rubric the general kit names
    (what pages rate against when no case or scorecard says otherwise).

    :raises NotFound: when that rubric (or the general kit) is not on disk.
    """
    if scorecard is not None:
        return _rubric(scorecard.rubric_slug)
    return kit_rubric(kit_for_case(GENERAL_KIT))


@dataclass(frozen=True)
class ScorecardBasis:
    """What an interviewer's scorecard for an invitation is filled against, and the kit beside it."""

    rubric: Rubric
    kit: InterviewKit
    focus_dimension_ids: tuple[str, ...]


def scorecard_basis(invitation: Invitation, scorecard: Scorecard | None = None) -> ScorecardBasis:
    """The case's kit and the rubric it names, rated on the kit's focus dimensions.

    A scorecard already filled against another rubric (the kit changed since) keeps that rubric
    and the dimensions it holds, so a draft resumes and an amendment replaces like with like.

    :raises NotFound: when the kit or its rubric is not on disk.
    """
    kit = kit_for(invitation)
    if scorecard is None or scorecard.rubric_slug == kit.rubric_slug:
        return ScorecardBasis(kit_rubric(kit), kit, kit.focus_dimension_ids)
    rubric = rubric_for(scorecard)
    rated = {r.dimension_id for r in scorecard.ratings}
    focus = tuple(d for d in rubric.dimension_ids if d in rated) or rubric.dimension_ids
    return ScorecardBasis(rubric, kit, focus)


def _history(invitation: Invitation, user: User | None = None) -> list[Scorecard]:
    query = (
        select(Scorecard)
        .where(Scorecard.invitation_id == invitation.id, Scorecard.purpose == ScorecardPurpose.HIRING)
        .order_by(Scorecard.id)
    )
    if user is not None:
        query = query.where(Scorecard.interviewer_id == user.id)
    return list(db.session.scalars(query))


def own_scorecard(invitation: Invitation, user: User) -> Scorecard | None:
    """This interviewer's current scorecard for the invitation (the newest amendment, if any)."""
    history = _history(invitation, user)
    return history[-1] if history else None


def has_submitted(invitation: Invitation, user: User) -> bool:
    """True once the interviewer has submitted a scorecard for the invitation."""
    own = own_scorecard(invitation, user)
    return own is not None and own.status == ScorecardStatus.SUBMITTED


def may_see_others(viewer: User, invitation: Invitation) -> bool:
    """Those who see every panel always; panel members only after submitting their own."""
    return can(viewer, Capability.SEE_EVERY_PANEL) or has_submitted(invitation, viewer)


def require_panel_member(user: User, invitation: Invitation) -> None:
    """Only panel members write scorecards.

    :raises AccessDenied: for anyone else.
    """
    if not panels.is_on_panel(user, invitation):
        raise AccessDenied("Only interviewers on this candidate's panel can fill a scorecard.")


def save_scorecard(
    invitation: Invitation, user: User, result: ScorecardResult, *, autosave: bool = False
) -> Scorecard | ScorecardDraft:
    """Save a draft (kept apart, private, replaced on each save), or submit (which locks the scorecard
    and deletes the draft). An autosave is a draft saved by the page every few seconds: it is not
    audited, since the log would otherwise fill with keystrokes.

    :raises AccessDenied: for someone not on the panel.
    :raises ScorecardLocked: when this interviewer's scorecard is already submitted.
    """
    require_panel_member(user, invitation)
    scorecard = own_scorecard(invitation, user)
    if scorecard is not None and scorecard.status == ScorecardStatus.SUBMITTED:
        raise ScorecardLocked("You have already submitted this scorecard. To change it, amend it and give a reason.")
    if not result.is_final:
        draft = scorecard_drafts.store_draft(invitation, user, result)
        if not autosave:
            record_event(user, "scorecard.draft_saved", "scorecard_draft", draft.id, invitation_id=invitation.id)
        db.session.commit()
        return draft
    if scorecard is None:
        scorecard = Scorecard(invitation_id=invitation.id, interviewer_id=user.id, purpose=ScorecardPurpose.HIRING)
        db.session.add(scorecard)
    _fill(scorecard, result)
    scorecard_drafts.discard_draft(invitation, user)
    db.session.flush()
    record_event(user, "scorecard.submitted", "scorecard", scorecard.id, invitation_id=invitation.id)
    db.session.commit()
    return scorecard


def resume_point(invitation: Invitation, user: User) -> tuple[ScorecardResult | None, datetime | None]:
    """What this interviewer's scorecard form starts from, and when that draft was saved: their draft,
    else an unsubmitted scorecard row from before drafts were kept apart, else nothing."""
    draft = scorecard_drafts.find_draft(invitation, user)
    if draft is not None:
        return scorecard_drafts.draft_result(draft), draft.saved_at
    own = own_scorecard(invitation, user)
    if own is not None and own.status != ScorecardStatus.SUBMITTED:
        return as_result(own), own.created_at
    return None, None


def amend_scorecard(invitation: Invitation, user: User, result: ScorecardResult, reason: str) -> Scorecard:
    """Record a change to a submitted scorecard as a new row beside the original.

    :raises InvalidInput: without a reason, or when the amendment is not a complete scorecard.
    :raises ScorecardLocked: when there is no submitted scorecard to amend.
    """
    current = own_scorecard(invitation, user)
    if current is None or current.status != ScorecardStatus.SUBMITTED:
        raise ScorecardLocked("Only a submitted scorecard can be amended; finish and submit it first.")
    if not reason.strip():
        raise InvalidInput("Say why you are amending the scorecard.")
    if not result.is_final:
        raise InvalidInput("An amendment must be a complete scorecard; use Submit.")
    amendment = Scorecard(
        invitation_id=invitation.id,
        interviewer_id=user.id,
        purpose=ScorecardPurpose.HIRING,
        amends_id=current.id,
        amendment_reason=reason.strip(),
    )
    db.session.add(amendment)
    _fill(amendment, result)
    db.session.flush()
    record_event(user, "scorecard.amended", "scorecard", amendment.id, amends=current.id)
    db.session.commit()
    return amendment


def _fill(scorecard: Scorecard, result: ScorecardResult) -> None:
    scorecard.rubric_slug = result.rubric_slug
    scorecard.rubric_version = result.rubric_hash
    scorecard.recommendation = result.recommendation
    scorecard.takeaways = result.takeaways
    scorecard.red_flags = list(result.red_flags)
    scorecard.ratings.clear()
    db.session.flush()
    for dimension_id, level in result.ratings.items():
        scorecard.ratings.append(
            Rating(
                dimension_id=dimension_id,
                level=level,
                evidence=result.evidence.get(dimension_id, ""),
            )
        )
    if result.is_final:
        scorecard.status = ScorecardStatus.SUBMITTED
        scorecard.submitted_at = utcnow()


def as_result(scorecard: Scorecard) -> ScorecardResult:
    """A stored scorecard as form data (to resume a draft or start an amendment)."""
    return ScorecardResult(
        rubric_slug=scorecard.rubric_slug,
        rubric_hash=scorecard.rubric_version,
        ratings={r.dimension_id: r.level for r in scorecard.ratings},
        evidence={r.dimension_id: r.evidence for r in scorecard.ratings if r.evidence},
        red_flags=tuple(scorecard.red_flags or ()),
        takeaways=scorecard.takeaways,
        recommendation=scorecard.recommendation,
        is_final=scorecard.status == ScorecardStatus.SUBMITTED,
    )


def submitted_scorecards(invitation: Invitation, viewer: User) -> list[Scorecard]:
    """Each interviewer's current submitted scorecard, if the viewer may see them.

    :raises AccessDenied: for an interviewer who has not submitted their own yet.
    """
    if not may_see_others(viewer, invitation):
        raise AccessDenied(
            "Submit your own scorecard first: other interviewers' scorecards stay hidden until "
            "you have, so that your ratings are your own."
        )
    latest: dict[int, Scorecard] = {}
    for scorecard in _history(invitation):
        if scorecard.status == ScorecardStatus.SUBMITTED:
            latest[scorecard.interviewer_id] = scorecard
    return sorted(latest.values(), key=lambda s: s.interviewer.display_name)


@dataclass(frozen=True)
class DimensionSummary:
    """One dimension across the panel: each interviewer's level, the mean, and disagreement."""

    dimension_id: str
    name: str
    levels: dict[int, int | None]  # interviewer id -> level (None: not assessed)
    mean: float | None
    spread: int | None
    disagreement: bool


@dataclass(frozen=True)
class Debrief:
    """Everything the debrief page shows, computed mechanically before any discussion."""

    invitation: Invitation
    rubric: Rubric
    scorecards: list[Scorecard]
    dimensions: list[DimensionSummary]
    recommendations: dict[str, int]
    red_flags: dict[str, list[str]]
    auto_grade: GradeReport | None
    viewer_is_admin_before_own: bool
    pending: list[User] = field(default_factory=list)

    def recommendation_label(self, recommendation: str | None) -> str:
        """How the rubric names a recommendation; a scorecard without one records no decision."""
        key = recommendation or self.rubric.no_decision.id
        try:
            return self.rubric.recommendation(key).label
        except KeyError:
            return key


def debrief(invitation: Invitation, viewer: User) -> Debrief:
    """The mechanical combination of the panel's submitted scorecards and the auto-grade.

    :raises AccessDenied: for an interviewer who has not submitted their own yet.
    """
    scorecards = submitted_scorecards(invitation, viewer)
    rubric = rubric_for(scorecards[0]) if scorecards else kit_rubric(kit_for(invitation))
    by_dimension: dict[str, dict[int, int | None]] = defaultdict(dict)
    for scorecard in scorecards:
        for rating in scorecard.ratings:
            by_dimension[rating.dimension_id][scorecard.interviewer_id] = rating.level
    dimensions = []
    for dimension in rubric.dimensions:
        levels = by_dimension.get(dimension.id)
        if not levels:
            continue
        rated = [v for v in levels.values() if v is not None]
        spread = max(rated) - min(rated) if rated else None
        dimensions.append(
            DimensionSummary(
                dimension_id=dimension.id,
                name=dimension.name,
                levels=levels,
                mean=round(mean(rated), 2) if rated else None,
                spread=spread,
                disagreement=spread is not None and spread >= DISAGREEMENT_LEVELS,
            )
        )
    counts = Counter(s.recommendation or rubric.no_decision.id for s in scorecards)
    recommendations = {key: counts.get(key, 0) for key in rubric.recommendation_ids}
    flags: dict[str, list[str]] = defaultdict(list)
    labels = {f.id: f.label for f in rubric.red_flags}
    for scorecard in scorecards:
        for flag in scorecard.red_flags or ():
            flags[labels.get(flag, flag)].append(scorecard.interviewer.display_name)
    submitted_ids = {s.interviewer_id for s in scorecards}
    pending = [m.interviewer for m in invitation.panel if m.interviewer_id not in submitted_ids]
    return Debrief(
        invitation=invitation,
        rubric=rubric,
        scorecards=scorecards,
        dimensions=dimensions,
        recommendations=recommendations,
        red_flags=dict(flags),
        auto_grade=latest_auto_grade(invitation),
        viewer_is_admin_before_own=can(viewer, Capability.SEE_EVERY_PANEL) and not has_submitted(invitation, viewer),
        pending=pending,
    )


def latest_auto_grade(invitation: Invitation) -> GradeReport | None:
    """The newest finished grading of the invitation's newest submission."""
    if not invitation.submissions:
        return None
    runs = [r for r in invitation.submissions[-1].grade_runs if r.status == GradeStatus.DONE and r.results]
    return GradeReport.from_dict(runs[-1].results) if runs else None


EXPORT_COLUMNS = (
    "candidate",
    "interviewer",
    "dimension",
    "dimension_name",
    "rating",
    "evidence",
    "recommendation",
    "takeaways",
    "red_flags",
    "submitted_at",
    "rubric_version",
)


def export_rows(invitation: Invitation, viewer: User) -> list[dict[str, Any]]:
    """The panel's submitted scorecards in long format, one row per scorecard × dimension: each rating
    with its evidence, and on every row of a scorecard its recommendation, take-aways and red flags
    (by the rubric's labels, "; " between them), so a reader of the file sees why, not numbers only.

    :raises AccessDenied: for an interviewer who has not submitted their own yet.
    """
    rows = []
    for scorecard in submitted_scorecards(invitation, viewer):
        rubric = rubric_for(scorecard)
        names = {d.id: d.name for d in rubric.dimensions}
        flag_labels = {f.id: f.label for f in rubric.red_flags}
        recommendation = scorecard.recommendation or rubric.no_decision.id
        red_flags = "; ".join(flag_labels.get(f, f) for f in scorecard.red_flags or ())
        for rating in scorecard.ratings:
            rows.append(
                {
                    "candidate": invitation.candidate.name,
                    "interviewer": scorecard.interviewer.email,
                    "dimension": rating.dimension_id,
                    "dimension_name": names.get(rating.dimension_id, rating.dimension_id),
                    "rating": rating.level,
                    "evidence": rating.evidence,
                    "recommendation": recommendation,
                    "takeaways": scorecard.takeaways,
                    "red_flags": red_flags,
                    "submitted_at": scorecard.submitted_at.isoformat() if scorecard.submitted_at else None,
                    "rubric_version": scorecard.rubric_version,
                }
            )
    return rows
