"""What each role may do: capabilities granted to roles, in this one place.

Views declare the capability a page needs with `requires`, services ask `can(user, capability)`,
and templates call `can(Capability.X)` for the signed-in person. Nothing else compares roles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import AnonymousUserMixin, current_user

from assessments.extensions import login_manager
from assessments.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])


class Capability(StrEnum):
    """One thing an account may do."""

    # Issue, list, extend and revoke candidates' invitations.
    INVITE = "invite"
    # Be put on an interview panel: fill a scorecard, see that panel's submissions and debrief.
    SIT_ON_PANEL = "sit-on-panel"
    # See every invitation's submissions, debrief and exports without sitting on its panel.
    SEE_EVERY_PANEL = "see-every-panel"
    # Queue a submission for grading again.
    REGRADE = "regrade"
    # Read the calibration report, the session agenda and their exports.
    CALIBRATE = "calibrate"
    # Pair mentors with mentees and end pairings.
    PAIR_MENTORS = "pair-mentors"
    # Add accounts, change their roles, deactivate them, and read the outbox of mails sent to people.
    MANAGE_PEOPLE = "manage-people"
    # Follow paired mentees' practice and review their attempts.
    MENTOR = "mentor"
    # Practise cases, unlock solutions and follow one's own progress.
    PRACTISE = "practise"
    # Read the fairness reports (the only way self-identification is read) and import self-identification.
    AUDIT_FAIRNESS = "audit-fairness"
    # Record candidates' outcomes (hired, performance ratings: HR data) and read the validity report.
    RECORD_OUTCOMES = "record-outcomes"


# Admins are the hiring managers: they run hiring and mentoring but practise nothing themselves.
ROLE_CAPABILITIES: Mapping[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(
        {
            Capability.INVITE,
            Capability.SIT_ON_PANEL,
            Capability.SEE_EVERY_PANEL,
            Capability.REGRADE,
            Capability.CALIBRATE,
            Capability.PAIR_MENTORS,
            Capability.MANAGE_PEOPLE,
            Capability.AUDIT_FAIRNESS,
            Capability.RECORD_OUTCOMES,
        }
    ),
    Role.INTERVIEWER: frozenset({Capability.SIT_ON_PANEL}),
    Role.MENTOR: frozenset({Capability.MENTOR}),
    Role.MENTEE: frozenset({Capability.PRACTISE}),
}


def capabilities_of(role: str | None) -> frozenset[Capability]:
    """The capabilities a role grants (none for an unknown role or no role)."""
    return ROLE_CAPABILITIES.get(role or "", frozenset())


def can(user: User | AnonymousUserMixin, capability: Capability) -> bool:
    """True when the account's role grants the capability (never for anonymous visitors)."""
    return capability in capabilities_of(getattr(user, "role", None))


def roles_with(capability: Capability) -> tuple[Role, ...]:
    """The roles granting a capability, in the order `Role` declares them (for queries)."""
    return tuple(role for role in Role if capability in ROLE_CAPABILITIES.get(role, ()))


def requires(capability: Capability) -> Callable[[F], F]:
    """Allow a view only to signed-in accounts that have the capability (403 otherwise)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not can(current_user, capability):
                abort(403)
            return view(*args, **kwargs)

        # Read by tests/test_permissions.py: every route states what it needs.
        setattr(wrapped, "required_capability", capability)  # noqa: B010
        return cast(F, wrapped)

    return decorator


def current_user_can(capability: Capability) -> bool:
    """`can` asked of the signed-in person: templates' `can(Capability.X)`."""
    # A misspelt `Capability.X` in a template arrives as Jinja's Undefined: fail loudly, not as "no".
    if not isinstance(capability, Capability):
        raise TypeError(f"can() takes a Capability, not {capability!r}")
    return can(current_user, capability)
