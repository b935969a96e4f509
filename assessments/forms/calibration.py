"""The calibration report's filters (a GET form: it changes nothing, so it needs no CSRF token)."""

from __future__ import annotations

from wtforms import DateField, Form, SelectField
from wtforms.validators import Optional


class CalibrationFilterForm(Form):
    """Case, rubric, interviewer and date range."""

    case = SelectField("Case", validators=[Optional()])
    rubric = SelectField("Rubric", validators=[Optional()])
    interviewer = SelectField("Interviewer", validators=[Optional()])
    date_from = DateField("Submitted from", validators=[Optional()])
    date_to = DateField("Submitted to", validators=[Optional()])
