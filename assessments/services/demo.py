"""Demo data for `make run`: accounts, candidates and invitations, created idempotently."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from assessments.extensions import db
from assessments.models import Candidate, Invitation, Role, User
from assessments.models.types import utcnow
from assessments.scorecard import ScorecardResult
from assessments.services import accounts, catalog, invitations, scorecards
from assessments.services.demo_fairness import seed_fairness_pool
from assessments.services.demo_mentoring import seed_mentoring
from assessments.services.demo_outcomes import seed_outcomes
from assessments.services.demo_panels import seed_history

DEMO_PASSWORD = "demo-password"

DEMO_USERS = [
    ("admin@example.com", "Ada Admin", Role.ADMIN),
    ("iris@example.com", "Iris Interviewer", Role.INTERVIEWER),
    ("ivan@example.com", "Ivan Interviewer", Role.INTERVIEWER),
    ("imani@example.com", "Imani Interviewer", Role.INTERVIEWER),
    ("igor@example.com", "Igor Interviewer", Role.INTERVIEWER),
    ("ines@example.com", "Ines Interviewer", Role.INTERVIEWER),
    ("idris@example.com", "Idris Interviewer", Role.INTERVIEWER),
    ("ilse@example.com", "Ilse Interviewer", Role.INTERVIEWER),
    ("ike@example.com", "Ike Interviewer", Role.INTERVIEWER),
    ("mira@example.com", "Mira Mentor", Role.MENTOR),
    ("manu@example.com", "Manu Mentee", Role.MENTEE),
]

DEMO_CANDIDATES = [
    ("Casey Candidate", "casey@example.org", "ab-readout", 0),
    ("Chen Candidate", "chen@example.org", "error-analysis", 1),
    ("Cleo Candidate", "cleo@example.org", "product-design", 2),
    ("Cyrus Candidate", "cyrus@example.org", "ab-readout", 3),
    ("Cora Candidate", "cora@example.org", "ml-incident", 4),
]


@dataclass(frozen=True)
class DemoLink:
    """A demo candidate's invitation link."""

    candidate: str
    case: str
    path: str


def demo_token(email: str) -> str:
    """A stable token per demo candidate, so re-running the seed prints the same links."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"demo-invitation:{email}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def seed_demo() -> list[DemoLink]:
    """Create whatever of the demo is missing; return every demo candidate's link."""
    users = {}
    for email, name, role in DEMO_USERS:
        users[email] = accounts.find_user_by_email(email) or accounts.create_user(email, name, role, DEMO_PASSWORD)
    admin = users["admin@example.com"]
    interviewers = [u for u in users.values() if u.role == Role.INTERVIEWER]
    live_panel = interviewers[:4]
    available = catalog.current_cases(hiring=True)
    cases = {c.slug: c for c in available}
    links = []
    for name, email, slug, offset in DEMO_CANDIDATES:
        if not available:
            break
        # Prefer the intended case; with other case folders, spread over what is there.
        case = cases.get(slug) or available[offset % len(available)]
        token = demo_token(email)
        invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == invitations.hash_token(token)))
        if invitation is None:
            terms = dict(
                due_at=utcnow() + timedelta(days=5 + offset),
                panel=[live_panel[(offset + i) % len(live_panel)] for i in range(3)],
                actor=admin,
                seed=1000 + offset,
                token=token,
            )
            candidate = db.session.scalar(select(Candidate).where(Candidate.email == email))
            if candidate is None:
                invitation, _ = invitations.invite_candidate(name, email, case, **terms)
            else:
                invitation, _ = invitations.issue_invitation(candidate, case, **terms)
        # Each scorecard is its own use case: a re-run adds the ones an interrupted run left out.
        _seed_live_scorecards(invitation, [m.interviewer for m in invitation.panel], offset)
        links.append(DemoLink(name, case.slug, f"/i/{token}"))
    seed_history(interviewers, admin, available)
    seed_outcomes(admin)
    seed_mentoring()
    seed_fairness_pool(admin, available)
    return links


# Per demo candidate (by offset): for each panel seat, None (not started), "draft" or a level
# pattern submitted on every focus dimension. Casey's first seat is left open for the tour.
_LIVE_SCORECARDS = {
    0: (None, 3, "draft"),
    1: (3, 2, 3),
    2: (None, None, None),
    3: (4, 2, None),
}


def _seed_live_scorecards(invitation: Invitation, panel: list[User], offset: int) -> None:
    basis = scorecards.scorecard_basis(invitation)
    rubric, focus = basis.rubric, basis.focus_dimension_ids
    low, high = rubric.level_values[0], rubric.level_values[-1]
    for seat, (member, plan) in enumerate(zip(panel, _LIVE_SCORECARDS.get(offset, ()), strict=False)):
        if plan is None or scorecards.own_scorecard(invitation, member) is not None:
            continue
        final = plan != "draft"
        level = plan if final else 3
        ratings = {d: max(low, min(high, level + (i % 2 if seat else 0))) for i, d in enumerate(focus)}
        result = ScorecardResult(
            rubric_slug=rubric.slug,
            rubric_hash=rubric.content_hash,
            ratings=ratings,
            evidence={d: f"Observed: {rubric.dimension(d).anchors[v][0]}" for d, v in ratings.items()},
            red_flags=("claims-without-evidence",) if level <= 2 else (),
            takeaways="Demo scorecard.",
            recommendation=("yes" if level >= 3 else "no") if final else None,
            is_final=final,
        )
        scorecards.save_scorecard(invitation, member, result)


def demo_users() -> list[User]:
    """The demo accounts that exist."""
    emails = [email for email, _, _ in DEMO_USERS]
    return list(db.session.scalars(select(User).where(User.email.in_(emails))))
