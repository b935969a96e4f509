"""Forms for practice and mentoring: start, unlock, flag defects in the browser, pair mentors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

NOTE_MAX_CHARS = 500
NO_DEFECT = ""
_DEFECT_PREFIX = "defect_"
_NOTE_PREFIX = "note_"


class StartPracticeForm(FlaskForm):
    """Start practising a case (creates the mentee's own seed)."""

    submit = SubmitField("Start practising")


class UnlockSolutionForm(FlaskForm):
    """Open the model solution on request, after a confirmation page (recorded in the audit trail)."""

    submit = SubmitField("Yes, open the solution")


class PairingForm(FlaskForm):
    """Pair a mentor with a mentee."""

    mentor = SelectField("Mentor", coerce=int, validators=[DataRequired("Choose a mentor.")])
    mentee = SelectField("Mentee", coerce=int, validators=[DataRequired("Choose a mentee.")])
    submit = SubmitField("Pair them")


class EndPairingForm(FlaskForm):
    """End a pairing."""

    submit = SubmitField("End pairing")


@dataclass(frozen=True)
class FlagRow:
    """What a template needs for one cell: its label and its two bound fields."""

    label: str
    defect: SelectField
    note: StringField


class ReviewFlagsForm(FlaskForm):
    """Base of the per-notebook classes made by `build_review_form`: one defect choice per cell."""

    cell_labels: tuple[str, ...]
    submit: SubmitField

    def row(self, label: str) -> FlagRow:
        """The fields of one cell."""
        return FlagRow(label, self[_DEFECT_PREFIX + label], self[_NOTE_PREFIX + label])

    def flags(self) -> list[tuple[str, str, str]]:
        """The flagged cells as (cell label, defect id, note), in notebook order."""
        chosen = []
        for label in self.cell_labels:
            row = self.row(label)
            if row.defect.data and row.defect.data != NO_DEFECT:
                chosen.append((label, row.defect.data, (row.note.data or "").strip()))
        return chosen

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Valid choices, and at least one flag (an empty review cannot be graded usefully)."""
        valid = super().validate(extra_validators)
        if valid and not self.flags():
            self.form_errors.append("Flag at least one defect: choose a defect type beside a cell.")
            return False
        return valid


def build_review_form(cell_labels: Sequence[str], catalogue: Mapping[str, Mapping[str, str]]) -> ReviewFlagsForm:
    """A form with, for each cell label, a defect choice from the catalogue and a short note."""
    choices = [SelectChoice(NO_DEFECT, "No defect here")]
    choices += [SelectChoice(d, entry["title"]) for d, entry in catalogue.items()]
    attrs: dict[str, Any] = {"cell_labels": tuple(cell_labels)}
    for label in cell_labels:
        attrs[_DEFECT_PREFIX + label] = SelectField(f"Defect in {label}", choices=choices, default=NO_DEFECT)
        attrs[_NOTE_PREFIX + label] = StringField(
            f"Why (cell {label})",
            validators=[Optional(), Length(max=NOTE_MAX_CHARS)],
            render_kw={"maxlength": NOTE_MAX_CHARS},
        )
    attrs["submit"] = SubmitField("Submit my review")
    form_class = type("ReviewFlagsForm", (ReviewFlagsForm,), attrs)
    return form_class()
