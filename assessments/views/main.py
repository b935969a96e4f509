"""The home page: each role's dashboard."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from assessments.models.types import utcnow
from assessments.permissions import Capability, can
from assessments.services import invitations, scorecards

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> Response | str:
    """Send people to their dashboard, or to sign in."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("main.dashboard"))


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    """What this person has to do."""
    assignments = []
    if can(current_user, Capability.SIT_ON_PANEL):
        assignments = [
            (invitation, scorecards.own_scorecard(invitation, current_user))
            for invitation in invitations.invitations_for_interviewer(current_user)
        ]
    return render_template("dashboard.html", assignments=assignments, now=utcnow())
