"""The interviewer's scorecard: an anchored rating per focus dimension, evidence, red flags, a decision.

Every choice on it (dimensions, levels, red flags, recommendations) comes from the rubric it is built for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectChoice, SubmitField, TextAreaField

from assessments.content.rubric import Dimension, Level, Rubric
from assessments.forms.fields import MultiCheckboxField
from assessments.scorecard import ScorecardResult

NOT_ASSESSED = "na"
EVIDENCE_MIN_CHARS = 15
EVIDENCE_MAX_CHARS = 2000
TAKEAWAYS_MAX_CHARS = 4000
_RATING_PREFIX = "rating_"
_EVIDENCE_PREFIX = "evidence_"


@dataclass(frozen=True)
class DimensionRow:
    """What a template needs to render one dimension: its anchors and its two bound fields."""

    dimension: Dimension
    rating: RadioField
    evidence: TextAreaField


def rating_field_name(dimension_id: str) -> str:
    """The form field (and HTML name) of a dimension's rating."""
    # Dimension ids never contain "_", so swapping "-" for "_" cannot make two ids collide.
    return _RATING_PREFIX + dimension_id.replace("-", "_")


def evidence_field_name(dimension_id: str) -> str:
    """The form field (and HTML name) of a dimension's evidence note."""
    return _EVIDENCE_PREFIX + dimension_id.replace("-", "_")


def _text(field: Field) -> str:
    # Browsers send textarea newlines as CRLF; count and store them as one character.
    return (field.data or "").replace("\r\n", "\n").strip()


class ScorecardForm(FlaskForm):
    """Base of the per-rubric scorecard classes made by `build_scorecard_form`."""

    rubric: Rubric
    focus_dimension_ids: tuple[str, ...]
    red_flags: MultiCheckboxField
    takeaways: TextAreaField
    recommendation: RadioField
    save_draft: SubmitField
    submit: SubmitField

    # Whose work is rated and where it was seen: a mentoring review speaks of the mentee's attempt.
    person = "the candidate"
    occasion = "the interview"

    _posted_keys: frozenset[str] = frozenset()
    _validated = False

    def post_process(self, formdata: Any = None) -> None:
        """Remember which keys were posted, to spot fields that are not on this form."""
        super().post_process(formdata)
        self._posted_keys = frozenset(formdata.keys()) if formdata is not None else frozenset()

    @property
    def levels(self) -> tuple[Level, ...]:
        """The rating scale with labels and meanings, for the template."""
        return self.rubric.levels

    @property
    def dimension_rows(self) -> list[DimensionRow]:
        """One row per focus dimension, in kit order."""
        return [
            DimensionRow(self.rubric.dimension(d), self[rating_field_name(d)], self[evidence_field_name(d)])
            for d in self.focus_dimension_ids
        ]

    @property
    def error_summary(self) -> list[tuple[str | None, str]]:
        """Every error on the form in page order, each with the id of the control it is about (None for
        an error about the whole form), for the summary at the top that links to each field."""
        items: list[tuple[str | None, str]] = [(None, e) for e in self.form_errors]
        for row in self.dimension_rows:
            # A radio group is reached through its first option; WTForms numbers options from 0.
            items += [(f"{row.rating.id}-0", e) for e in row.rating.errors]
            items += [(row.evidence.id, e) for e in row.evidence.errors]
        items += [(f"{self.red_flags.id}-0", e) for e in self.red_flags.errors]
        items += [(self.takeaways.id, e) for e in self.takeaways.errors]
        if self.asks_recommendation:
            items += [(f"{self.recommendation.id}-0", e) for e in self.recommendation.errors]
        return items

    @property
    def asks_recommendation(self) -> bool:
        """False for a form without an overall recommendation (a mentoring review)."""
        return "recommendation" in self._fields

    @property
    def is_final(self) -> bool:
        """True when the interviewer pressed submit (a draft otherwise)."""
        return bool(self.submit.data) and not bool(self.save_draft.data)

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Validate a draft (well-formed) or a submission (also complete)."""
        # WTForms keeps form-level errors across validate() calls; each run should start clean.
        self.form_errors = []
        super().validate(extra_validators)
        if self.submit.data and self.save_draft.data:
            self.form_errors.append("Press either 'Save draft' or 'Submit', not both.")
        self._reject_foreign_fields()
        final = self.is_final
        rated = 0
        for row in self.dimension_rows:
            rated += self._check_dimension(row, final)
        self._check_red_flags()
        self._check_length(self.takeaways, "Key take-aways", TAKEAWAYS_MAX_CHARS)
        if self.asks_recommendation:
            self._check_recommendation(final, rated)
        self._validated = not self.errors
        return self._validated

    def result(self) -> ScorecardResult:
        """The cleaned scorecard.

        :raises ValueError: when the form has not been validated successfully.
        """
        if not self._validated:
            raise ValueError("result() needs a scorecard form that passed validate()")
        ratings: dict[str, int | None] = {}
        evidence: dict[str, str] = {}
        for dim in self.focus_dimension_ids:
            value = self[rating_field_name(dim)].data or ""
            if value == NOT_ASSESSED:
                ratings[dim] = None
            elif value:
                ratings[dim] = int(value)
            note = _text(self[evidence_field_name(dim)])
            if note:
                evidence[dim] = note
        ticked = set(self.red_flags.data or ())
        return ScorecardResult(
            rubric_slug=self.rubric.slug,
            rubric_hash=self.rubric.content_hash,
            ratings=ratings,
            evidence=evidence,
            red_flags=tuple(f.id for f in self.rubric.red_flags if f.id in ticked),
            takeaways=_text(self.takeaways),
            recommendation=(self.recommendation.data or None) if self.asks_recommendation else None,
            is_final=self.is_final,
        )

    def _reject_foreign_fields(self) -> None:
        # A rating for a dimension not on this form is a tampered or stale page; storing it would
        # credit the candidate with evidence nobody was asked to collect.
        foreign = {
            k.removeprefix(_RATING_PREFIX).removeprefix(_EVIDENCE_PREFIX).replace("_", "-")
            for k in self._posted_keys
            if k.startswith((_RATING_PREFIX, _EVIDENCE_PREFIX)) and k not in self._fields
        }
        if foreign:
            # Name only dimensions the rubric knows; never echo arbitrary posted text back.
            names = sorted(d.name for d in self.rubric.dimensions if d.id in foreign)
            which = f" ({', '.join(names)})" if names else ""
            self.form_errors.append(
                f"This scorecard received ratings for dimensions that are not on it{which}. "
                "Reload the page and fill in the dimensions shown."
            )

    def _check_dimension(self, row: DimensionRow, final: bool) -> int:
        """Add this dimension's errors; 1 when it holds a level, else 0."""
        name, value = row.dimension.name, row.rating.data or ""
        levels = {str(lv.value) for lv in self.rubric.levels}
        if value and value not in levels and value != NOT_ASSESSED:
            low, high = self.rubric.levels[0].value, self.rubric.levels[-1].value
            row.rating.errors.append(f"Choose a level from {low} to {high}, or 'Not assessed', for {name}.")
            value = ""
        elif not value and final:
            row.rating.errors.append(f"Rate {name}, or mark it 'Not assessed' if {self.occasion} did not cover it.")
        note = _text(row.evidence)
        self._check_length(row.evidence, f"The evidence for {name}", EVIDENCE_MAX_CHARS)
        if final and value in levels:
            if not note:
                row.evidence.errors.append(
                    f"Write the evidence for your rating of {name}: what {self.person} said or did."
                )
            elif len(note) < EVIDENCE_MIN_CHARS:
                row.evidence.errors.append(
                    f"The evidence for {name} is too short to support a rating; "
                    f"describe what {self.person} said or did (at least {EVIDENCE_MIN_CHARS} characters)."
                )
        return 1 if value in levels else 0

    def _check_length(self, field: Field, what: str, limit: int) -> None:
        length = len(_text(field))
        if length > limit:
            field.errors.append(f"{what} must be at most {limit:,} characters (it has {length:,}).")

    def _check_red_flags(self) -> None:
        known = {f.id for f in self.rubric.red_flags}
        if any(v not in known for v in self.red_flags.data or ()):
            self.red_flags.errors.append(
                "A ticked red flag is not part of this rubric (the page may be out of date). "
                "Reload the page and tick the red flags again."
            )

    def _check_recommendation(self, final: bool, rated: int) -> None:
        value = self.recommendation.data or ""
        choices = self.rubric.recommendations
        if value and value not in self.rubric.recommendation_ids:
            self.recommendation.errors.append(
                "Choose one of the listed recommendations: " + ", ".join(r.label for r in choices) + "."
            )
        elif not value and final:
            self.recommendation.errors.append(
                f"Choose an overall recommendation; pick '{self.rubric.no_decision.label}' if you cannot make one."
            )
        elif final and value and self.rubric.recommendation(value).score is not None and rated == 0:
            self.recommendation.errors.append(
                "A hire or no-hire recommendation needs at least one rated dimension; "
                f"rate what you assessed, or choose '{self.rubric.no_decision.label}'."
            )


def _form_data(result: ScorecardResult) -> dict[str, Any]:
    """Field data that redisplays a stored scorecard (e.g. a draft being resumed)."""
    data: dict[str, Any] = {
        "red_flags": list(result.red_flags),
        "takeaways": result.takeaways,
    }
    if result.recommendation is not None:
        data["recommendation"] = result.recommendation
    for dim, level in result.ratings.items():
        data[rating_field_name(dim)] = NOT_ASSESSED if level is None else str(level)
    for dim, note in result.evidence.items():
        data[evidence_field_name(dim)] = note
    return data


def build_scorecard_form(
    rubric: Rubric,
    focus_dimension_ids: Sequence[str],
    *,
    formdata: Any = None,
    data: ScorecardResult | Mapping[str, Any] | None = None,
    recommend: bool = True,
    mentoring: bool = False,
) -> ScorecardForm:
    """A scorecard form for these focus dimensions of the rubric (with `recommend=False`, one
    without an overall recommendation: a mentoring review advises, it never recommends; with
    `mentoring=True` its messages speak of the mentee's attempt, not a candidate's interview).

    Without `formdata`, Flask-WTF reads `request.form` on a POST, as any FlaskForm does.

    :raises ValueError: when a focus dimension is unknown to the rubric, repeated, or none is given.
    """
    focus = tuple(focus_dimension_ids)
    if not focus:
        raise ValueError("a scorecard needs at least one focus dimension")
    unknown = [d for d in focus if d not in rubric.dimension_ids]
    if unknown:
        raise ValueError(f"not dimensions of rubric {rubric.slug!r}: {', '.join(unknown)}")
    if len(set(focus)) != len(focus):
        raise ValueError("focus dimensions must not repeat")

    level_choices = [SelectChoice(str(lv.value), f"{lv.value} · {lv.label}") for lv in rubric.levels]
    attrs: dict[str, Any] = {"rubric": rubric, "focus_dimension_ids": focus}
    if mentoring:
        attrs.update(person="your mentee", occasion="the attempt")
    for dim_id in focus:
        dim = rubric.dimension(dim_id)
        # Choice checks live in ScorecardForm.validate so their messages can name the dimension.
        attrs[rating_field_name(dim_id)] = RadioField(
            dim.name,
            choices=[*level_choices, SelectChoice(NOT_ASSESSED, "Not assessed")],
            validate_choice=False,
        )
        attrs[evidence_field_name(dim_id)] = TextAreaField(
            f"Evidence for {dim.name}", render_kw={"maxlength": EVIDENCE_MAX_CHARS}
        )
    attrs["red_flags"] = MultiCheckboxField(
        "Red flags", choices=[SelectChoice(f.id, f.label) for f in rubric.red_flags], validate_choice=False
    )
    attrs["takeaways"] = TextAreaField("Key take-aways", render_kw={"maxlength": TAKEAWAYS_MAX_CHARS})
    if recommend:
        attrs["recommendation"] = RadioField(
            "Overall recommendation",
            choices=[SelectChoice(r.id, r.label) for r in rubric.recommendations],
            validate_choice=False,
        )
    attrs["save_draft"] = SubmitField("Save draft")
    attrs["submit"] = SubmitField("Submit scorecard")
    form_class = type("ScorecardForm", (ScorecardForm,), attrs)

    kwargs: dict[str, Any] = {}
    if formdata is not None:
        kwargs["formdata"] = formdata
    if data is not None:
        kwargs["data"] = _form_data(data) if isinstance(data, ScorecardResult) else dict(data)
    return form_class(**kwargs)
