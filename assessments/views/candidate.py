"""The candidate's pages, reached by the secret link in their invitation."""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, url_for

from assessments.errors import InvalidInput, UploadRefused
from assessments.forms.self_id import SelfIdForm
from assessments.forms.submission import UploadForm
from assessments.models import Invitation
from assessments.models.types import utcnow
from assessments.services import catalog, fairness, grading, invitations, receipts
from assessments.views.rendering import render_brief

bp = Blueprint("candidate", __name__, url_prefix="/i")


def _page(invitation: Invitation, form: UploadForm, status: int = 200) -> tuple[str, int]:
    spec = catalog.spec_for(invitation.case)
    uploads = [(s, receipts.candidate_outcome(grading.progress(s))) for s in reversed(invitation.submissions)]
    return (
        render_template(
            "candidate/invitation.html",
            invitation=invitation,
            spec=spec,
            brief=render_brief(spec.brief_markdown),
            now=utcnow(),
            form=form,
            receipts=uploads,
            uploads_open=invitations.uploads_open(invitation),
            clock_ends_at=invitations.clock_ends_at(invitation),
        ),
        status,
    )


@bp.get("/<token>")
def invitation(token: str) -> tuple[str, int]:
    """The case brief, the deadline in the candidate's own zone, the download and the upload."""
    return _page(invitations.open_invitation(token), UploadForm())


@bp.get("/<token>/bundle")
def bundle(token: str) -> Response:
    """The candidate's own bundle: the notebook, their data and a README (a timed case's clock starts here)."""
    name, data = invitations.download_bundle(invitations.open_invitation(token))
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.post("/<token>")
def upload(token: str) -> Response | tuple[str, int]:
    """Accept a notebook; a refused one leaves earlier versions as they were."""
    invitation = invitations.open_invitation(token)
    form = UploadForm()
    if not form.validate_on_submit():
        return _page(invitation, form, 400)
    file = form.notebook.data
    try:
        submission = grading.accept_submission(invitation, file.filename or "", file.read())
    except UploadRefused as error:
        form.notebook.errors = [error.message]
        return _page(invitation, form, 400)
    flash(
        f"Received version {submission.version} of your notebook "
        f"({submission.size:,} bytes, fingerprint {submission.sha256[:12]}).",
        "success",
    )
    return redirect(url_for("candidate.invitation", token=token))


@bp.get("/<token>/status")
def status(token: str) -> Response:
    """Grading progress of each version, for the page's live status (whether it ran; no scores)."""
    invitation = invitations.open_invitation(token)
    outcomes = [(v, receipts.candidate_outcome(p)) for v, p in grading.progress_by_version(invitation)]
    return jsonify([{"version": v, "state": o.state, "text": o.text} for v, o in outcomes])


def _self_id_page(invitation: Invitation, form: SelfIdForm, status: int = 200) -> tuple[str, int]:
    return render_template("candidate/self_identification.html", invitation=invitation, form=form), status


def _self_id_form() -> SelfIdForm:
    options = fairness.categories()
    form = SelfIdForm()
    for field in (form.sex, form.race_ethnicity):
        field.choices = [(v, v) for v in options.allowed(field.name)]
    return form


@bp.get("/<token>/self-identification")
def self_identification(token: str) -> tuple[str, int]:
    """The voluntary self-identification questions, apart from the assessment (the answers are never graded)."""
    invitation = invitations.open_invitation(token)
    form = _self_id_form()
    own = fairness.own_self_identification(invitation)
    if own is not None:
        form.sex.data, form.race_ethnicity.data = own.sex, own.race_ethnicity
    return _self_id_page(invitation, form)


@bp.post("/<token>/self-identification")
def save_self_identification(token: str) -> Response | tuple[str, int]:
    """Store the voluntary answers (or none), replacing earlier ones."""
    invitation = invitations.open_invitation(token)
    form = _self_id_form()
    if not form.validate_on_submit():
        return _self_id_page(invitation, form, 400)
    try:
        fairness.record_self_identification(invitation, form.sex.data, form.race_ethnicity.data)
    except InvalidInput as error:
        form.sex.errors = [error.message]
        return _self_id_page(invitation, form, 400)
    flash("Thank you: your answers are saved. They are kept apart from your assessment.", "success")
    return redirect(url_for("candidate.self_identification", token=token))
