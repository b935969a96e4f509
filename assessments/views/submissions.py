"""Staff pages for a submission: the notebook rendered safely beside its auto-grade."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from assessments.models import Submission
from assessments.permissions import Capability, requires
from assessments.services import grading, guides, panels
from assessments.views.notebook_html import answer_cell_numbers, cell_number, render_notebook

bp = Blueprint("submissions", __name__, url_prefix="/submissions")


def _load(submission_id: int) -> Submission:
    submission = grading.get_submission(submission_id)
    panels.require_staff_access(current_user, submission.invitation)
    return submission


@bp.get("/<int:submission_id>")
@requires(Capability.SIT_ON_PANEL)
def detail(submission_id: int) -> str:
    """The rendered notebook, the check results, cell errors and timings, for one version."""
    submission = _load(submission_id)
    invitation = submission.invitation
    progress = grading.progress(submission)
    notebook = grading.submission_notebook(submission)
    checks = {c.part_id: c for c in progress.report.checks} if progress.report else {}
    return render_template(
        "submissions/detail.html",
        submission=submission,
        invitation=invitation,
        versions=invitation.submissions,
        timings={v.id: grading.version_timing(v) for v in invitation.submissions},
        runs=submission.grade_runs,
        progress=progress,
        answer_cells=answer_cell_numbers(notebook),
        cell_number=cell_number,
        notebook_html=render_notebook(notebook, checks),
        guide=guides.invitation_guide(invitation, current_user),
        regrade_form=FlaskForm(),
    )


@bp.get("/<int:submission_id>/status")
@requires(Capability.SIT_ON_PANEL)
def status(submission_id: int) -> Response:
    """Grading state of the newest run, for live updates."""
    submission = _load(submission_id)
    return jsonify({"version": submission.version, "state": grading.progress(submission).state})


@bp.post("/<int:submission_id>/regrade")
@requires(Capability.REGRADE)
def regrade(submission_id: int) -> Response:
    """Grade again under the current grader, keeping the earlier runs."""
    submission = _load(submission_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    if grading.request_grading(submission, current_user) is None:
        flash("A grading run for this version is already waiting or running.", "info")
    else:
        flash("Queued a new grading run; earlier runs are kept below.", "success")
    return redirect(url_for("submissions.detail", submission_id=submission.id))
