"""The home page: each role's dashboard."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from assessments.models.types import utcnow
from assessments.permissions import Capability, can
from assessments.services import panels, pipeline

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
    """What this person has to do first (scorecards to write, candidates ready for a decision), then
    the rest: recent invitations, panels still to come, past panels folded away."""
    panel_work = None
    if can(current_user, Capability.SIT_ON_PANEL):
        panel_work = panels.interviewer_dashboard(current_user)
    hiring = None
    if can(current_user, Capability.INVITE):
        hiring = pipeline.hiring_summary()
    return render_template("dashboard.html", panel_work=panel_work, hiring=hiring, now=utcnow())
