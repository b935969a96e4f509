"""The candidate's voluntary self-identification form, and an admin's import of an ATS export."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import RadioField, SubmitField


class SelfIdForm(FlaskForm):
    """Two optional questions (none chosen: not answered); the service checks each answer against the categories file."""

    sex = RadioField("Sex/gender", validate_choice=False)
    race_ethnicity = RadioField("Race/ethnicity", validate_choice=False)
    submit = SubmitField("Save my answers")


class SelfIdImportForm(FlaskForm):
    """A CSV export: candidate (email), sex, race_ethnicity."""

    file = FileField(
        "ATS export (.csv)",
        validators=[FileRequired("Choose the CSV file."), FileAllowed(["csv", "txt"], "Upload a .csv file.")],
    )
    submit = SubmitField("Import self-identification")
