"""The calibration report's filters (a GET form: it changes nothing, so it needs no CSRF token)."""

from __future__ import annotations

from wtforms import DateField, Form, RadioField, SelectChoice, SelectField
from wtforms.validators import Optional


class CalibrationFilterForm(Form):
    """Case, rubric, interviewer (and whose ratings of theirs count) and date range."""

    case = SelectField("Case", validators=[Optional()])
    rubric = SelectField("Rubric", validators=[Optional()])
    interviewer = SelectField("Interviewer", validators=[Optional()])
    scope = RadioField(
        "With an interviewer chosen, count",
        choices=[
            SelectChoice("panels", "everyone on their panels (their co-panelists' ratings of the same candidates too)"),
            SelectChoice("own", "this interviewer's own ratings only"),
        ],
        default="panels",
        validators=[Optional()],
    )
    date_from = DateField("Submitted from", validators=[Optional()])
    date_to = DateField("Submitted to", validators=[Optional()])
