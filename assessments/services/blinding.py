"""Blind first read: an interviewer sees a candidate code, not the name, until their own scorecard is in.

An invitation made with `blind_first_read` hides the candidate's name and email from a panel
interviewer's submission page, scorecard and dashboard until that interviewer has submitted their
own scorecard; people who see every panel (admins) always see the name.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app

from assessments.models import Invitation, User
from assessments.permissions import Capability, can
from assessments.services import scorecards

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I/L to misread


def candidate_code(invitation: Invitation) -> str:
    """A stable code for the candidate of this invitation that says nothing about who they are."""
    # Keyed by the site's secret: a code cannot be turned back into an invitation id by anyone else.
    digest = hmac.new(
        current_app.config["SECRET_KEY"].encode(), f"invitation:{invitation.id}".encode(), hashlib.sha256
    ).digest()
    return "Candidate " + "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:5])


def sees_identity(viewer: User, invitation: Invitation, submitted: bool | None = None) -> bool:
    """Whether this person may see the candidate's name and email on this invitation now.

    `submitted` is whether the viewer's own scorecard is in, when the caller already read it (a
    dashboard lists many invitations with their scorecards: no query per row); None reads it here.
    """
    if not invitation.blind_first_read or can(viewer, Capability.SEE_EVERY_PANEL):
        return True
    return scorecards.has_submitted(invitation, viewer) if submitted is None else submitted


def candidate_name(viewer: User, invitation: Invitation, submitted: bool | None = None) -> str:
    """The candidate's name, or their code while this viewer reads blind (`submitted` as for `sees_identity`)."""
    if sees_identity(viewer, invitation, submitted):
        return invitation.candidate.name
    return candidate_code(invitation)


def candidate_email(viewer: User, invitation: Invitation) -> str | None:
    """The candidate's email, or None while this viewer reads blind."""
    return invitation.candidate.email if sees_identity(viewer, invitation) else None
