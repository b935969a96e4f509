"""Fixtures for the grading tests: the tiny fixture case, notebooks built from it, and the sandbox gate."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from assessments.content.case import CaseSpec, load_case
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.grading.checks import CHECK_RULES
from assessments.grading.forkserver import ForkServer
from assessments.grading.pipeline import grade_notebook
from assessments.grading.pool import SandboxPool
from assessments.grading.report import GradeReport
from assessments.grading.sandbox import SandboxLimits, sandbox_problem

FIXTURE_CASE = Path(__file__).parent / "fixtures" / "tiny-sums"
SEED = 7

# Small limits keep the suite fast on two shared cores; each is still far above what the fixture needs.
TEST_LIMITS = SandboxLimits(
    wall_seconds=40,
    cell_seconds=4,
    cpu_seconds=40,
    memory_bytes=2 * 1024**3,
    file_bytes=16 * 1024**2,
    output_bytes=1024**2,
    scratch_bytes=64 * 1024**2,
)


@pytest.fixture(scope="session")
def case() -> CaseSpec:
    """The tiny-sums fixture case, loaded and validated like any case folder."""
    return load_case(FIXTURE_CASE, check_rules=CHECK_RULES)


@pytest.fixture(scope="session")
def key(case: CaseSpec) -> dict:
    """The answer key for SEED (what a correct notebook must produce)."""
    return case.answer_key(case.generate(SEED))


@pytest.fixture
def solved(case: CaseSpec) -> Callable[..., nbformat.NotebookNode]:
    """A factory: the release notebook with correct answers, plus extra code cells appended."""

    def build(*extra_cells: str, before_answers: tuple[str, ...] = ()) -> nbformat.NotebookNode:
        notebook = copy.deepcopy(solution_notebook(case))
        first_answer = next(i for i, c in enumerate(notebook.cells) if "answer" in c.metadata.get("assess", {}))
        for offset, source in enumerate(before_answers):
            notebook.cells.insert(first_answer + offset, nbformat.v4.new_code_cell(source))
        notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in extra_cells)
        return notebook

    return build


@pytest.fixture
def released(case: CaseSpec) -> nbformat.NotebookNode:
    """The release notebook exactly as a candidate downloads it (no answers)."""
    return release_notebook(case)


@pytest.fixture
def sandbox() -> SandboxLimits:
    """Gate for sandbox tests: FAILS (never skips) when no sandbox can be had; yields the test limits."""
    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(
            f"the grading sandbox is unavailable: {problem}. Run `make test` (it installs bubblewrap "
            "and builds the sandbox runtime) and try again.",
            pytrace=False,
        )
    return TEST_LIMITS


@pytest.fixture(scope="session")
def fork_server() -> Iterator[ForkServer]:
    """One fork template for the session, as a worker keeps one: every fork test's runs share it."""
    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(f"the grading sandbox is unavailable: {problem}", pytrace=False)
    server = ForkServer(TEST_LIMITS)
    server.start()
    yield server
    server.close()


@pytest.fixture(params=["cold", "warm", "fork"])
def grade(request: pytest.FixtureRequest, case: CaseSpec, sandbox: SandboxLimits) -> Callable[..., GradeReport]:
    """grade_notebook on the fixture case in a cold sandbox, a warm one from a fresh pool of one, or a fork.

    The warm pool starts at the call (after the test's own setup, e.g. a secret put in the
    environment) and is closed before the call returns, so nothing of it outlives the grading. The
    fork template is the session's (it was started with a clean environment, before any test's setup).
    """
    forks = request.getfixturevalue("fork_server") if request.param == "fork" else None
    return lambda notebook: grade_cold_or_warm(request.param, notebook, case, sandbox, forks)


@pytest.fixture(params=["cold", "fork"])
def grade_cold_or_fork(
    request: pytest.FixtureRequest, case: CaseSpec, sandbox: SandboxLimits
) -> Callable[..., GradeReport]:
    """grade_notebook on the fixture case in a cold sandbox or a fork (the paths that start a run from nothing)."""
    forks = request.getfixturevalue("fork_server") if request.param == "fork" else None
    return lambda notebook: grade_cold_or_warm(request.param, notebook, case, sandbox, forks)


def grade_cold_or_warm(
    mode: str,
    notebook: nbformat.NotebookNode,
    case: CaseSpec,
    limits: SandboxLimits,
    forks: ForkServer | None = None,
) -> GradeReport:
    """grade_notebook in a cold sandbox ("cold"), a warm one from a fresh pool of one ("warm") or a fork ("fork")."""
    if mode == "cold":
        return grade_notebook(notebook, case, SEED, limits=limits)
    if mode == "fork" and forks is None:
        # The session template has the test limits; these are a test's own: a template for this call.
        forks = ForkServer(limits)
        try:
            return grade_cold_or_warm(mode, notebook, case, limits, forks)
        finally:
            forks.close()
    if mode == "fork":
        assert forks is not None and forks.limits == limits
        lost = forks.lost
        report = grade_notebook(notebook, case, SEED, pool=forks)
        assert forks.lost == lost, "the fork path was not taken"
        return report
    pool = SandboxPool(1, limits=limits)
    try:
        report = grade_notebook(notebook, case, SEED, pool=pool)
    finally:
        pool.close()
    assert (pool.handed_out, pool.lost) == (1, 0), "the warm path was not taken"
    return report
