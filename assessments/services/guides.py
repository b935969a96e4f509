"""Interviewer guides: what a seed's data planted, with its numbers, and what a strong written answer notices.

A case's generator may define `guide(seed, size)` (see docs/case-format.md); the lines name the
answers, so who reads them is decided here. Staff with access to an invitation read its guide beside
the written answers, interviewers before their own scorecard too: it is a marking aid, like the
interview kit, and tells them what this candidate's data held, never what other interviewers
thought. Candidates never read it. A mentee reads their own seed's guide once they have a graded
attempt (`practice_guide`, shown with the solution).
"""

from __future__ import annotations

from assessments.errors import CaseUnavailable
from assessments.models import Invitation, Practice, User
from assessments.models.practice import AttemptStatus
from assessments.services import catalog, invitations, panels
from assessments.services.practice import practice_spec


def invitation_guide(invitation: Invitation, viewer: User) -> tuple[str, ...]:
    """The guide for the invitation's data seed (empty when the case has no guide).

    A case version no longer on disk has no guide to give (`spec_for` logs what the operator must
    do); the staff page around it still shows the notebook and its grade.

    :raises AccessDenied: when the viewer may not see this invitation's staff pages.
    """
    panels.require_staff_access(viewer, invitation)
    try:
        spec = catalog.spec_for(invitation.case)
    except CaseUnavailable:
        return ()
    return spec.guide(invitations.data_seed(invitation))


def practice_guide(practice: Practice, seed: int) -> tuple[str, ...]:
    """The guide for a mentee's own seed, empty until one of their attempts has been graded.

    The caller passes the practice's data seed (the one its solution's key comes from).
    """
    if not any(attempt.status == AttemptStatus.DONE for attempt in practice.attempts):
        return ()
    return practice_spec(practice).guide(seed)
