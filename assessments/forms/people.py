"""Forms for managing staff accounts: inviting a person, changing a role, account actions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length


class PersonInviteForm(FlaskForm):
    """A new account, whose owner sets their own password through a mailed link."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", validators=[DataRequired()])  # choices: the view's roles
    submit = SubmitField("Invite and send the link")


class RoleForm(FlaskForm):
    """Another role for an account."""

    role = SelectField("Role", validators=[DataRequired()])
    submit = SubmitField("Change role")


class AccountActionForm(FlaskForm):
    """A button acting on an account or a mail (the form carries only the CSRF token)."""

    submit = SubmitField("Confirm")
