"""Forms for inviting a candidate, extending and revoking an invitation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from assessments.forms.fields import MultiCheckboxField, deadline_field, timezone_field


class InvitationForm(FlaskForm):
    """A new candidate and their invitation to a case."""

    name = StringField("Candidate's name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Candidate's email", validators=[DataRequired(), Email(), Length(max=254)])
    case = SelectField("Case", validators=[DataRequired()])
    due_at = deadline_field("Deadline")
    timezone = timezone_field()
    panel = MultiCheckboxField("Interview panel", coerce=int)
    allow_late = BooleanField("Accept late submissions (marked late)")
    submit = SubmitField("Create invitation")


class ExtendForm(FlaskForm):
    """A later deadline for an invitation."""

    due_at = deadline_field("New deadline")
    timezone = timezone_field()
    submit = SubmitField("Extend deadline")


class RevokeForm(FlaskForm):
    """Confirms revoking an invitation (the form carries only the CSRF token)."""

    submit = SubmitField("Revoke link")
