"""The reason given when amending a submitted scorecard."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class AmendmentReasonForm(FlaskForm):
    """Why the scorecard changes; kept beside the original."""

    reason = TextAreaField(
        "Reason for the amendment",
        validators=[DataRequired("Say why you are amending the scorecard."), Length(max=2000)],
    )
