"""Practice never hands out a solution that solves a hiring invitation (issue #14).

A case used in hiring shows a mentee each part's question and their own seed's expected answers,
never the author's code: the code recomputes every answer on any seed. Here, for every notebook case
used in hiring, the notebook a mentee could assemble from everything their practice solution shows is
graded through the real pipeline (sandbox) on their own seed, where it earns what it copies, and on
another seed, as a hiring invitation would be, where it must earn no more than coincidence allows.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest

from assessments.content.case import CaseSpec, load_cases
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.grading.checks import CHECK_RULES
from assessments.services.practice_solutions import case_solution

CASES = Path(__file__).resolve().parents[2] / "cases"
OWN_SEED, HIRING_SEED = 3101, 4207


@pytest.fixture(scope="module")
def specs() -> dict[str, CaseSpec]:
    """Every case used in hiring whose solution is a notebook (a review case explains its defects instead)."""
    cases = load_cases(CASES, check_rules=CHECK_RULES)
    found = {slug: spec for slug, spec in cases.items() if spec.hiring and spec.kind != "review"}
    assert {"ab-readout", "error-analysis", "product-design"} <= set(found)
    return found


def _answer_part(cell: Any) -> str | None:
    return cell.metadata.get("assess", {}).get("answer")


def assembled_notebook(spec: CaseSpec, seed: int) -> nbformat.NotebookNode:
    """The release notebook with every answer a practice solution shows for `seed` pasted in as a literal.

    Function parts show only the outputs of the hidden calls, which no literal can answer: their stub stays.
    """
    shown = case_solution(spec, seed)
    assert shown.notebook is None, f"{spec.slug}: a hiring case's solution carries the author's notebook"
    notebook = release_notebook(spec)
    for cell in notebook.cells:
        part_id = _answer_part(cell)
        if part_id is not None and spec.part(part_id).check.kind != "function":
            cell.source = f"{part_id} = {json.loads(json.dumps(shown.expected[part_id]))!r}"
    return notebook


def test_a_hiring_cases_solution_shows_no_line_of_the_authors_code(specs: dict[str, CaseSpec]) -> None:
    for spec in specs.values():
        shown = case_solution(spec, OWN_SEED)
        text = json.dumps([shown.expected, [p.prompt for p in shown.parts]], default=str)
        released = {line.strip() for c in release_notebook(spec).cells for line in c.source.splitlines()}
        code = [
            line.strip()
            for cell in solution_notebook(spec).cells
            if cell.cell_type == "code"
            for line in cell.source.splitlines()
            if len(line.strip()) > 6 and not line.strip().isidentifier() and line.strip() not in released
        ]
        assert code and not [line for line in code if line in text], spec.slug


@pytest.fixture(scope="module")
def reports(specs: dict[str, CaseSpec]) -> dict[tuple[str, str, int], Any]:
    """(case, notebook, seed) -> the grade report, for the assembled, empty and author notebooks."""
    from assessments.grading.materials import build_materials
    from assessments.grading.pipeline import grade_notebook
    from assessments.grading.pool import SandboxPool
    from assessments.grading.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(f"the grading sandbox is unavailable: {problem}", pytrace=False)
    notebooks = {}
    for slug, spec in specs.items():
        notebooks[slug, "assembled"] = assembled_notebook(spec, OWN_SEED)
        notebooks[slug, "empty"] = release_notebook(spec)
        notebooks[slug, "author"] = solution_notebook(spec)
    jobs = [(slug, name, seed) for (slug, name) in notebooks for seed in (OWN_SEED, HIRING_SEED)]
    jobs = [job for job in jobs if not (job[1] != "assembled" and job[2] == OWN_SEED)]
    materials = {(slug, seed): build_materials(specs[slug], seed) for slug in specs for seed in (OWN_SEED, HIRING_SEED)}
    pool = SandboxPool(2)
    try:
        with ThreadPoolExecutor(max_workers=2) as threads:
            graded = list(
                threads.map(
                    lambda job: grade_notebook(
                        notebooks[job[0], job[1]], specs[job[0]], job[2], materials=materials[job[0], job[2]], pool=pool
                    ),
                    jobs,
                )
            )
    finally:
        pool.close()
    return dict(zip(jobs, graded, strict=True))


def coincident_share(shown: Any, hiring: Any) -> float:
    """The share of a value that is identical for both seeds (entries of a table, else all or nothing)."""
    if isinstance(shown, dict) and isinstance(hiring, dict):
        return sum(shown.get(k) == v for k, v in hiring.items()) / max(len(hiring), 1)
    return float(shown == hiring)


@pytest.mark.sandbox
def test_what_practice_shows_earns_its_points_on_the_mentees_own_seed(specs, reports) -> None:
    # The assembled notebook does carry the answers: on the seed they were shown for, every part a
    # literal can answer earns its points. (So the next test's low scores are not a broken notebook.)
    for slug, spec in specs.items():
        report = reports[slug, "assembled", OWN_SEED]
        assert report.error is None, (slug, report.error)
        by_part = {c.part_id: c for c in report.checks}
        # A literal cannot answer a function or predictions part, nor a part resting on one.
        unanswerable: set[str] = set()
        for part in spec.checkable_parts:
            if part.check.kind in ("function", "predictions") or unanswerable & set(part.rests_on):
                unanswerable.add(part.id)
            else:
                assert by_part[part.id].earned == part.points, (slug, part.id, by_part[part.id].message)


@pytest.mark.sandbox
def test_what_practice_shows_scores_no_better_than_an_empty_notebook_on_a_hiring_seed(specs, reports) -> None:
    hiring_key = {slug: spec.key_for_seed(HIRING_SEED) for slug, spec in specs.items()}
    for slug, spec in specs.items():
        copied = reports[slug, "assembled", HIRING_SEED]
        empty = reports[slug, "empty", HIRING_SEED]
        author = reports[slug, "author", HIRING_SEED]
        assert copied.error is None and empty.error is None and author.error is None, slug
        # The threat this closes: the author's notebook solves any seed.
        assert author.earned == author.possible, slug
        shown = case_solution(spec, OWN_SEED).expected
        for check in copied.checks:
            baseline = next(c for c in empty.checks if c.part_id == check.part_id)
            # Beyond the empty notebook, only values that happen to be the same on both seeds may
            # earn (a constant that a guess without practice earns as well), never a computed number.
            share = coincident_share(shown[check.part_id], hiring_key[slug][check.part_id])
            assert check.earned - baseline.earned <= check.possible * share + 1e-9, (slug, check.part_id, share)
        assert copied.earned <= empty.earned + 0.2 * copied.possible, (slug, copied.earned, copied.possible)
