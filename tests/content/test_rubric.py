"""Rubric and interview kit files: the real ones load, broken ones name the file and field at fault."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assessments.content.kits import load_kits
from assessments.content.rubric import (
    RECOMMENDATIONS,
    Rubric,
    RubricFormatError,
    RubricProblem,
    load_rubric,
    load_rubrics,
)

RUBRICS = Path(__file__).resolve().parents[2] / "rubrics"
PROJECT_DIMENSIONS = (
    "problem-framing",
    "modeling",
    "evaluation-rigor",
    "production-ml",
    "communication",
    "leadership",
    "craft",
    "responsible-ai",
)
# Every case on disk: each must have an interview kit.
CASE_SLUGS = {path.parent.name for path in (RUBRICS.parent / "cases").glob("*/case.toml")}

MINIMAL_RUBRIC = """
slug = "mini"
title = "Mini"

[[levels]]
value = 1
label = "Strong no"
meaning = "m1"
[[levels]]
value = 2
label = "No"
meaning = "m2"
[[levels]]
value = 3
label = "Yes"
meaning = "m3"
[[levels]]
value = 4
label = "Strong yes"
meaning = "m4"

[recommendations]
strong_no = "g1"
no = "g2"
yes = "g3"
strong_yes = "g4"
no_decision = "g5"

[[dimensions]]
id = "alpha"
name = "Alpha"
definition = "d"
question = "q"
[dimensions.anchors]
1 = ["a1"]
2 = ["a2"]
3 = ["a3"]
4 = ["a4"]

[[dimensions]]
id = "beta"
name = "Beta"
definition = "d"
question = "q"
[dimensions.anchors]
1 = ["b1"]
2 = ["b2"]
3 = ["b3"]
4 = ["b4"]

[[red_flags]]
id = "no-evidence"
label = "Claims without evidence"
"""

MINIMAL_KIT = """
slug = "general"
rubric = "mini"
title = "General"
summary = "s"
focus = ["alpha", "beta"]

[[questions]]
id = "q1"
dimensions = ["alpha", "beta"]
ask = "Why?"
follow_ups = ["And then?"]
good = ["specific"]
weak = ["vague"]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(exc: pytest.ExceptionInfo[RubricFormatError]) -> set[tuple[str, str]]:
    return {(Path(p.file).name, p.field) for p in exc.value.problems}


def broken_rubric(tmp_path: Path, old: str, new: str, name: str = "mini.toml") -> pytest.ExceptionInfo:
    assert old in MINIMAL_RUBRIC, old
    path = write(tmp_path / name, MINIMAL_RUBRIC.replace(old, new, 1))
    with pytest.raises(RubricFormatError) as exc:
        load_rubric(path)
    return exc


@pytest.fixture
def mini(tmp_path: Path) -> dict[str, Rubric]:
    return {"mini": load_rubric(write(tmp_path / "mini.toml", MINIMAL_RUBRIC))}


def broken_kit(tmp_path: Path, rubrics: dict[str, Rubric], old: str, new: str, **kwargs) -> pytest.ExceptionInfo:
    assert old in MINIMAL_KIT, old
    write(tmp_path / "kits" / "general.toml", MINIMAL_KIT.replace(old, new, 1))
    with pytest.raises(RubricFormatError) as exc:
        load_kits(tmp_path, rubrics, **kwargs)
    return exc


# --- the real content -------------------------------------------------------------------------


def test_lead_rubric_has_the_eight_project_dimensions_fully_anchored():
    rubric = load_rubrics(RUBRICS)["lead-ml-scientist"]
    assert rubric.dimension_ids == PROJECT_DIMENSIONS
    assert [(lv.value, lv.label) for lv in rubric.levels] == [
        (1, "Strong no"),
        (2, "No"),
        (3, "Yes"),
        (4, "Strong yes"),
    ]
    for dim in rubric.dimensions:
        assert dim.definition and dim.question
        assert sorted(dim.anchors) == [1, 2, 3, 4]
        assert all(len(dim.anchors[level]) >= 3 for level in (1, 2, 3, 4)), dim.id
    # A copy-pasted anchor would make two levels indistinguishable to a rater.
    anchors = [a for dim in rubric.dimensions for level in dim.anchors.values() for a in level]
    assert len(anchors) == len(set(anchors))


def test_lead_rubric_offers_the_required_red_flags_and_recommendations():
    rubric = load_rubric(RUBRICS / "lead-ml-scientist.toml")
    flags = {f.id for f in rubric.red_flags}
    assert {
        "claims-without-evidence",
        "ignores-failure-modes",
        "ships-without-monitoring",
        "blames-stakeholders",
        "dismisses-privacy",
    } <= flags
    assert [r.id for r in rubric.recommendations] == ["strong_no", "no", "yes", "strong_yes", "no_decision"]
    assert "neutral" not in RECOMMENDATIONS
    assert all(r.guidance for r in rubric.recommendations)


def test_rubric_version_is_the_sha256_of_the_file_bytes(tmp_path):
    path = write(tmp_path / "mini.toml", MINIMAL_RUBRIC)
    first = load_rubric(path)
    assert first.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    write(path, MINIMAL_RUBRIC.replace('meaning = "m1"', 'meaning = "m1."'))
    assert load_rubric(path).content_hash != first.content_hash


def test_every_case_and_the_general_interview_has_a_kit_on_the_real_rubric():
    rubrics = load_rubrics(RUBRICS)
    on_disk = {p.parent.name for p in (RUBRICS.parent / "cases").glob("*/case.toml")}
    kits = load_kits(RUBRICS, rubrics, case_slugs=CASE_SLUGS | on_disk)
    assert set(kits) == CASE_SLUGS | on_disk | {"general"}
    for kit in kits.values():
        assert kit.rubric_slug == "lead-ml-scientist"
        assert set(kit.focus_dimension_ids) <= set(PROJECT_DIMENSIONS)
        assert kit.content_hash == hashlib.sha256(kit.path.read_bytes()).hexdigest()
        for q in kit.questions:
            assert q.ask and q.good and q.weak


# --- broken rubrics ---------------------------------------------------------------------------


def test_minimal_rubric_used_below_is_valid(mini):
    assert mini["mini"].dimension("beta").anchors[4] == ("b4",)


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ('title = "Mini"', 'title = "Mini"\ncolour = "red"', "colour", "unknown key"),
        ('title = "Mini"', "", "title", "missing"),
        ('title = "Mini"', "title = 3", "title", "expected text"),
        ('slug = "mini"', 'slug = "other"', "slug", "file name"),
        ('4 = ["a4"]', "", "dimensions[alpha].anchors.4", "level 4 has no anchors"),
        ('4 = ["a4"]', '4 = ["a4"]\n5 = ["a5"]', "dimensions[alpha].anchors.5", "not a level"),
        ('4 = ["a4"]', "4 = []", "dimensions[alpha].anchors.4", "at least one"),
        ('1 = ["a1"]', '1 = ["a1", 7]', "dimensions[alpha].anchors.1[2]", "non-empty text"),
        (
            'question = "q"\n[dimensions.anchors]\n1 = ["a1"]\n2 = ["a2"]\n3 = ["a3"]\n4 = ["a4"]',
            'question = "q"',
            "dimensions[alpha].anchors",
            "missing",
        ),
        ('id = "beta"', 'id = "alpha"', "dimensions[alpha].id", "duplicate dimension id"),
        ('id = "beta"', 'id = "Beta Dim"', "dimensions[#2].id", "lowercase"),
        ("value = 4", "value = 0", "levels[#4].value", "not a level"),
        ("value = 4", "value = 11", "levels[#4].value", "not a level"),
        ("value = 4", "value = 7", "levels", "level 4 is missing"),
        ("value = 4", "value = 3", "levels[#4].value", "duplicate level 3"),
        (
            '[recommendations]\nstrong_no = "g1"\nno = "g2"\nyes = "g3"\nstrong_yes = "g4"\nno_decision = "g5"',
            "",
            "recommendations",
            "missing",
        ),
        ('no_decision = "g5"', "", "recommendations.no_decision", "missing"),
        (
            'no_decision = "g5"',
            'no_decision = "g5"\nneutral = "g6"',
            "recommendations.neutral",
            "unknown key",
        ),
        (
            'label = "Claims without evidence"',
            'label = "x"\n[[red_flags]]\nid = "no-evidence"\nlabel = "y"',
            "red_flags[no-evidence].id",
            "duplicate red flag id",
        ),
    ],
)
def test_broken_rubric_names_file_field_and_problem(tmp_path, old, new, field, words):
    exc = broken_rubric(tmp_path, old, new)
    matching = [p for p in exc.value.problems if p.field == field]
    assert matching, [str(p) for p in exc.value.problems]
    assert any(words in p.message for p in matching)
    assert all(p.file == str(tmp_path / "mini.toml") for p in exc.value.problems)


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    exc = broken_rubric(tmp_path, 'title = "Mini"', 'colour = "red"')
    assert {("mini.toml", "colour"), ("mini.toml", "title")} <= problems_of(exc)


def test_invalid_toml_is_reported_with_its_file(tmp_path):
    exc = broken_rubric(tmp_path, 'title = "Mini"', "title = ")
    [problem] = exc.value.problems
    assert problem == RubricProblem(str(tmp_path / "mini.toml"), "", problem.message)
    assert "not valid TOML" in problem.message


def test_load_rubrics_collects_problems_from_every_file(tmp_path):
    write(tmp_path / "mini.toml", MINIMAL_RUBRIC.replace("title = ", "titel = "))
    write(
        tmp_path / "other.toml",
        MINIMAL_RUBRIC.replace('slug = "mini"', 'slug = "other"', 1).replace('4 = ["b4"]', ""),
    )
    with pytest.raises(RubricFormatError) as exc:
        load_rubrics(tmp_path)
    assert {
        ("mini.toml", "titel"),
        ("mini.toml", "title"),
        ("other.toml", "dimensions[beta].anchors.4"),
    } <= problems_of(exc)


# --- broken kits ------------------------------------------------------------------------------


def test_minimal_kit_used_below_is_valid(tmp_path, mini):
    write(tmp_path / "kits" / "general.toml", MINIMAL_KIT)
    kit = load_kits(tmp_path, mini)["general"]
    assert kit.focus_dimension_ids == ("alpha", "beta")
    assert kit.questions[0].follow_ups == ("And then?",)


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ('rubric = "mini"', 'rubric = "maxi"', "rubric", "unknown rubric"),
        ('focus = ["alpha", "beta"]', 'focus = ["alpha", "gamma"]', "focus[2]", "not a dimension of rubric"),
        ('focus = ["alpha", "beta"]', 'focus = ["alpha", "alpha"]', "focus[2]", "duplicate"),
        ('focus = ["alpha", "beta"]', 'focus = ["alpha"]', "questions[q1].dimensions[2]", "focus list"),
        ('dimensions = ["alpha", "beta"]', 'dimensions = ["alpha"]', "focus", "no question covers"),
        ('weak = ["vague"]', "", "questions[q1].weak", "missing"),
        ('weak = ["vague"]', 'weak = ["vague"]\nscore = 3', "questions[q1].score", "unknown key"),
        ('weak = ["vague"]', 'weak = ["vague"]\nminutes = 0', "questions[q1].minutes", "minutes"),
        (
            'weak = ["vague"]',
            'weak = ["vague"]\n[[questions]]\nid = "q1"\ndimensions = ["alpha"]\n'
            'ask = "a"\nfollow_ups = []\ngood = ["g"]\nweak = ["w"]',
            "questions[q1].id",
            "duplicate question id",
        ),
    ],
)
def test_broken_kit_names_file_field_and_problem(tmp_path, mini, old, new, field, words):
    exc = broken_kit(tmp_path, mini, old, new)
    matching = [p for p in exc.value.problems if p.field == field]
    assert matching, [str(p) for p in exc.value.problems]
    assert any(words in p.message for p in matching)
    assert all(Path(p.file) == tmp_path / "kits" / "general.toml" for p in exc.value.problems)


def test_kit_for_an_unknown_case_is_rejected_when_cases_are_known(tmp_path, mini):
    write(tmp_path / "kits" / "ab-redout.toml", MINIMAL_KIT.replace('slug = "general"', 'slug = "ab-redout"'))
    with pytest.raises(RubricFormatError) as exc:
        load_kits(tmp_path, mini, case_slugs=CASE_SLUGS)
    assert problems_of(exc) == {("ab-redout.toml", "slug")}


# --- the rubric is the vocabulary ---------------------------------------------------------------

THREE_LEVEL_RUBRIC = """
slug = "analyst"
title = "Analyst"

[[levels]]
value = 1
label = "Below"
meaning = "m1"
[[levels]]
value = 2
label = "At"
meaning = "m2"
[[levels]]
value = 3
label = "Above"
meaning = "m3"

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
1 = ["s1"]
2 = ["s2"]
3 = ["s3"]

[[red_flags]]
id = "guesses"
label = "Guesses"
"""


def test_a_rubric_chooses_its_own_levels_and_dimensions(tmp_path):
    rubric = load_rubric(write(tmp_path / "analyst.toml", THREE_LEVEL_RUBRIC))
    assert rubric.level_values == (1, 2, 3)
    assert [lv.label for lv in rubric.levels] == ["Below", "At", "Above"]
    assert rubric.dimension_ids == ("sql",)
    assert rubric.dimension("sql").anchors[3] == ("s3",)
    assert rubric.no_decision.id == "no_decision" and rubric.no_decision.score is None
    assert rubric.recommendation("strong_yes").label == "Strong yes"


def test_anchors_follow_the_rubrics_own_levels(tmp_path):
    path = write(tmp_path / "analyst.toml", THREE_LEVEL_RUBRIC.replace('3 = ["s3"]', '3 = ["s3"]\n4 = ["s4"]'))
    with pytest.raises(RubricFormatError) as exc:
        load_rubric(path)
    [problem] = exc.value.problems
    assert problem.field == "dimensions[sql].anchors.4"
    assert "1, 2, 3" in problem.message


def test_a_single_level_is_not_a_scale(tmp_path):
    one = THREE_LEVEL_RUBRIC.split("[[levels]]\nvalue = 2")[0] + THREE_LEVEL_RUBRIC.split('meaning = "m3"\n')[1]
    with pytest.raises(RubricFormatError) as exc:
        load_rubric(write(tmp_path / "analyst.toml", one))
    assert ("analyst.toml", "levels") in problems_of(exc)
