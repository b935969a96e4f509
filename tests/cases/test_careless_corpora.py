"""Every case's careless-analyst corpus, graded through the real pipeline and sandbox on ten seeds.

Each corpus (tests/cases/careless/<case>/, its README says what each notebook gets wrong) must hold:
a careless notebook earns nothing on the parts its mistake breaks and full marks on the rest, a
notebook that computes nothing and guesses scores at most a fifth, and every correct alternative
method earns full marks. `flask --app app cases validate SLUG --careless` prints the same table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assessments.content.case import load_case
from assessments.content.corpus import CorpusError, read_corpus, read_entry
from assessments.content.notebook import release_notebook
from assessments.grading.checks import CHECK_RULES
from assessments.grading.corpus import EntryResult, grade_corpus
from assessments.grading.report import CheckResult, GradeReport, Timings

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT / "tests" / "cases" / "careless"
CORPUS_SEEDS = range(10)
CASES = sorted(folder.name for folder in CORPORA.iterdir() if folder.is_dir() and not folder.name.startswith("_"))


def _case(corpus: str):
    return load_case(ROOT / "cases" / corpus.replace("_", "-"), check_rules=CHECK_RULES)


@pytest.mark.parametrize("corpus", CASES)
def test_each_corpus_is_well_formed_and_covers_every_kind_of_work(corpus: str) -> None:
    case = _case(corpus)
    entries = read_corpus(CORPORA / corpus)
    checkable = {part.id for part in case.checkable_parts}
    answer_cells = {
        c.metadata["assess"]["answer"] for c in release_notebook(case).cells if "answer" in c.metadata.get("assess", {})
    }
    for entry in entries:
        assert set(entry.answers) <= answer_cells, (entry.name, set(entry.answers) - answer_cells)
        assert entry.constrained <= checkable, (entry.name, entry.constrained - checkable)
        if entry.kind == "correct":
            assert checkable <= set(entry.answers), (entry.name, checkable - set(entry.answers))
        compile("\n".join([*entry.own_cells, *entry.answers.values()]), entry.name, "exec")
    kinds = [entry.kind for entry in entries]
    assert kinds.count("careless") >= 3 and kinds.count("correct") >= 1 and kinds.count("guess") >= 1, kinds


def test_a_corpus_file_that_does_not_say_what_it_breaks_is_refused(tmp_path: Path) -> None:
    entry = tmp_path / "vague.cells"
    entry.write_text("# kind: careless\n# %% answer lift\nlift = 0.1\n")
    with pytest.raises(CorpusError, match="must say what its mistake breaks"):
        read_entry(entry)
    entry.write_text("# kind: sloppy\n# %% answer lift\nlift = 0.1\n")
    with pytest.raises(CorpusError, match="kind"):
        read_entry(entry)
    entry.write_text("# kind: careless\n# breaks: lift<=half\n")
    with pytest.raises(CorpusError, match="lift<=half"):
        read_entry(entry)


def test_the_header_cells_and_answers_are_read_in_both_layouts(tmp_path: Path) -> None:
    cells = tmp_path / "cells.cells"
    cells.write_text(
        "# kind: careless\n# breaks: a, b<=0.125\n# partial: c\n# constant: d=pr_auc\n# what it does\n"
        "# %%\nx = 1\n# %% answer a\na = x\n"
    )
    percent = tmp_path / "percent.py"
    percent.write_text("# ruff: noqa: F821\n# kind: correct\nx = 1\n\n# %% answer: a\na = x\n")
    first, second = read_entry(cells), read_entry(percent)
    assert first.breaks == {"a": 0.0, "b": 0.125} and first.partial == {"c"} and first.constant == {"d": "pr_auc"}
    assert first.own_cells == ("# what it does", "x = 1") and first.answers == {"a": "a = x"}
    assert second.kind == "correct" and second.own_cells == ("x = 1",) and second.answers == {"a": "a = x"}


@pytest.fixture(scope="module", params=CASES)
def corpus_results(request: pytest.FixtureRequest) -> list:
    from assessments.grading.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(f"the grading sandbox is unavailable: {problem}. Run `make sandbox`.", pytrace=False)
    return grade_corpus(_case(request.param), read_corpus(CORPORA / request.param), CORPUS_SEEDS)


@pytest.mark.sandbox
def test_every_corpus_notebook_earns_what_its_work_deserves_on_every_seed(corpus_results: list) -> None:
    for result in corpus_results:
        failed = [
            (seed, cell) for seed, report in result.reports.items() for cell in report.cells if cell.status != "ok"
        ]
        assert not failed or result.entry.kind != "correct", (result.entry.name, failed)
        assert not result.problems, (result.entry.name, result.problems)


def _report(earned: dict[str, float]) -> GradeReport:
    checks = tuple(CheckResult(part_id, points, 2.0, "ok", "") for part_id, points in earned.items())
    return GradeReport(
        grader_version="test",
        case_slug="demo",
        case_version="v",
        seed=0,
        earned=sum(earned.values()),
        possible=2.0 * len(earned),
        checks=checks,
        cells=(),
        timings=Timings(),
    )


def test_the_verdict_names_each_part_a_notebook_earned_against_its_header(tmp_path: Path) -> None:
    path = tmp_path / "mixed.cells"
    path.write_text(
        "# kind: careless\n# breaks: lift<=0.25\n# partial: interval\n# constant: metric=pr_auc\n"
        "# %% answer lift\n# %% answer interval\n# %% answer metric\n# %% answer rate\n"
    )
    entry = read_entry(path)
    keys = {0: {"metric": "pr_auc"}, 1: {"metric": "roc_auc"}}
    held = EntryResult(entry, {0: _report({"lift": 0.5, "interval": 1, "metric": 2, "rate": 2})}, keys)
    assert held.problems == []
    broken = EntryResult(
        entry,
        {
            0: _report({"lift": 1.0, "interval": 2, "metric": 0, "rate": 1}),
            1: _report({"lift": 0, "interval": 0, "metric": 2, "rate": 2}),
        },
        keys,
    )
    assert [problem.split(":")[1].split()[0] for problem in broken.problems] == [
        "lift",
        "interval",
        "metric",
        "rate",
        "metric",
    ]
    guess = EntryResult(read_entry(_write(tmp_path, "# kind: guess\n")), {0: _report({"rate": 1})}, keys)
    assert guess.problems == ["scores 50% on average, more than 20%"]


def _write(folder: Path, text: str) -> Path:
    path = folder / "guess.cells"
    path.write_text(text)
    return path


def test_a_graded_part_is_held_to_its_mean_share_over_the_seeds_not_on_each_seed(tmp_path: Path) -> None:
    path = tmp_path / "code_only.cells"
    path.write_text("# kind: careless\n# mean: flags<=0.6\n# %% answer flags\n# %% answer rate\n")
    entry = read_entry(path)
    assert entry.mean == {"flags": 0.6} and entry.constrained == {"flags"}
    keys: dict[int, dict] = {0: {}, 1: {}}
    # Full marks on a seed where the mistake does not matter is fine while the mean stays under.
    held = EntryResult(entry, {0: _report({"flags": 2, "rate": 2}), 1: _report({"flags": 0.4, "rate": 2})}, keys)
    assert held.problems == []
    over = EntryResult(entry, {0: _report({"flags": 2, "rate": 2}), 1: _report({"flags": 1, "rate": 2})}, keys)
    assert over.problems == ["flags earned 75% of its points on average, more than 60%"]
    path.write_text("# kind: careless\n# mean: flags<=most\n")
    with pytest.raises(CorpusError, match="in `# mean:`"):
        read_entry(path)
