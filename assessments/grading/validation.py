"""Proving a case: its author's solution earns full marks and its release notebook earns nothing.

Both go through the real pipeline and sandbox, for many seeds, so a case whose key, tolerances or
notebook disagree fails here instead of in front of a candidate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from assessments.content.case import CaseSpec
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import GradeReport


@dataclass(frozen=True)
class SeedValidation:
    """One seed of one case: the solution's and the release notebook's reports."""

    slug: str
    seed: int
    solution: GradeReport
    release: GradeReport

    @property
    def problems(self) -> list[str]:
        """What is wrong for this seed (empty when the case behaves)."""
        found = []
        if self.solution.error:
            found.append(f"solution run failed: {self.solution.error}")
        for check in self.solution.checks:
            if check.earned < check.possible:
                found.append(f"solution loses points on {check.part_id}: {check.status} ({check.message})")
        for check in self.release.checks:
            if check.earned > 0:
                found.append(f"untouched release notebook earns points on {check.part_id}")
        return found


def _validate_seed(case: CaseSpec, seed: int) -> SeedValidation:
    return SeedValidation(
        slug=case.slug,
        seed=seed,
        solution=grade_notebook(solution_notebook(case), case, seed),
        release=grade_notebook(release_notebook(case), case, seed),
    )


def validate_cases(cases: Iterable[CaseSpec], seeds: Iterable[int], *, parallel: int = 2) -> Iterator[SeedValidation]:
    """Grade every case's solution and release notebooks for every seed, `parallel` at a time."""
    jobs = [(case, seed) for case in cases for seed in seeds]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        yield from pool.map(lambda job: _validate_seed(*job), jobs)
