"""Hiring decisions: what the team decided after the debrief, by whom and when."""

from __future__ import annotations

from sqlalchemy import select

from assessments.errors import AccessDenied, InvalidInput
from assessments.extensions import db
from assessments.models import DecisionOutcome, HiringDecision, Invitation, User
from assessments.permissions import Capability, can
from assessments.services.audit import record_event


def record_decision(invitation: Invitation, outcome: str, note: str, actor: User) -> HiringDecision:
    """Record the hiring decision for an invitation; a later one replaces it, both are kept.

    :raises AccessDenied: for someone who does not run hiring.
    :raises InvalidInput: for an outcome other than advance, reject or hold.
    """
    if not can(actor, Capability.INVITE):
        raise AccessDenied("Only the hiring managers record the decision.")
    if outcome not in set(DecisionOutcome):
        raise InvalidInput("Choose advance, reject or hold.")
    decision = HiringDecision(invitation_id=invitation.id, outcome=outcome, note=note.strip(), decided_by_id=actor.id)
    db.session.add(decision)
    db.session.flush()
    record_event(actor, "decision.recorded", "invitation", invitation.id, outcome=outcome)
    db.session.commit()
    return decision


def current_decision(invitation: Invitation) -> HiringDecision | None:
    """The newest decision recorded for an invitation, or None."""
    return db.session.scalar(
        select(HiringDecision)
        .where(HiringDecision.invitation_id == invitation.id)
        .order_by(HiringDecision.decided_at.desc(), HiringDecision.id.desc())
        .limit(1)
    )
