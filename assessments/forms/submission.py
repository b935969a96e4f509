"""The candidate's notebook upload form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SubmitField


class UploadForm(FlaskForm):
    """One .ipynb file."""

    notebook = FileField(
        "Your notebook (.ipynb)",
        validators=[
            FileRequired("Choose your notebook file to upload."),
            FileAllowed(["ipynb"], "Upload the .ipynb notebook file itself (not a zip or PDF)."),
        ],
    )
    submit = SubmitField("Upload notebook")
