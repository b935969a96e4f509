"""Loading case folders: every real case validates, and each kind of authoring mistake is named."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from assessments.content.case import CaseFormatError, CaseProblem, content_hash, load_case, load_cases
from assessments.content.rubric import load_rubrics
from assessments.grading.checks import CHECK_RULES

FIXTURE = Path(__file__).parent / "fixtures" / "minimal-case"
CASES_ROOT = Path(__file__).parents[2] / "cases"
# What the catalogue checks parts against: every dimension of the rubrics on disk.
RUBRIC_DIMENSIONS = {d for r in load_rubrics(CASES_ROOT.parent / "rubrics").values() for d in r.dimension_ids}
CASE_FOLDERS = (
    sorted(p for p in CASES_ROOT.iterdir() if p.is_dir() and p.name[0] not in "._") if CASES_ROOT.is_dir() else []
)


@pytest.mark.parametrize("folder", CASE_FOLDERS, ids=[p.name for p in CASE_FOLDERS])
def test_every_case_folder_loads_and_validates(folder: Path) -> None:
    try:
        case = load_case(folder, check_rules=CHECK_RULES, dimensions=RUBRIC_DIMENSIONS)
    except CaseFormatError as error:
        problems = str(error)
    else:
        problems = ""
    if problems:
        pytest.fail(f"{folder.name} does not follow docs/case-format.md:\n{problems}", pytrace=False)
    assert case.slug == folder.name
    assert case.parts, "a case without parts cannot be scored"


def test_the_fixture_case_loads_with_its_parts_and_generator() -> None:
    case = load_case(FIXTURE, check_rules=CHECK_RULES)
    assert case.slug == "minimal-case"
    assert case.audience == frozenset({"practice"}) and not case.hiring
    assert [p.id for p in case.checkable_parts] == ["treatment_rate", "better_arm", "best_channel", "arm_rates"]
    assert case.part("better_arm").check.params["options"] == ["control", "treatment"]
    assert case.part("recommendation").guidance.weak == "Ships because one number is larger."
    data = case.generate(3)
    assert len(data["events"]) == 400
    events = data["events"]
    assert case.answer_key(data)["treatment_rate"] == events.loc[events.arm == "treatment", "converted"].mean()


def test_a_part_can_rest_on_earlier_checkable_parts(case_dir: Path) -> None:
    _edit(
        case_dir, "case.toml", 'id = "best_channel"', 'id = "best_channel"\nrests_on = ["treatment_rate", "better_arm"]'
    )
    case = load_case(case_dir, check_rules=CHECK_RULES)
    assert case.part("best_channel").rests_on == ("treatment_rate", "better_arm")
    assert case.part("better_arm").rests_on == ()


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    """A writable copy of the minimal valid case, to break one thing at a time."""
    target = tmp_path / "minimal-case"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _problems(folder: Path) -> list[CaseProblem]:
    with pytest.raises(CaseFormatError) as caught:
        load_case(folder, check_rules=CHECK_RULES, dimensions=RUBRIC_DIMENSIONS)
    return caught.value.problems


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text()
    assert old in text, f"fixture changed: {old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def _edit_notebook(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "notebook.ipynb"
    notebook = json.loads(path.read_text())
    change(notebook)
    path.write_text(json.dumps(notebook, indent=1))


def _cell(notebook: dict, cell_id: str) -> dict:
    return next(c for c in notebook["cells"] if c["id"] == cell_id)


def _drop_cell(cell_id: str) -> Callable[[dict], None]:
    def change(notebook: dict) -> None:
        notebook["cells"] = [c for c in notebook["cells"] if c["id"] != cell_id]

    return change


def _assert_named(problems: list[CaseProblem], file: str, field: str, words: str) -> None:
    matching = [p for p in problems if p.file == f"minimal-case/{file}" and p.field == field]
    assert any(words in p.message for p in matching), "\n".join(map(str, problems))


TOML_BREAKAGES = {
    "unknown top-level key": (
        'effort = "10-20 minutes"',
        'effort = "10-20 minutes"\ncolour = "red"',
        "colour",
        "unknown key",
    ),
    "unknown part key": ('id = "treatment_rate"', 'id = "treatment_rate"\nhint = "x"', "parts[0].hint", "unknown key"),
    "missing title": ('title = "Minimal case: a two-arm conversion test"\n', "", "title", "missing"),
    "time limit as a string": ("time_limit_minutes = 20", 'time_limit_minutes = "20"', "time_limit_minutes", "integer"),
    "points as a boolean": ("points = 2", "points = true", "parts[0].points", "number"),
    "slug differs from folder": ('slug = "minimal-case"', 'slug = "other-case"', "slug", "folder name"),
    "slug with capitals": ('slug = "minimal-case"', 'slug = "Minimal-Case"', "slug", "[a-z0-9-]+"),
    "unknown kind": ('kind = "ab-readout"', 'kind = "quiz"', "kind", "'quiz'"),
    "unknown audience": ('audience = ["practice"]', 'audience = ["public"]', "audience", "'public'"),
    "empty audience": ('audience = ["practice"]', "audience = []", "audience", "at least one"),
    "zero points": ("points = 2", "points = 0", "parts[0].points", "> 0"),
    "negative points": ("points = 1", "points = -1", "parts[1].points", "> 0"),
    "missing points": ("points = 2\n", "", "parts[0].points", "missing"),
    "duplicate part id": ('id = "best_channel"', 'id = "better_arm"', "parts[2].id", "earlier part"),
    "non-identifier part id": ('id = "treatment_rate"', 'id = "treatment-rate"', "parts[0].id", "identifier"),
    "keyword part id": ('id = "treatment_rate"', 'id = "lambda"', "parts[0].id", "identifier"),
    "unknown check kind": ('kind = "number"', 'kind = "regex"', "parts[0].check", "regex"),
    "unknown check parameter": ('kind = "number"', 'kind = "number"\ntolerance = 1', "parts[0].check", "'tolerance'"),
    "choice without options": ('options = ["control", "treatment"]\n', "", "parts[1].check", "options"),
    "unknown dimension": (
        'dimensions = ["communication"]',
        'dimensions = ["charisma"]',
        "parts[4].dimensions",
        "charisma",
    ),
    "guidance with unknown key": ("weak = ", "meh = 1\nweak = ", "parts[4].guidance.meh", "unknown key"),
    "written part without guidance": ("[parts.guidance]\n", "[parts.unused]\n", "parts[4].unused", "unknown key"),
    "toml syntax error": ("points = 2", "points = ", "(syntax)", "line"),
    "rests on a later part": (
        'id = "better_arm"',
        'id = "better_arm"\nrests_on = ["arm_rates"]',
        "parts[1].rests_on",
        "'arm_rates' is not a checkable part defined before 'better_arm'",
    ),
    "rests on itself": (
        'id = "better_arm"',
        'id = "better_arm"\nrests_on = ["better_arm"]',
        "parts[1].rests_on",
        "defined before",
    ),
    "rests_on as a string": (
        'id = "better_arm"',
        'id = "better_arm"\nrests_on = "treatment_rate"',
        "parts[1].rests_on",
        "array of strings",
    ),
    "written part rests on": (
        'id = "recommendation"',
        'id = "recommendation"\nrests_on = ["treatment_rate"]',
        "parts[4].rests_on",
        "only a checkable part",
    ),
}


@pytest.mark.parametrize("old,new,field,words", TOML_BREAKAGES.values(), ids=TOML_BREAKAGES.keys())
def test_a_broken_case_toml_names_the_field(case_dir: Path, old: str, new: str, field: str, words: str) -> None:
    _edit(case_dir, "case.toml", old, new)
    _assert_named(_problems(case_dir), "case.toml", field, words)


def test_a_written_part_needs_guidance(case_dir: Path) -> None:
    text = (case_dir / "case.toml").read_text()
    (case_dir / "case.toml").write_text(text[: text.index("[parts.guidance]")])
    _assert_named(_problems(case_dir), "case.toml", "parts[4]", "guidance")


def test_a_missing_brief_is_named(case_dir: Path) -> None:
    (case_dir / "brief.md").unlink()
    _assert_named(_problems(case_dir), "brief.md", "(file)", "missing")


def test_raw_html_in_the_brief_is_named(case_dir: Path) -> None:
    _edit(case_dir, "brief.md", "Answer the questions", "<script>alert(1)</script> Answer the questions")
    _assert_named(_problems(case_dir), "brief.md", "(markdown)", "raw HTML")


def _v44_without_ids(notebook: dict) -> None:
    notebook["nbformat_minor"] = 4
    for cell in notebook["cells"]:
        del cell["id"]


def _code_cell_without_outputs(notebook: dict) -> None:
    del _cell(notebook, "load")["outputs"]


def _duplicate_cell_id(notebook: dict) -> None:
    _cell(notebook, "q2")["id"] = "q1"


def _answer_for_no_part(notebook: dict) -> None:
    _cell(notebook, "a1")["metadata"]["assess"]["answer"] = "treatment_rat"


def _second_answer_cell(notebook: dict) -> None:
    notebook["cells"].append({**_cell(notebook, "a3"), "id": "a3-again"})


def _answer_on_markdown(notebook: dict) -> None:
    _cell(notebook, "r5")["metadata"]["assess"] = {"answer": "recommendation"}


def _answer_not_assigned(notebook: dict) -> None:
    _cell(notebook, "a1")["source"] = "print(treatment_rate)"


def _unknown_assess_key(notebook: dict) -> None:
    _cell(notebook, "a1")["metadata"]["assess"]["hidden"] = True


NOTEBOOK_BREAKAGES = {
    "v4.4 without cell ids": (_v44_without_ids, "nbformat", "4.5"),
    "schema violation": (_code_cell_without_outputs, "cells[1]", "outputs"),
    "duplicate cell id": (_duplicate_cell_id, "cells[5].id", "earlier cell"),
    "answer cell naming no part": (_answer_for_no_part, "cells[4].metadata.assess.answer", "names no part"),
    "checkable part without answer cell": (_drop_cell("a4"), "cells (part 'arm_rates')", "found 0"),
    "checkable part with two answer cells": (_second_answer_cell, "cells (part 'best_channel')", "found 2"),
    "written part without response cell": (_drop_cell("r5"), "cells (part 'recommendation')", "found 0"),
    "answer cell for a written part": (_answer_on_markdown, "cells[12].metadata.assess.answer", "written"),
    "answer cell that does not assign": (_answer_not_assigned, "cells[4].metadata.assess.answer", "assign"),
    "unknown assess key": (_unknown_assess_key, "cells[4].metadata.assess.hidden", "unknown key"),
}


@pytest.mark.parametrize("change,field,words", NOTEBOOK_BREAKAGES.values(), ids=NOTEBOOK_BREAKAGES.keys())
def test_a_broken_notebook_names_the_field(case_dir: Path, change: Callable, field: str, words: str) -> None:
    _edit_notebook(case_dir, change)
    _assert_named(_problems(case_dir), "notebook.ipynb", field, words)


def test_a_notebook_that_is_not_json_is_named(case_dir: Path) -> None:
    (case_dir / "notebook.ipynb").write_text("{ not json")
    _assert_named(_problems(case_dir), "notebook.ipynb", "(json)", "not valid JSON")


GENERATOR_BREAKAGES = {
    "missing answer_key": ("def answer_key(", "def answer_keys(", "answer_key", "missing"),
    "import fails": (
        "CHANNELS = (",
        'raise RuntimeError("no data today")\nCHANNELS = (',
        "(import)",
        "RuntimeError: no data today",
    ),
    "syntax error": ("def planted(", "def planted((", "(import)", "SyntaxError"),
    "not deterministic": (
        "rng = np.random.default_rng(seed)",
        "rng = np.random.default_rng()",
        "generate",
        "not deterministic",
    ),
    "ignores the seed": (
        "rng = np.random.default_rng(seed)",
        "rng = np.random.default_rng(0)",
        "generate",
        "ignores its seed",
    ),
    "generate raises": ("lift = 0.02", "lift = 1 / 0", "generate", "ZeroDivisionError"),
    "32-bit seeds only": (
        "rng = np.random.default_rng(seed)",
        "rng = np.random.RandomState(seed)",
        "generate",
        "on seed 2**63 - 1",
    ),
    "key lacks a checkable part": ('"best_channel": str(by_channel.idxmax()),', "", "answer_key", "'best_channel'"),
    "key value not JSON": (
        '"treatment_rate": float(rates["treatment"])',
        '"treatment_rate": rates',
        "answer_key",
        "JSON",
    ),
    "key value NaN": (
        '"treatment_rate": float(rates["treatment"])',
        '"treatment_rate": float("nan")',
        "answer_key",
        "JSON",
    ),
    "key modifies the data": (
        '    events = data["events"]\n',
        '    events = data["events"]\n    events["x"] = 1\n',
        "answer_key",
        "modifies",
    ),
}


@pytest.mark.parametrize("old,new,field,words", GENERATOR_BREAKAGES.values(), ids=GENERATOR_BREAKAGES.keys())
def test_a_broken_generator_names_the_function(case_dir: Path, old: str, new: str, field: str, words: str) -> None:
    _edit(case_dir, "generator.py", old, new)
    _assert_named(_problems(case_dir), "generator.py", field, words)


def test_a_missing_generator_is_named(case_dir: Path) -> None:
    (case_dir / "generator.py").unlink()
    _assert_named(_problems(case_dir), "generator.py", "(file)", "missing")


def test_every_problem_is_reported_not_only_the_first(case_dir: Path) -> None:
    _edit(case_dir, "case.toml", 'kind = "ab-readout"', 'kind = "quiz"')
    _edit(case_dir, "case.toml", "points = 1", "points = 0")
    (case_dir / "brief.md").unlink()
    _edit(case_dir, "generator.py", "def answer_key(", "def answer_keys(")
    with pytest.raises(CaseFormatError) as caught:
        load_case(case_dir, check_rules=CHECK_RULES)
    fields = {(p.file, p.field) for p in caught.value.problems}
    assert {
        ("minimal-case/case.toml", "kind"),
        ("minimal-case/case.toml", "parts[1].points"),
        ("minimal-case/brief.md", "(file)"),
        ("minimal-case/generator.py", "answer_key"),
    } <= fields
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    assert (
        "minimal-case/case.toml: kind: 'quiz' is not one of product-design, ab-readout, error-analysis, ml-incident, review"
        in lines
    )


def test_dimension_ids_can_be_supplied_by_the_rubric(case_dir: Path) -> None:
    with pytest.raises(CaseFormatError) as caught:
        load_case(case_dir, check_rules=CHECK_RULES, dimensions={"communication"})
    assert {p.field for p in caught.value.problems} == {f"parts[{i}].dimensions" for i in range(4)}


def test_without_a_rubric_the_loader_does_not_guess_dimension_ids(case_dir: Path) -> None:
    # The vocabulary is the rubric's: the loader keeps no list of its own to drift from it.
    _edit(case_dir, "case.toml", 'dimensions = ["communication"]', 'dimensions = ["storytelling"]')
    assert load_case(case_dir, check_rules=CHECK_RULES).part("recommendation").dimensions == ("storytelling",)


def test_the_content_hash_follows_every_file_but_not_bytecode(case_dir: Path) -> None:
    before = content_hash(case_dir)
    (case_dir / "__pycache__").mkdir(exist_ok=True)
    (case_dir / "__pycache__" / "generator.cpython-311.pyc").write_bytes(b"\0")
    assert content_hash(case_dir) == before
    (case_dir / "extra").mkdir()
    (case_dir / "extra" / "notes.md").write_text("an author's note")
    assert content_hash(case_dir) != before
    assert load_case(case_dir, check_rules=CHECK_RULES).content_hash == content_hash(case_dir)


def test_renaming_a_file_changes_the_content_hash(case_dir: Path) -> None:
    (case_dir / "notes.md").write_text("x")
    before = content_hash(case_dir)
    (case_dir / "notes.md").rename(case_dir / "notes2.md")
    assert content_hash(case_dir) != before


def test_load_cases_reads_every_folder_and_reports_the_broken_ones(tmp_path: Path) -> None:
    for name in ("minimal-case", "second-case"):
        shutil.copytree(FIXTURE, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    _edit(tmp_path / "second-case", "case.toml", 'slug = "minimal-case"', 'slug = "second-case"')
    (tmp_path / ".hidden").mkdir()
    assert sorted(load_cases(tmp_path, check_rules=CHECK_RULES)) == ["minimal-case", "second-case"]
    (tmp_path / "second-case" / "brief.md").unlink()
    with pytest.raises(CaseFormatError) as caught:
        load_cases(tmp_path, check_rules=CHECK_RULES)
    assert [str(p) for p in caught.value.problems] == ["second-case/brief.md: (file): missing"]


# --- hidden frames: a generator's `hidden(seed, size)` and `answer_key(data, hidden)` -------------

MODEL_FIXTURE = Path(__file__).parents[1] / "grading" / "fixtures" / "tiny-model"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A writable copy of the tiny-model case, whose generator has hidden frames."""
    target = tmp_path / "tiny-model"
    shutil.copytree(MODEL_FIXTURE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def test_a_case_with_hidden_frames_computes_its_key_from_them(model_dir: Path) -> None:
    case = load_case(model_dir, check_rules=CHECK_RULES)
    assert set(case.hidden(3)) == {"holdout_labels", "calls"} and "holdout_labels" not in case.generate(3)
    key = case.key_for_seed(3)
    labels = case.hidden(3)["holdout_labels"].set_index("id")["label"]
    assert key["holdout_predictions"]["labels"] == [int(labels[i]) for i in case.generate(3)["holdout"]["id"]]
    with pytest.raises(ValueError, match="hidden frames"):
        case.answer_key(case.generate(3))
    assert load_case(FIXTURE, check_rules=CHECK_RULES).hidden(3) == {}


HIDDEN_BREAKAGES = {
    "hidden not a function": (
        "def hidden(seed: int, size: int)",
        "hidden = 1\ndef _unused(seed: int, size: int)",
        "hidden",
        "must be a function",
    ),
    "hidden not deterministic": (
        "rng = np.random.default_rng([seed, 2])",
        "rng = np.random.default_rng()",
        "hidden",
        "not deterministic",
    ),
    "hidden stem clashes with data": (
        'return {"holdout_labels": _holdout(seed)[["id", "label"]], "calls": calls}',
        'return {"holdout": _holdout(seed)[["id", "label"]], "calls": calls}',
        "hidden",
        "name of a data frame",
    ),
    "hidden returns no frames": (
        'return {"holdout_labels": _holdout(seed)[["id", "label"]], "calls": calls}',
        "return [calls]",
        "hidden",
        "dict of file stem",
    ),
    "key modifies hidden frames": (
        "    calls, expected = [], []\n",
        '    hidden["calls"]["value"] += 1\n    calls, expected = [], []\n',
        "answer_key",
        "modifies",
    ),
    "holdout labels of one class": (
        '"labels": [int(v) for v in labels.loc[data["holdout"]["id"]]]},',
        '"labels": [1 for v in labels.loc[data["holdout"]["id"]]]},',
        "answer_key",
        "both classes",
    ),
    "expected output not finite": (
        "expected.append(sum(values) * factor)",
        'expected.append(float("inf"))',
        "answer_key",
        "JSON",
    ),
}


@pytest.mark.parametrize("old,new,field,words", HIDDEN_BREAKAGES.values(), ids=HIDDEN_BREAKAGES.keys())
def test_a_broken_hidden_generator_is_named(model_dir: Path, old: str, new: str, field: str, words: str) -> None:
    _edit(model_dir, "generator.py", old, new)
    with pytest.raises(CaseFormatError) as caught:
        load_case(model_dir, check_rules=CHECK_RULES)
    matching = [p for p in caught.value.problems if p.file == "tiny-model/generator.py" and p.field == field]
    assert any(words in p.message for p in matching), str(caught.value)


# --- case kinds: the registry is the extension point -------------------------------------------

REVIEW_CASE = CASES_ROOT / "review-leakage"


def test_the_loader_accepts_exactly_the_registered_kinds(case_dir: Path) -> None:
    from assessments.content.kinds import CASE_KINDS

    _edit(case_dir, "case.toml", 'kind = "ab-readout"', 'kind = "sql-drill"')
    [problem] = [p for p in _problems(case_dir) if p.field == "kind"]
    assert problem.message == f"'sql-drill' is not one of {', '.join(CASE_KINDS)}"


def test_a_new_kind_plugs_in_by_registering_it(case_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assessments.content import kinds

    class SqlDrillKind(kinds.CaseKind):
        name = "sql-drill"
        summary = "write queries against a warehouse"
        hooks = ("SCHEMA",)

        def problems(self, parts, hooks):
            return [] if isinstance(hooks["SCHEMA"], str) else [("generator.py", "SCHEMA", "must be text")]

    monkeypatch.setitem(kinds.CASE_KINDS, SqlDrillKind.name, SqlDrillKind)
    _edit(case_dir, "case.toml", 'kind = "ab-readout"', 'kind = "sql-drill"')
    _assert_named(_problems(case_dir), "generator.py", "SCHEMA", "missing")
    (case_dir / "generator.py").write_text((case_dir / "generator.py").read_text() + "\nSCHEMA = 3\n")
    _assert_named(_problems(case_dir), "generator.py", "SCHEMA", "must be text")
    (case_dir / "generator.py").write_text((case_dir / "generator.py").read_text() + "\nSCHEMA = 'events(id)'\n")
    case = load_case(case_dir, check_rules=CHECK_RULES, dimensions=RUBRIC_DIMENSIONS)
    assert case.kind == "sql-drill" and case.kind_hooks == {"SCHEMA": "events(id)"}


def test_a_review_case_carries_its_exercise_hooks() -> None:
    case = load_case(REVIEW_CASE, check_rules=CHECK_RULES, dimensions=RUBRIC_DIMENSIONS)
    assert set(case.kind_hooks) == {"DEFECT_CATALOGUE", "flawed_cells"}
    assert case.kind_hooks["flawed_cells"](3)[0]["label"]


@pytest.fixture
def review_dir(tmp_path: Path) -> Path:
    target = tmp_path / "review-leakage"
    shutil.copytree(REVIEW_CASE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


REVIEW_BREAKAGES = {
    "no flawed_cells": (
        "def flawed_cells(seed: int)",
        "def _cells(seed: int)",
        "generator.py",
        "flawed_cells",
        "missing: a 'review' case's generator defines it",
    ),
    "catalogue entry without a fix": (
        '"how_to_fix": "Keep only features known at the snapshot date',
        '"how_to": "',
        "generator.py",
        "DEFECT_CATALOGUE['target-leakage']",
        "how_to_fix",
    ),
    "a labels check without the catalogue": (
        '    "multiple-comparisons",\n]',
        "]",
        "case.toml",
        "parts",
        "must list DEFECT_CATALOGUE's ids",
    ),
    "a second checkable part": (
        "[parts.guidance]",
        '[parts.check]\nkind = "boolean"\n[parts.guidance]',
        "case.toml",
        "parts",
        "exactly one checkable part",
    ),
}


@pytest.mark.parametrize("old,new,file,field,words", REVIEW_BREAKAGES.values(), ids=REVIEW_BREAKAGES.keys())
def test_a_review_case_without_what_its_exercise_needs_is_refused(
    review_dir: Path, old: str, new: str, file: str, field: str, words: str
) -> None:
    name = "case.toml" if file == "case.toml" else "generator.py"
    _edit(review_dir, name, old, new)
    with pytest.raises(CaseFormatError) as caught:
        load_case(review_dir, check_rules=CHECK_RULES, dimensions=RUBRIC_DIMENSIONS)
    matching = [p for p in caught.value.problems if p.file == f"review-leakage/{file}" and p.field == field]
    assert any(words in p.message for p in matching), str(caught.value)
