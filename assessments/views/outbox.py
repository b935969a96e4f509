"""The admin outbox: every mail with its status, attempts and errors, and a retry button."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from assessments.errors import InvalidInput
from assessments.forms.people import AccountActionForm
from assessments.models import MailStatus
from assessments.permissions import Capability, requires
from assessments.services import outbox

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")

RETRYABLE = (MailStatus.FAILED, MailStatus.QUEUED)


@bp.get("/")
@requires(Capability.MANAGE_PEOPLE)
def mail_list() -> str:
    """Every mail, newest first, optionally of one status."""
    status = request.args.get("status")
    if status not in set(MailStatus):
        status = None
    return render_template(
        "admin/outbox.html",
        pagination=outbox.list_mails(page=request.args.get("page", 1, type=int), status=status),
        status=status,
        counts=outbox.count_by_status(),
        mail_configured=outbox.mail_configured(),
        max_attempts=current_app.config["MAIL_MAX_ATTEMPTS"],
        retry_form=AccountActionForm(),
        retryable=RETRYABLE,
        MailStatus=MailStatus,
    )


@bp.get("/<int:mail_id>")
@requires(Capability.MANAGE_PEOPLE)
def mail_detail(mail_id: int) -> str:
    """One mail: its attempts and its parts (without any link's secret)."""
    mail = outbox.get_mail(mail_id)
    text, html = outbox.shown_parts(mail)
    return render_template(
        "admin/outbox_mail.html",
        mail=mail,
        text=text,
        html=html,
        retry_form=AccountActionForm(),
        retryable=RETRYABLE,
        MailStatus=MailStatus,
    )


@bp.post("/<int:mail_id>/retry")
@requires(Capability.MANAGE_PEOPLE)
def mail_retry(mail_id: int) -> Response:
    """Send a failed or waiting mail again now."""
    mail = outbox.get_mail(mail_id)
    if AccountActionForm().validate_on_submit():
        try:
            outbox.retry_mail(mail, current_user)
        except InvalidInput as error:
            flash(error.message, "error")
        else:
            flash(f"The mail to {mail.to_address} is queued again.", "success")
    return redirect(url_for("outbox.mail_detail", mail_id=mail_id))
