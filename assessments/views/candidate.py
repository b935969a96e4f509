"""The candidate's pages, reached by the secret link in their invitation."""

from __future__ import annotations

from flask import Blueprint, render_template

from assessments.models.types import utcnow
from assessments.services import catalog, invitations
from assessments.views.rendering import render_markdown

bp = Blueprint("candidate", __name__, url_prefix="/i")


@bp.get("/<token>")
def invitation(token: str) -> str:
    """The case brief, the deadline in the candidate's own zone, and the time left."""
    invitation = invitations.open_invitation(token)
    spec = catalog.spec_for(invitation.case)
    return render_template(
        "candidate/invitation.html",
        invitation=invitation,
        spec=spec,
        brief=render_markdown(spec.brief_markdown),
        now=utcnow(),
    )
