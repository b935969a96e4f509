"""The scorecard form: drafts may be partial, submissions must be complete, tampering is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from assessments.content.rubric import Rubric, load_rubric
from assessments.forms.scorecard import (
    EVIDENCE_MAX_CHARS,
    TAKEAWAYS_MAX_CHARS,
    ScorecardForm,
    build_scorecard_form,
)

RUBRIC_PATH = Path(__file__).resolve().parents[2] / "rubrics" / "lead-ml-scientist.toml"
FOCUS = ("evaluation-rigor", "communication", "craft")


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric(RUBRIC_PATH)


@pytest.fixture
def app() -> Iterator[Flask]:
    # Deliberately shadows the project's `app` fixture: the form needs no database or blueprints.
    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    yield app


def complete(**overrides: str | list[str] | None) -> dict:
    """A full, valid submission; an override of None removes that key."""
    data: dict = {
        "rating_evaluation_rigor": "4",
        "evidence_evaluation_rigor": "Ran the SRM check before reading the lift, unprompted.",
        "rating_communication": "3",
        "evidence_communication": "Led with the decision, then the two facts behind it.",
        "rating_craft": "na",
        "red_flags": ["p-hacking", "claims-without-evidence"],
        "takeaways": "Strong on experiment health; did not reach reproducibility.",
        "recommendation": "yes",
        "submit": "Submit scorecard",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def draft(**fields: str | list[str]) -> dict:
    return {"save_draft": "Save draft", **fields}


def post(app: Flask, rubric: Rubric, data: dict, focus=FOCUS) -> ScorecardForm:
    """Build and validate the form from a POST, the way a view does (formdata read from the request)."""
    with app.test_request_context(
        method="POST",
        data=MultiDict([(k, x) for k, v in data.items() for x in (v if isinstance(v, list) else [v])]),
    ):
        form = build_scorecard_form(rubric, focus)
        form.validate_on_submit()
        return form


def test_complete_submission_yields_clean_result(app, rubric):
    form = post(app, rubric, complete(takeaways="  Strong on health.\r\nWeak on craft.  "))
    assert form.errors == {}
    result = form.result()
    assert result.is_final
    assert result.ratings == {"evaluation-rigor": 4, "communication": 3, "craft": None}
    assert set(result.evidence) == {"evaluation-rigor", "communication"}
    # Rubric order, whatever order the browser posted them in.
    assert result.red_flags == ("claims-without-evidence", "p-hacking")
    assert result.takeaways == "Strong on health.\nWeak on craft."
    assert result.recommendation == "yes"
    assert (result.rubric_slug, result.rubric_hash) == ("lead-ml-scientist", rubric.content_hash)


def test_submission_without_a_rating_or_not_assessed_is_refused(app, rubric):
    form = post(app, rubric, complete(rating_craft=None))
    assert not form.validate()
    [message] = form.rating_craft.errors
    assert "Craft & documentation" in message and "Not assessed" in message


def test_rated_dimension_needs_evidence_on_submit(app, rubric):
    form = post(app, rubric, complete(evidence_communication="   "))
    assert "evidence_communication" in form.errors
    assert "what the candidate said or did" in form.evidence_communication.errors[0]
    assert set(form.errors) == {"evidence_communication"}


def test_one_word_evidence_is_not_enough_to_support_a_rating(app, rubric):
    form = post(app, rubric, complete(evidence_communication="good"))
    assert "too short" in form.evidence_communication.errors[0]


@pytest.mark.parametrize("value", ["0", "5", "3.5", "strong"])
def test_out_of_range_rating_is_refused_even_in_a_draft(app, rubric, value):
    for data in (complete(rating_communication=value), draft(rating_communication=value)):
        form = post(app, rubric, data)
        assert form.errors.keys() == {"rating_communication"}
        assert "from 1 to 4" in form.rating_communication.errors[0]


def test_unknown_recommendation_is_refused(app, rubric):
    form = post(app, rubric, complete(recommendation="maybe"))
    assert "Strong no, No, Yes, Strong yes, No decision" in form.recommendation.errors[0]


def test_missing_recommendation_is_refused_on_submit(app, rubric):
    form = post(app, rubric, complete(recommendation=None))
    assert form.errors.keys() == {"recommendation"}
    assert "No decision" in form.recommendation.errors[0]


def test_no_decision_is_an_explicit_accepted_choice(app, rubric):
    data = complete(rating_evaluation_rigor="na", rating_communication="na", recommendation="no_decision")
    form = post(app, rubric, data)
    assert form.errors == {}
    assert form.result().recommendation == "no_decision"


def test_hire_decision_with_nothing_rated_is_refused(app, rubric):
    form = post(app, rubric, complete(rating_evaluation_rigor="na", rating_communication="na"))
    assert "at least one rated dimension" in form.recommendation.errors[0]


@pytest.mark.parametrize(
    "extra",
    [
        {"rating_leadership": "4"},
        {"rating_secret_sauce": "4"},
        {"evidence_leadership": "Great leader, trust me."},
    ],
)
def test_ratings_for_dimensions_not_on_the_form_are_refused(app, rubric, extra):
    form = post(app, rubric, {**complete(), **extra})
    assert not form.validate()
    [message] = form.form_errors
    assert "not on it" in message and "secret" not in message
    if "leadership" in str(extra):
        assert "Leadership & mentorship" in message
    with pytest.raises(ValueError):
        form.result()


def test_result_only_ever_holds_the_focus_dimensions(app, rubric):
    form = post(app, rubric, complete(), focus=("evaluation-rigor",))
    # The posted communication and craft fields belong to another form layout: refused, not stored.
    assert not form.validate()
    narrow = {k: v for k, v in complete().items() if "communication" not in k and "craft" not in k}
    form = post(app, rubric, narrow, focus=("evaluation-rigor",))
    assert set(form.result().ratings) == {"evaluation-rigor"}


def test_tampered_red_flag_is_refused(app, rubric):
    form = post(app, rubric, complete(red_flags=["p-hacking", "too-tall"]))
    assert form.errors.keys() == {"red_flags"}
    assert "Reload the page" in form.red_flags.errors[0]


@pytest.mark.parametrize(
    ("field", "limit"), [("evidence_communication", EVIDENCE_MAX_CHARS), ("takeaways", TAKEAWAYS_MAX_CHARS)]
)
def test_over_long_text_is_refused_even_in_a_draft(app, rubric, field, limit):
    for data in (complete(**{field: "x" * (limit + 1)}), draft(**{field: "x" * (limit + 1)})):
        form = post(app, rubric, data)
        assert form.errors.keys() == {field}
        assert f"at most {limit:,} characters" in form[field].errors[0]
    assert post(app, rubric, complete(**{field: "x" * limit})).errors == {}


def test_partial_draft_is_accepted_and_keeps_only_what_was_entered(app, rubric):
    form = post(app, rubric, draft(rating_communication="2", takeaways="Half-way through my notes."))
    assert form.errors == {}
    result = form.result()
    assert not result.is_final
    assert result.ratings == {"communication": 2}
    assert result.evidence == {}
    assert result.recommendation is None


def test_pressing_both_buttons_is_refused(app, rubric):
    form = post(app, rubric, {**complete(), "save_draft": "Save draft"})
    assert any("not both" in e for e in form.form_errors)


def test_saved_draft_redisplays_in_a_new_form(app, rubric):
    saved = post(app, rubric, draft(rating_craft="na", rating_communication="3", red_flags=["condescending"])).result()
    with app.test_request_context():
        form = build_scorecard_form(rubric, FOCUS, data=saved)
        assert form.rating_craft.data == "na"
        assert form.rating_communication.data == "3"
        assert form.rating_evaluation_rigor.data is None
        assert 'value="condescending"' in form.red_flags() and "checked" in form.red_flags()


def test_template_gets_each_focus_dimension_with_its_anchors_and_five_choices(app, rubric):
    with app.test_request_context():
        form = build_scorecard_form(rubric, FOCUS)
        rows = form.dimension_rows
        assert [r.dimension.id for r in rows] == list(FOCUS)
        assert rows[0].dimension.anchors == rubric.dimension("evaluation-rigor").anchors
        html = rows[0].rating()
        assert html.count('type="radio"') == 5 and 'value="na"' in html
        assert "checked" not in html  # no silent default rating
        assert "checked" not in form.recommendation()  # no silent default recommendation


def test_form_cannot_be_built_for_dimensions_outside_the_rubric(app, rubric):
    with app.test_request_context(), pytest.raises(ValueError, match="secret"):
        build_scorecard_form(rubric, ["communication", "secret"])


# --- another rubric, no code changes ------------------------------------------------------------

ANALYST_RUBRIC = """
slug = "analyst"
title = "Analyst"

[[levels]]
value = 1
label = "Below"
meaning = "Below the bar."
[[levels]]
value = 2
label = "At"
meaning = "At the bar."
[[levels]]
value = 3
label = "Above"
meaning = "Above the bar."

[recommendations]
strong_no = "g1"
no = "g2"
yes = "g3"
strong_yes = "g4"
no_decision = "g5"

[[dimensions]]
id = "sql"
name = "SQL fluency"
definition = "d"
question = "q"
[dimensions.anchors]
1 = ["Cannot join two tables."]
2 = ["Joins and aggregates correctly."]
3 = ["Writes window functions and explains the plan."]

[[dimensions]]
id = "storytelling"
name = "Storytelling with data"
definition = "d"
question = "q"
[dimensions.anchors]
1 = ["Reads out numbers."]
2 = ["Leads with the finding."]
3 = ["Leads with the decision and the two facts behind it."]

[[red_flags]]
id = "guesses"
label = "Guesses instead of checking"
"""


@pytest.fixture
def analyst(tmp_path) -> Rubric:
    path = tmp_path / "analyst.toml"
    path.write_text(ANALYST_RUBRIC, encoding="utf-8")
    return load_rubric(path)


def analyst_submission(**overrides: str | list[str] | None) -> dict:
    data: dict = {
        "rating_sql": "3",
        "evidence_sql": "Wrote the window function and explained the plan.",
        "rating_storytelling": "2",
        "evidence_storytelling": "Led with the finding, then the numbers.",
        "red_flags": ["guesses"],
        "takeaways": "Solid.",
        "recommendation": "yes",
        "submit": "Submit scorecard",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_another_rubric_drives_the_fields_and_their_choices(app, analyst):
    with app.test_request_context():
        form = build_scorecard_form(analyst, ("sql", "storytelling"))
        assert [row.dimension.name for row in form.dimension_rows] == ["SQL fluency", "Storytelling with data"]
        assert [c.label for c in form.rating_sql.choices] == ["1 · Below", "2 · At", "3 · Above", "Not assessed"]
        assert [c.value for c in form.red_flags.choices] == ["guesses"]
        assert [c.value for c in form.recommendation.choices] == list(analyst.recommendation_ids)


def test_another_rubric_drives_validation(app, analyst):
    form = post(app, analyst, analyst_submission(), focus=("sql", "storytelling"))
    assert form.errors == {}
    assert form.result().ratings == {"sql": 3, "storytelling": 2}
    assert form.result().rubric_slug == "analyst"
    # Level 4 exists on the lead rubric, not on this one.
    form = post(app, analyst, analyst_submission(rating_sql="4"), focus=("sql", "storytelling"))
    assert form.errors.keys() == {"rating_sql"}
    assert "from 1 to 3" in form.rating_sql.errors[0]
    # A red flag of the lead rubric is not one of this rubric's.
    form = post(app, analyst, analyst_submission(red_flags=["p-hacking"]), focus=("sql", "storytelling"))
    assert form.errors.keys() == {"red_flags"}
    with pytest.raises(ValueError, match="evaluation-rigor"):
        build_scorecard_form(analyst, ("evaluation-rigor",))


def test_a_form_without_a_recommendation_neither_asks_nor_stores_one(app, rubric):
    with app.test_request_context(
        method="POST", data=MultiDict(complete(recommendation=None, red_flags=None, rating_craft="na"))
    ):
        form = build_scorecard_form(rubric, FOCUS, recommend=False)
        assert not form.asks_recommendation
        assert form.validate_on_submit(), form.errors
        assert form.result().recommendation is None
        assert form.result().is_final
