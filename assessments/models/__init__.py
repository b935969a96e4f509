"""Tables, one module per domain noun; importing this package registers them all."""

from assessments.models.audit import AuditEvent, LoginThrottle
from assessments.models.candidate import Candidate
from assessments.models.case import Case
from assessments.models.decision import DecisionOutcome, HiringDecision
from assessments.models.fairness import SelfIdentification, SelfIdSource
from assessments.models.grade_run import GradeRun, GradeStatus, RunSubject
from assessments.models.invitation import Invitation, InvitationStatus, LinkState, PanelMember
from assessments.models.outbox import MailStatus, OutboxMail
from assessments.models.outcomes import Outcome
from assessments.models.password_link import PasswordLink, PasswordLinkPurpose
from assessments.models.practice import (
    AttemptRoute,
    AttemptStatus,
    MentorPairing,
    Practice,
    PracticeAttempt,
    UnlockReason,
)
from assessments.models.scorecard import Rating, Scorecard, ScorecardPurpose, ScorecardStatus
from assessments.models.scorecard_draft import ScorecardDraft
from assessments.models.submission import Submission
from assessments.models.user import Role, User

__all__ = [
    "AttemptRoute",
    "AttemptStatus",
    "AuditEvent",
    "Candidate",
    "Case",
    "DecisionOutcome",
    "GradeRun",
    "GradeStatus",
    "HiringDecision",
    "Invitation",
    "InvitationStatus",
    "LinkState",
    "LoginThrottle",
    "MailStatus",
    "MentorPairing",
    "OutboxMail",
    "Outcome",
    "PanelMember",
    "PasswordLink",
    "PasswordLinkPurpose",
    "Practice",
    "PracticeAttempt",
    "Rating",
    "Role",
    "RunSubject",
    "Scorecard",
    "ScorecardDraft",
    "ScorecardPurpose",
    "ScorecardStatus",
    "SelfIdSource",
    "SelfIdentification",
    "Submission",
    "UnlockReason",
    "User",
]
