"""The pipeline's search and filters, and the debrief's decision form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Form,
    IntegerField,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class PipelineFilterForm(Form):
    """Search, case, stage and invitation dates (a GET form: it changes nothing, so no CSRF token)."""

    q = SearchField("Search name or email", validators=[Optional(), Length(max=120)])
    case = SelectField("Case", validators=[Optional()])
    stage = SelectField("Stage", validators=[Optional()])
    invited_from = DateField("Invited from", validators=[Optional()])
    invited_to = DateField("Invited to", validators=[Optional()])
    overdue = BooleanField("Only overdue")
    needs_panel = BooleanField("Only those needing a panel")
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1)])


class DecisionForm(FlaskForm):
    """The hiring decision after the debrief."""

    outcome = RadioField(
        "Decision",
        choices=[SelectChoice("advance", "Advance"), SelectChoice("reject", "Reject"), SelectChoice("hold", "Hold")],
        validators=[DataRequired(message="Choose advance, reject or hold.")],
    )
    note = TextAreaField("Note for the record", validators=[Optional(), Length(max=4000)])
    submit = SubmitField("Record decision")
