"""Domain errors: things a person can cause, each with a message written for that person."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a view turns into a 4xx page or a form error."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """A looked-up object does not exist (or the caller may not know it exists)."""

    status_code = 404


class AccessDenied(DomainError):
    """The signed-in person may not do this."""

    status_code = 403


class InvalidCredentials(DomainError):
    """Wrong email or password."""

    status_code = 401


class LoginThrottled(DomainError):
    """Too many failed logins for this account or address."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvitationUnavailable(DomainError):
    """An invitation link that is unknown, revoked or expired."""

    status_code = 404


class InvitationWithdrawn(InvitationUnavailable):
    """A revoked invitation link: it says so, and nothing about whose it was."""

    status_code = 410


class CaseUnavailable(DomainError):
    """A case whose files this server cannot serve right now; the operator's detail goes to the log."""

    status_code = 503


class GradingUnavailable(DomainError):
    """No notebook can be graded here (no sandbox): the message says why and what to do."""

    status_code = 503


class InvalidInput(DomainError):
    """Input that fails a domain rule (duplicate email, deadline in the past, ...)."""

    status_code = 400


class UploadRefused(DomainError):
    """An uploaded notebook that cannot be accepted for grading (bad file, wrong case, closed link)."""

    status_code = 400


class CandidateExists(DomainError):
    """An invitation for an email that already belongs to a candidate: ask before adding a case."""

    status_code = 409

    def __init__(self, message: str, candidate_id: int) -> None:
        super().__init__(message)
        self.candidate_id = candidate_id
