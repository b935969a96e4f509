"""grade_notebook end to end on the fixture case: scoring against the independent key, and no-sandbox handling."""

from __future__ import annotations

import logging
import threading

import pytest

from assessments.grading.pipeline import grade_notebook
from assessments.grading.sandbox import SandboxUnavailable
from tests.grading.conftest import SEED, TEST_LIMITS


@pytest.mark.sandbox
def test_a_correct_notebook_earns_every_point_and_the_stub_none(case, solved, released, sandbox) -> None:
    report = grade_notebook(solved(), case, SEED, limits=sandbox)
    assert (report.earned, report.possible, report.error, report.sandboxed) == (9, 9, None, True)
    assert report.timings.total >= report.timings.execution > 0
    blank = grade_notebook(released, case, SEED, limits=sandbox)
    assert blank.earned == 0 and {c.status for c in blank.checks} == {"missing"}
    assert blank.answers == {}


@pytest.mark.sandbox
def test_answers_are_scored_against_this_seeds_data(case, solved, sandbox) -> None:
    # The same notebook run for another seed reads that seed's data: still all correct, and the
    # values differ, so a key copied from another candidate would not pass.
    other = grade_notebook(solved(), case, SEED + 1, limits=sandbox)
    assert other.earned == 9
    assert case.answer_key(case.generate(SEED))["total"] != case.answer_key(case.generate(SEED + 1))["total"]


@pytest.mark.sandbox
def test_partial_and_invalid_answers_get_partial_credit_and_clear_messages(case, released, key, sandbox) -> None:
    import nbformat

    # Independent of the generator's code: values written out from the key, then perturbed.
    wrong_mean = dict(key["group_means"])
    first = sorted(wrong_mean)[0]
    wrong_mean[first] += 1.0
    flags = list(key["flagged"])[:-1] + ["not-a-row"] if key["flagged"] else ["not-a-row"]
    released.cells.append(
        nbformat.v4.new_code_cell(
            f"import pandas as pd\ntotal = {key['total']!r} + 1e-7\ntop_group = pd.DataFrame()\n"
            f"has_negative = {key['has_negative']!r}\nflagged = {flags!r}\ngroup_means = {wrong_mean!r}\n"
        )
    )
    report = grade_notebook(released, case, SEED, limits=sandbox)
    assert report.check("total").status == "correct"  # within abs_tol 1e-6
    assert report.check("top_group").status == "invalid" and "DataFrame" in report.check("top_group").message
    assert report.check("group_means").earned == pytest.approx(3 * (len(wrong_mean) - 1) / len(wrong_mean))
    assert f"'{first}'" in report.check("group_means").message
    n = len(key["flagged"])
    expected_flag_points = max(0.0, 2 * ((n - 1) - 0.5) / n) if n else max(0.0, 2 * (1 - 0.5))
    assert report.check("flagged").earned == pytest.approx(expected_flag_points)
    # The values the checks read are kept on the report (the integrity report compares them with
    # other candidates' keys); one the sandbox could not read as plain JSON is not.
    assert report.answers["total"] == pytest.approx(key["total"] + 1e-7)
    assert report.answers["group_means"] == wrong_mean and "top_group" not in report.answers


@pytest.mark.sandbox
def test_two_notebooks_graded_at_once_are_both_graded_in_full(case, solved, sandbox) -> None:
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(grade_notebook(solved(), case, SEED, limits=sandbox)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.earned for r in reports] == [9, 9]


def test_without_a_sandbox_grading_refuses_unless_the_operator_allows_it(
    case, solved, monkeypatch, tmp_path, caplog
) -> None:
    monkeypatch.setenv("ASSESS_SANDBOX_VENV", str(tmp_path / "no-runtime"))
    monkeypatch.delenv("ASSESS_UNSAFE_NO_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable, match="ASSESS_UNSAFE_NO_SANDBOX=1"):
        grade_notebook(solved(), case, SEED, limits=TEST_LIMITS)
    monkeypatch.setenv("ASSESS_UNSAFE_NO_SANDBOX", "1")
    with caplog.at_level(logging.WARNING, logger="assessments.grading.sandbox"):
        report = grade_notebook(solved(), case, SEED, limits=TEST_LIMITS)
    assert report.sandboxed is False and report.earned == 9, report
    assert any("WITHOUT A SANDBOX" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.sandbox
def test_notebook_features_work_as_in_jupyter(case, solved, sandbox) -> None:
    # Magics, display(), inline plots and the notebook's own globals behave as they do in Jupyter.
    features = [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
        "%%time\nsquares = [i * i for i in range(1000)]",
        "import pandas as pd\ndisplay(pd.DataFrame({'a': [1, 2]}))\nget_ipython().run_line_magic('who', '')",
        "assert In and squares[-1] == 998001\nsquares[-1]",
        "assert _ == 998001",
    ]
    report = grade_notebook(solved(*features), case, SEED, limits=sandbox)
    assert (report.earned, report.error) == (9, None), report
    assert [c.status for c in report.cells[-len(features) :]] == ["ok"] * len(features), report.cells


def test_a_part_resting_on_others_counts_only_when_they_earn_full_marks(tmp_path) -> None:
    import shutil

    from assessments.content.case import load_case
    from assessments.grading.checks import CHECK_RULES
    from assessments.grading.pipeline import rest_on_evidence
    from assessments.grading.report import CheckResult
    from tests.grading.conftest import FIXTURE_CASE

    folder = tmp_path / FIXTURE_CASE.name
    shutil.copytree(FIXTURE_CASE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = folder / "case.toml"
    text = toml.read_text()
    text = text.replace('id = "has_negative"', 'id = "has_negative"\nrests_on = ["total", "top_group"]', 1)
    toml.write_text(text.replace('id = "flagged"', 'id = "flagged"\nrests_on = ["has_negative"]', 1))
    case = load_case(folder, check_rules=CHECK_RULES)

    def graded(**earned: float) -> dict[str, CheckResult]:
        checks = [
            CheckResult(
                p.id,
                earned.get(p.id, p.points),
                p.points,
                "correct" if earned.get(p.id, p.points) == p.points else "partial",
                "Checked.",
            )
            for p in case.checkable_parts
        ]
        return {c.part_id: c for c in rest_on_evidence(case, checks)}

    everything = graded()
    assert all(c.earned == c.possible and c.status == "correct" for c in everything.values())
    # A guessed yes/no whose evidence is wrong earns nothing, and neither does what rests on it in turn.
    wrong_total = graded(total=0.0)
    assert wrong_total["has_negative"].earned == 0 and wrong_total["has_negative"].status == "incorrect"
    assert "rests on are right, and `total` is not." in wrong_total["has_negative"].message
    assert wrong_total["flagged"].earned == 0
    assert wrong_total["top_group"].earned == wrong_total["top_group"].possible
    # Partial evidence is not enough; parts that rest on nothing are untouched.
    partial = graded(top_group=0.5)
    assert partial["has_negative"].earned == 0 and "`top_group` is not" in partial["has_negative"].message
    assert partial["group_means"].earned == partial["group_means"].possible
