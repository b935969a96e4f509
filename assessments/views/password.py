"""Choosing a password through a mailed link, and asking for one ("Forgot password?")."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from assessments import rate_limits
from assessments.errors import InvalidInput, NotFound
from assessments.forms.password import ForgotPasswordForm, SetPasswordForm
from assessments.services import passwords
from assessments.services.accounts import MIN_PASSWORD_LENGTH

bp = Blueprint("password", __name__, url_prefix="/password")

# The same answer whether or not the email has an account.
SENT_IF_KNOWN = (
    "If an account uses that email, a link to choose a new password is on its way. "
    "It works once, for an hour. No mail? Check the address, or ask an administrator."
)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Response | tuple[str, int]:
    """Ask for a link to choose a new password."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # Past the address's limit nothing is sent, and the answer is the same (it reveals nothing).
        if rate_limits.password_reset_mail_allowed(form.email.data):
            passwords.request_password_reset(form.email.data)
        flash(SENT_IF_KNOWN, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/password_forgot.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/set/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Response | tuple[str, int]:
    """Choose a password with a one-time link; then sign in with it."""
    try:
        link = passwords.find_password_link(token)
    except NotFound as error:
        return render_template("auth/password_set.html", form=None, message=error.message), 404
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = passwords.set_password(token, form.password.data)
        except InvalidInput as error:
            form.password.errors.append(error.message)
        except NotFound as error:
            return render_template("auth/password_set.html", form=None, message=error.message), 404
        else:
            if current_user.is_authenticated:
                logout_user()
            flash(f"Your password is set. Sign in as {user.email} with it.", "success")
            return redirect(url_for("auth.login"))
    if form.is_submitted():
        status = 400
    return render_template("auth/password_set.html", form=form, link=link, min_length=MIN_PASSWORD_LENGTH), status
