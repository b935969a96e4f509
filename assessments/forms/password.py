"""Forms for setting a password through a mailed link and asking for one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

# The services check the minimum length (accounts.MIN_PASSWORD_LENGTH); the form only bounds it.
MAX_PASSWORD_LENGTH = 200


class ForgotPasswordForm(FlaskForm):
    """The email to send a reset link to."""

    email = EmailField(
        "Email", validators=[DataRequired(), Email(), Length(max=254)], render_kw={"autocomplete": "email"}
    )
    submit = SubmitField("Send me a link")


class SetPasswordForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Type it again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords are not the same.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Set password")
