"""Grading a case's careless-analyst corpus through the real pipeline and saying whether it held.

A corpus holds when, on every seed, each careless notebook earns nothing on the parts its mistake
breaks (and full marks on the rest, so a mistake costs only its own parts; a graded part named in
`mean` at most that share over the seeds), each guesser scores at
most a fifth on average, and each correct alternative method earns full marks.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from assessments.content.case import CaseSpec
from assessments.content.corpus import CorpusEntry, corpus_notebook
from assessments.grading.materials import build_materials
from assessments.grading.pipeline import grade_notebook
from assessments.grading.pool import SandboxPool
from assessments.grading.report import GradeReport

GUESS_CEILING = 0.20
_EPSILON = 1e-9


@dataclass(frozen=True)
class EntryResult:
    """One corpus entry graded on every seed, and what it should have earned."""

    entry: CorpusEntry
    reports: dict[int, GradeReport]
    keys: dict[int, dict[str, Any]] = field(repr=False)

    @property
    def mean_share(self) -> float:
        """The entry's average share of the checkable points over the seeds."""
        shares = [r.earned / r.possible for r in self.reports.values() if r.possible]
        return sum(shares) / len(shares) if shares else 0.0

    def part_share(self, part_id: str) -> float:
        """The share of one part's points the entry earned over the seeds."""
        earned = possible = 0.0
        for report in self.reports.values():
            check = report.check(part_id)
            earned, possible = earned + check.earned, possible + check.possible
        return earned / possible if possible else 0.0

    @property
    def problems(self) -> list[str]:
        """Where the entry earned what its kind and header say it must not (empty when it held)."""
        found: list[str] = []
        for seed, report in sorted(self.reports.items()):
            if report.error:
                found.append(f"seed {seed}: the run failed: {report.error}")
                continue
            found.extend(f"seed {seed}: {problem}" for problem in self._seed_problems(report, self.keys[seed]))
        for part_id, limit in sorted(self.entry.mean.items()):
            share = self.part_share(part_id)
            if share > limit + _EPSILON:
                found.append(f"{part_id} earned {share:.0%} of its points on average, more than {limit:.0%}")
        if self.entry.kind == "guess" and self.mean_share > GUESS_CEILING:
            found.append(f"scores {self.mean_share:.0%} on average, more than {GUESS_CEILING:.0%}")
        return found

    def _seed_problems(self, report: GradeReport, key: dict[str, Any]) -> list[str]:
        entry = self.entry
        found = []
        for check in report.checks:
            part_id, earned, possible = check.part_id, check.earned, check.possible
            if part_id in entry.breaks:
                if earned > entry.breaks[part_id] * possible + _EPSILON:
                    found.append(f"{part_id} earned {earned:g}/{possible:g} though the mistake breaks it")
            elif part_id in entry.partial:
                if earned >= possible:
                    found.append(f"{part_id} earned full marks though the mistake breaks part of it")
            elif part_id in entry.mean:
                continue
            elif part_id in entry.constant:
                right = str(key.get(part_id)) == entry.constant[part_id]
                if (earned >= possible) != right:
                    found.append(f"{part_id}: the constant {entry.constant[part_id]!r} earned {earned:g}/{possible:g}")
            elif entry.kind != "guess" and part_id in entry.answers and earned < possible:
                found.append(f"{part_id} lost points ({check.message}) though nothing breaks it")
        return found


def grade_corpus(
    case: CaseSpec, entries: Iterable[CorpusEntry], seeds: Iterable[int], *, parallel: int = 2
) -> list[EntryResult]:
    """Grade every entry on every seed in warm sandboxes, `parallel` at a time."""
    entries, seeds = list(entries), list(seeds)
    notebooks = {entry.name: corpus_notebook(case, entry) for entry in entries}
    materials = {seed: build_materials(case, seed, None) for seed in seeds}
    jobs = [(entry.name, seed) for entry in entries for seed in seeds]
    sandboxes = SandboxPool(max(1, parallel))
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as threads:
            reports = list(
                threads.map(
                    lambda job: grade_notebook(
                        notebooks[job[0]], case, job[1], materials=materials[job[1]], pool=sandboxes
                    ),
                    jobs,
                )
            )
    finally:
        sandboxes.close()
    graded: dict[str, dict[int, GradeReport]] = {}
    for (name, seed), report in zip(jobs, reports, strict=True):
        graded.setdefault(name, {})[seed] = report
    keys = {seed: case.key_for_seed(seed) for seed in seeds}
    return [EntryResult(entry, graded[entry.name], keys) for entry in entries]
