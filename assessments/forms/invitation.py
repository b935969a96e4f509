"""Forms for inviting a candidate, extending and revoking an invitation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length

from assessments.forms.fields import MultiCheckboxField, deadline_field, timezone_field


class InvitationForm(FlaskForm):
    """A new candidate and their invitation to a case."""

    name = StringField("Candidate's name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Candidate's email", validators=[DataRequired(), Email(), Length(max=254)])
    case = SelectField("Case", validators=[DataRequired()])
    due_at = deadline_field("Deadline")
    timezone = timezone_field()
    panel = MultiCheckboxField("Interview panel", coerce=int)
    panel_later = BooleanField("Panel later: invite now and choose the interviewers afterwards")
    allow_late = BooleanField("Accept late submissions (marked late)")
    timed = BooleanField(
        "Timed: the time limit runs from the candidate's first download (uploads after it are accepted and marked late)"
    )
    blind_first_read = BooleanField(
        "Blind first read: interviewers see a candidate code, not the name, until they submit their scorecard",
        default=True,
    )
    # Shown only once the email turned out to belong to a candidate already.
    add_to_existing = BooleanField("Yes, add this case for the same candidate")
    submit = SubmitField("Create invitation")


class ExtendForm(FlaskForm):
    """A later deadline for an invitation."""

    due_at = deadline_field("New deadline")
    timezone = timezone_field()
    submit = SubmitField("Extend deadline")


class RevokeForm(FlaskForm):
    """Revoking an invitation, confirmed with a tick."""

    confirm = BooleanField(
        "Yes, stop this link from working (you can undo this until the deadline)",
        validators=[InputRequired(message="Tick the box to confirm revoking the link.")],
    )
    submit = SubmitField("Revoke link")


class ActionForm(FlaskForm):
    """A button that changes an invitation (restore, re-send the link, remove a panelist): only the CSRF token."""


class PanelAddForm(FlaskForm):
    """An interviewer to add to a panel."""

    interviewer = SelectField("Add an interviewer", coerce=int, validators=[DataRequired()])
    submit = SubmitField("Add to panel")
