"""Recording a candidate's outcomes by hand, and importing them from a CSV file."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import BooleanField, DateField, FloatField, SelectField, SubmitField
from wtforms.validators import DataRequired, Optional

# The same cap as the import service's (services/outcomes.py MAX_IMPORT_BYTES); the form says so first.
MAX_IMPORT_BYTES = 2 * 1024 * 1024


class OutcomeForm(FlaskForm):
    """One candidate's outcomes: hired, start date, performance at 6 and 12 months."""

    candidate_id = SelectField("Candidate", coerce=int, validators=[DataRequired(message="Choose a candidate.")])
    hired = BooleanField("Hired")
    start_date = DateField("Start date", validators=[Optional()])
    rating_6m = FloatField("Performance rating at 6 months", validators=[Optional()])
    rating_12m = FloatField("Performance rating at 12 months", validators=[Optional()])
    submit = SubmitField("Save outcome")


class OutcomeImportForm(FlaskForm):
    """A CSV of outcomes: candidate (email), hired, start_date, rating_6m, rating_12m."""

    file = FileField(
        "Outcomes CSV",
        validators=[
            FileRequired(message="Choose a CSV file."),
            FileSize(MAX_IMPORT_BYTES, message="The file is larger than 2 MB."),
        ],
    )
    submit = SubmitField("Import outcomes")
