"""Scorecard drafts: what an interviewer has filled in so far, private to them until they submit.

The policy (who may save, locking, the transaction) is `scorecards.save_scorecard`'s; these are the
draft table's reads and writes, which never commit.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from assessments.extensions import db
from assessments.models import Invitation, ScorecardDraft, User
from assessments.models.types import utcnow
from assessments.scorecard import ScorecardResult


def find_draft(invitation: Invitation, user: User) -> ScorecardDraft | None:
    """This interviewer's draft for the invitation, if they have one (nobody else's, ever)."""
    return db.session.scalar(
        select(ScorecardDraft).where(
            ScorecardDraft.invitation_id == invitation.id, ScorecardDraft.interviewer_id == user.id
        )
    )


def store_draft(invitation: Invitation, user: User, result: ScorecardResult) -> ScorecardDraft:
    """Replace this interviewer's draft with `result` (not committed)."""
    draft = find_draft(invitation, user)
    if draft is None:
        draft = ScorecardDraft(invitation_id=invitation.id, interviewer_id=user.id)
        db.session.add(draft)
    draft.rubric_slug = result.rubric_slug
    draft.rubric_version = result.rubric_hash
    # JSON object keys are strings; ratings keep None for "not assessed".
    draft.fields = {
        "ratings": dict(result.ratings),
        "evidence": dict(result.evidence),
        "red_flags": list(result.red_flags),
        "takeaways": result.takeaways,
        "recommendation": result.recommendation,
    }
    draft.saved_at = utcnow()
    db.session.flush()
    return draft


def draft_result(draft: ScorecardDraft) -> ScorecardResult:
    """A stored draft as form data, to resume it."""
    fields = draft.fields or {}
    return ScorecardResult(
        rubric_slug=draft.rubric_slug,
        rubric_hash=draft.rubric_version,
        ratings={str(k): (None if v is None else int(v)) for k, v in (fields.get("ratings") or {}).items()},
        evidence={str(k): str(v) for k, v in (fields.get("evidence") or {}).items()},
        red_flags=tuple(str(f) for f in fields.get("red_flags") or ()),
        takeaways=str(fields.get("takeaways") or ""),
        recommendation=fields.get("recommendation"),
        is_final=False,
    )


def discard_draft(invitation: Invitation, user: User) -> None:
    """Delete this interviewer's draft (not committed): their submitted scorecard replaces it."""
    db.session.execute(
        delete(ScorecardDraft).where(
            ScorecardDraft.invitation_id == invitation.id, ScorecardDraft.interviewer_id == user.id
        )
    )
