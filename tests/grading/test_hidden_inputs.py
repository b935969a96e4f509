"""Function and predictions parts end to end in the real sandbox, on the tiny-model fixture case.

The function's hidden calls go in only after the last cell and its expected outputs never do; the
holdout's labels never enter the sandbox at all. Each attack below would, if it worked, change a
score; each endless or broken function must cost only its own part.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from assessments.content.bundle import frame_csv
from assessments.content.case import CaseSpec, load_case
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.grading.checks import CHECK_RULES
from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import GradeReport
from assessments.grading.runtime import default_runtime_path
from assessments.grading.sandbox import SandboxLimits
from tests.grading.conftest import SEED, TEST_LIMITS, grade_cold_or_warm

pytestmark = pytest.mark.sandbox

MODEL_CASE = Path(__file__).parent / "fixtures" / "tiny-model"
TEST_WALL_SECONDS = TEST_LIMITS.wall_seconds


@pytest.fixture(scope="module")
def model_case() -> CaseSpec:
    return load_case(MODEL_CASE, check_rules=CHECK_RULES)


@pytest.fixture(scope="module")
def key(model_case: CaseSpec) -> dict:
    return model_case.key_for_seed(SEED)


def _notebook(
    case: CaseSpec, *, function: str | None = None, predictions: str | None = None, extra: tuple[str, ...] = ()
) -> nbformat.NotebookNode:
    """The author's notebook, with the function or predictions answer cell replaced and cells appended."""
    notebook = copy.deepcopy(solution_notebook(case))
    for cell in notebook.cells:
        part = cell.metadata.get("assess", {}).get("answer")
        if part == "scaled_sum" and function is not None:
            cell.source = function
        if part == "holdout_predictions" and predictions is not None:
            cell.source = predictions
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in extra)
    return notebook


@pytest.fixture(params=["cold", "warm", "fork"])
def grade(request: pytest.FixtureRequest, model_case: CaseSpec, sandbox: SandboxLimits) -> Callable[..., GradeReport]:
    """grade_notebook on the model case, cold, in a warm sandbox from a fresh pool of one, or in a fork."""
    forks = request.getfixturevalue("fork_server") if request.param == "fork" else None
    return lambda notebook: grade_cold_or_warm(request.param, notebook, model_case, sandbox, forks)


def _holdout_auc(case: CaseSpec, scores: list[float]) -> float:
    labels = case.hidden(SEED)["holdout_labels"]["label"].to_numpy()
    return float(roc_auc_score(labels, scores))


# --- full marks and the release notebook --------------------------------------------------


def test_a_correct_function_and_holdout_scores_earn_every_point(model_case, grade) -> None:
    report = grade(_notebook(model_case))
    assert report.error is None and report.earned == report.possible == 7, report.checks
    assert "4 of 4 passed" in report.check("scaled_sum").message
    auc = _holdout_auc(model_case, model_case.generate(SEED)["holdout"]["x"].tolist())
    assert f"{auc:.3f}" in report.check("holdout_predictions").message


def test_the_release_notebook_earns_nothing(model_case, sandbox) -> None:
    report = grade_notebook(release_notebook(model_case), model_case, SEED, limits=sandbox)
    assert report.error is None and report.earned == 0
    assert report.check("scaled_sum").status == "incorrect"
    assert "cases 1, 2, 3, 4 raised NotImplementedError" in report.check("scaled_sum").message
    assert report.check("holdout_predictions").status == "missing"


# --- a wrong, broken or endless function costs only its own part ---------------------------


def test_a_wrong_function_gets_partial_credit_and_each_failure_named(model_case, sandbox) -> None:
    broken = """
def scaled_sum(values, factor=1.0):
    if len(values) == 1:
        return list(range(10**6))  # too large to read back
    if factor == -1.5:
        return "not a number"
    if factor != 1.0:
        raise ZeroDivisionError("the factor")
    return sum(values) * factor
"""
    report = grade_notebook(_notebook(model_case, function=broken), model_case, SEED, limits=sandbox)
    check = report.check("scaled_sum")
    assert (check.earned, check.status) == (1.0, "partial"), check
    assert "case 2 raised ZeroDivisionError" in check.message
    assert "case 3 returned a value the grader cannot read" in check.message
    assert "case 4 returned a str instead of a number" in check.message
    assert report.check("total").status == report.check("holdout_predictions").status == "correct"


@pytest.mark.parametrize(
    ("source", "status", "words"),
    [
        ("scaled_sum = 3", "invalid", "`scaled_sum` is not a function"),
        ("pass", "missing", "`scaled_sum` was never defined"),
    ],
)
def test_a_missing_or_uncallable_function_is_said_so(model_case, sandbox, source, status, words) -> None:
    report = grade_notebook(_notebook(model_case, function=source), model_case, SEED, limits=sandbox)
    assert report.check("scaled_sum").status == status and words in report.check("scaled_sum").message
    assert report.earned == 3  # the other parts


def test_an_endless_function_is_stopped_call_by_call_and_the_rest_is_graded(model_case, grade) -> None:
    endless = "def scaled_sum(values, factor=1.0):\n    while True:\n        pass\n"
    report = grade(_notebook(model_case, function=endless))
    check = report.check("scaled_sum")
    assert report.error is None and check.earned == 0
    assert "cases 1, 2, 3, 4 were stopped after 1 s" in check.message
    assert report.check("total").status == report.check("holdout_predictions").status == "correct"


@pytest.mark.parametrize(
    ("function", "words"),
    [
        # Swallows the timer's exceptions and the runner's interrupts: the ones that land outside its
        # `try` stop a call, and the step's own limit ends the rest (how many of each varies).
        (
            "def scaled_sum(values, factor=1.0):\n    while True:\n        try:\n            while True:\n"
            "                pass\n        except BaseException:\n            pass\n",
            "0 of 4 passed; case",
        ),
        (
            "import os\ndef scaled_sum(values, factor=1.0):\n    if factor != 1.0:\n        os._exit(3)\n"
            "    return sum(values) * factor\n",
            "case 2 made the Python kernel die (for example by using too much memory); cases 3, 4 were not run",
        ),
    ],
)
def test_a_function_that_hangs_the_kernel_or_kills_it_costs_only_its_own_part(
    model_case, sandbox, function, words
) -> None:
    report = grade_notebook(_notebook(model_case, function=function), model_case, SEED, limits=sandbox)
    assert report.error is None, report.error
    assert words in report.check("scaled_sum").message
    assert report.check("total").status == report.check("holdout_predictions").status == "correct"
    assert report.timings.total < sandbox.wall_seconds


@pytest.mark.parametrize(
    "switch_off",
    [
        # Replaces the timer the per-call limit once used inside the kernel, then loops forever.
        "signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)\nsignal.signal = lambda *args: None",
        # Blocks the timer's signal in the kernel's thread, then takes longer than the limit.
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})",
    ],
)
def test_per_call_limits_hold_when_the_notebook_switches_off_timers(model_case, grade, switch_off) -> None:
    # Each call outlives its 1 s limit; only a limit the notebook cannot reach stops every one.
    body = "while True:\n        pass" if "setitimer" in switch_off else "time.sleep(1.6)"
    function = (
        f"import signal, time\n{switch_off}\n"
        f"def scaled_sum(values, factor=1.0):\n    {body}\n    return sum(values) * factor\n"
    )
    report = grade(_notebook(model_case, function=function))
    check = report.check("scaled_sum")
    assert report.error is None, report.error
    assert (check.earned, check.status) == (0, "incorrect"), check.message
    assert "cases 1, 2, 3, 4 were stopped after 1 s" in check.message, check.message
    assert report.check("total").status == report.check("holdout_predictions").status == "correct"
    assert report.timings.total < TEST_WALL_SECONDS


# --- nothing secret is in the sandbox -----------------------------------------------------


def _cheat(targets: set[str]) -> str:
    """A scaled_sum that never computes: it returns an expected output if it can find one anywhere.

    It skips the sandbox's Python runtime (libraries only), which sits under /work on this machine.
    """
    runtime = str(default_runtime_path())
    return f"""
import gc, glob, hashlib, os, re, sys

def scaled_sum(values, factor=1.0):
    targets = {sorted(targets)!r}
    def hit(number):
        return type(number) is float and hashlib.sha256(repr(number).encode()).hexdigest() in targets
    frame = sys._getframe(1)
    while frame is not None:  # the grader's frames that called this function
        for space in (frame.f_locals, frame.f_globals):
            for value in list(space.values()):
                for item in (value if isinstance(value, (list, tuple)) else [value]):
                    if hit(item):
                        return item
        frame = frame.f_back
    for obj in gc.get_objects():  # every list and tuple alive in the kernel (a key would be one)
        if type(obj) in (list, tuple) and obj and type(obj[0]) in (float, dict, list):
            for item in obj[:1000]:
                for number in (item.values() if type(item) is dict else item if type(item) is list else [item]):
                    if hit(number):
                        return number
    paths = glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ")
    for root in ("/work", "/tmp", "/opt/runner"):
        paths += [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names
                  if not folder.startswith({runtime!r})]
    for path in paths:
        try:
            with open(path, "rb") as handle:
                text = handle.read(10_000_000).decode("utf-8", "replace")
        except OSError:
            continue
        for token in re.findall(r"-?\\d+\\.\\d+(?:e-?\\d+)?", text):
            if hit(float(token)):
                return float(token)
    return -1.0
"""


def test_a_function_searching_for_the_expected_outputs_finds_none(model_case, key, sandbox) -> None:
    targets = {hashlib.sha256(repr(float(v)).encode()).hexdigest() for v in key["scaled_sum"]["expected"]}
    report = grade_notebook(_notebook(model_case, function=_cheat(targets)), model_case, SEED, limits=sandbox)
    check = report.check("scaled_sum")
    assert check.earned == 0 and "cases 1, 2, 3, 4 returned a wrong value" in check.message, check.message
    # Control: the same search finds an expected output the notebook itself keeps in memory.
    planted = f"planted = [{key['scaled_sum']['expected'][1]!r}]"
    control = grade_notebook(
        _notebook(model_case, function=_cheat(targets), extra=(planted,)), model_case, SEED, limits=sandbox
    )
    assert control.check("scaled_sum").earned == 1.0, control.check("scaled_sum").message


def _hunt_source(roots: list[str], skip: list[str]) -> str:
    """Notebook code looking for the holdout's labels in every readable file and process listing."""
    return f"""
import glob, os, re
pattern = re.compile(rb"(^|\\n)h\\d{{3}},[01]\\r?(\\n|$)")
found_labels = []
paths = glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ")
for root in {roots!r}:
    for folder, dirs, names in os.walk(root):
        if folder.startswith(("/proc", "/sys", "/dev", "/usr", *{skip!r})):
            dirs[:] = []
            continue
        paths += [os.path.join(folder, name) for name in names]
for path in paths:
    try:
        with open(path, "rb") as handle:
            data = handle.read(5_000_000).replace(b"\\0", b"\\n")
    except OSError:
        continue
    # The name is built here, so that this cell's own source (in the notebook file) does not hold it.
    if b"holdout" + b"_labels" in data or pattern.search(data):
        found_labels.append(path)
if found_labels:
    total = -1.0
"""


def test_a_notebook_hunting_for_the_holdout_labels_finds_none(model_case, grade, tmp_path) -> None:
    # Control, outside the sandbox: the hunt finds the labels file the grader keeps, were it written.
    (tmp_path / "holdout_labels.csv").write_bytes(frame_csv(model_case.hidden(SEED)["holdout_labels"]))
    scope: dict = {"total": 1.0}
    exec(_hunt_source([str(tmp_path)], []), scope)
    assert scope["found_labels"] == [str(tmp_path / "holdout_labels.csv")] and scope["total"] == -1.0
    report = grade(_notebook(model_case, extra=(_hunt_source(["/"], [str(default_runtime_path())]),)))
    assert report.cells[-1].status == "ok", report.cells[-1]
    assert report.check("total").status == "correct" and report.earned == 7


# --- predictions by band ------------------------------------------------------------------


def test_holdout_scores_earn_the_band_their_auc_reaches(model_case, sandbox) -> None:
    holdout = model_case.generate(SEED)["holdout"]
    rng = np.random.default_rng(3)
    # Noisier scores, computed here: the first noise level whose AUC falls in the middle band.
    noisy = next(
        scores
        for scale in (0.8, 1.0, 1.2, 1.5, 2.0)
        for scores in [(holdout["x"] + scale * rng.normal(size=len(holdout))).round(6).tolist()]
        if 0.76 <= _holdout_auc(model_case, scores) < 0.88
    )
    by_id = dict(zip(holdout["id"], noisy, strict=True))
    report = grade_notebook(
        _notebook(model_case, predictions=f"holdout_predictions = {by_id!r}"), model_case, SEED, limits=sandbox
    )
    check = report.check("holdout_predictions")
    assert (check.earned, check.status) == (1.0, "partial"), check.message
    assert f"{_holdout_auc(model_case, noisy):.3f}" in check.message and "reaches ≥ 0.75" in check.message
    reverse = "holdout_predictions = (-holdout['x']).tolist()"
    report = grade_notebook(_notebook(model_case, predictions=reverse), model_case, SEED, limits=sandbox)
    assert report.check("holdout_predictions").earned == 0
    assert "below the last band" in report.check("holdout_predictions").message
    short = "holdout_predictions = holdout['x'].tolist()[:-1]"
    report = grade_notebook(_notebook(model_case, predictions=short), model_case, SEED, limits=sandbox)
    assert report.check("holdout_predictions").status == "invalid"
    assert "Expected 200 predictions" in report.check("holdout_predictions").message
    assert os.environ.get("ASSESS_UNSAFE_NO_SANDBOX") != "1"
