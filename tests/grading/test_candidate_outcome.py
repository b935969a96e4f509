"""What a candidate reads about a graded upload, from real gradings of real failure modes: never a score."""

from __future__ import annotations

import copy

import nbformat
import pytest

from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import CellResult, GradeReport, RunFailure, Timings
from assessments.services.grading import GradingProgress
from assessments.services.receipts import candidate_outcome

from .conftest import SEED


def _outcome(report: GradeReport):
    return candidate_outcome(GradingProgress("done", report, report.error))


def _assert_reveals_nothing(text: str, report: GradeReport) -> None:
    for check in report.checks:
        assert check.message not in text
    for word in ("point", "score", "tolerance", "expected", "correct", "%"):
        assert word not in text.lower()


def _with_source(notebook, index: int, source: str):
    notebook = copy.deepcopy(notebook)
    notebook.cells[index].source = source
    return notebook


@pytest.mark.sandbox
def test_a_clean_run_says_it_ran_and_counts_the_answers(case, solved, sandbox) -> None:
    report = grade_notebook(solved(), case, SEED, limits=sandbox)
    outcome = _outcome(report)
    assert (
        outcome.text == f"ran without errors; {len(case.checkable_parts)} of {len(case.checkable_parts)} answers found"
    )
    assert outcome.ran_clean is True


@pytest.mark.sandbox
def test_a_wrong_answer_is_still_found_and_nothing_says_it_is_wrong(case, solved, sandbox) -> None:
    notebook = solved()
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("assess", {}).get("answer") == "total")
    report = grade_notebook(_with_source(notebook, index, "total = -12345.0"), case, SEED, limits=sandbox)
    assert report.earned < report.possible
    text = _outcome(report).text
    assert text.startswith("ran without errors; 5 of 5 answers found")
    _assert_reveals_nothing(text, report)


@pytest.mark.sandbox
def test_a_missing_data_file_names_the_cell_the_file_and_the_readme(case, solved, sandbox) -> None:
    notebook = _with_source(solved(), 1, "import pandas as pd\nrows = pd.read_csv('data/rows.csv')")
    report = grade_notebook(notebook, case, SEED, limits=sandbox)
    outcome = _outcome(report)
    assert outcome.text.startswith(
        "cell 2 raised FileNotFoundError: 'data/rows.csv' — your data files are next to the notebook, see the README"
    )
    assert outcome.text.endswith("0 of 5 answers found")
    assert outcome.ran_clean is False
    _assert_reveals_nothing(outcome.text, report)


@pytest.mark.sandbox
def test_a_name_error_asks_for_a_run_from_top_to_bottom(case, solved, sandbox) -> None:
    notebook = solved()
    notebook.cells.insert(2, nbformat.v4.new_code_cell("rows = rows_cleaned"))
    report = grade_notebook(notebook, case, SEED, limits=sandbox)
    text = _outcome(report).text
    assert text.startswith(
        "cell 3 raised NameError: name 'rows_cleaned' is not defined — run the notebook from top "
        "to bottom in a fresh kernel"
    )
    # The cells after it still ran on the earlier `rows`, so their answers were found.
    assert text.endswith("5 of 5 answers found")


@pytest.mark.sandbox
def test_a_cell_that_runs_too_long_is_named(case, solved, sandbox) -> None:
    notebook = solved()
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("assess", {}).get("answer") == "flagged")
    notebook = _with_source(notebook, index, "import time\ntime.sleep(60)\nflagged = []")
    report = grade_notebook(notebook, case, SEED, limits=sandbox)
    text = _outcome(report).text
    assert text == (
        f"cell {index + 1} ran past the time limit for one cell and was stopped; 4 of 5 answers found "
        "(not found: flagged)"
    )


@pytest.mark.sandbox
def test_a_dead_kernel_says_where_it_died(case, solved, sandbox) -> None:
    notebook = _with_source(solved(), 3, "import os\nos._exit(3)")
    report = grade_notebook(notebook, case, SEED, limits=sandbox)
    assert report.failure == RunFailure.KERNEL_DIED
    text = _outcome(report).text
    assert text.startswith("the Python kernel died while running cell 4")
    assert "later cells did not run" in text
    assert text.endswith("answers found")
    _assert_reveals_nothing(text, report)


def test_a_kernel_stopped_for_the_submissions_memory_says_so_with_the_limit() -> None:
    # What the grader writes on the cell when the run's memory cgroup ended the kernel (pipeline.py).
    error = (
        "MemoryError: more than 1 GiB of memory in total (the limit for one submission, counting every "
        "process it starts)"
    )
    cells = (CellResult(0, "ok", None, 0.1), CellResult(8, "kernel-died", error, 2.0))
    report = GradeReport("1.0", "x", "h", 1, 0.0, 3.0, (), cells, Timings(), failure=RunFailure.KERNEL_DIED)
    text = candidate_outcome(GradingProgress("done", report, None)).text
    assert text.startswith(
        "the Python kernel was stopped while running cell 9: the notebook used more than 1 GiB of memory in total"
    )
    assert "counting every process it starts" in text and "later cells did not run" in text


def test_waiting_and_our_own_failures_never_blame_the_candidate() -> None:
    assert candidate_outcome(GradingProgress("queued", None, None)).text == "received, waiting to be checked"
    assert candidate_outcome(GradingProgress("running", None, None)).text == "being checked"
    report = GradeReport(
        "1.0",
        "x",
        "h",
        1,
        0.0,
        3.0,
        (),
        (CellResult(0, "ok", None, 0.1),),
        Timings(),
        error="internal",
        failure=RunFailure.RUNNER_FAILED,
    )
    assert "staff will review" in candidate_outcome(GradingProgress("done", report, "internal")).text
    assert "staff will review" in candidate_outcome(GradingProgress("failed", None, "gave up")).text


def test_a_long_error_is_cut_short() -> None:
    report = GradeReport(
        "1.0", "x", "h", 1, 0.0, 0.0, (), (CellResult(4, "error", "ValueError: " + "x" * 900, 0.1),), Timings()
    )
    text = candidate_outcome(GradingProgress("done", report, None)).text
    assert text.startswith("cell 5 raised ValueError: xxx")
    assert len(text) < 300
