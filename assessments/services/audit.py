"""Recording audit events (added to the caller's transaction, committed with it)."""

from __future__ import annotations

from typing import Any

from assessments.extensions import db
from assessments.models import AuditEvent, User


def record_event(
    actor: User | None, action: str, object_type: str, object_id: int | None, **details: Any
) -> AuditEvent:
    """Add an audit event for an action by a person (None: the system or a candidate link)."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
    db.session.add(event)
    return event
