"""Model solutions for practice: opened after PRACTICE_SOLUTION_AFTER_ATTEMPTS graded attempts or on a confirmed request, for the mentee's seed.

A case also used in hiring never shows the author's solution notebook: its code recomputes every
answer on any seed, so a mentee's copy would earn full marks on a hiring invitation. Such a case
shows each part's question with the mentee's own expected answer, and, once an attempt has been
graded, the interviewer guide for the mentee's seed; answers for one seed are wrong on another.
Review cases give the catalogue's explanation of each planted defect. A practice-only case also
shows the author's notebook (without outputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nbformat

from assessments.content.case import CaseSpec
from assessments.content.notebook import solution_notebook
from assessments.grading.checks import shown_key
from assessments.models import Practice, PracticeAttempt
from assessments.services import review_exercise as review
from assessments.services.guides import practice_guide
from assessments.services.practice import attempt_notebook, attempt_report, data_seed, practice_spec


def attempt_flags(attempt: PracticeAttempt) -> list[review.ReviewFlag] | None:
    """The flags of an attempt: chosen in the browser, or read from a notebook's answer literal."""
    if attempt.flags is not None:
        return [review.ReviewFlag(f["label"], f["defect"], f.get("note", "")) for f in attempt.flags]
    notebook = attempt_notebook(attempt)
    report = attempt_report(attempt)
    if notebook is None or report is None or not report.checks:
        return None
    return review.flags_from_notebook(notebook, report.checks[0].part_id)


@dataclass(frozen=True)
class PartSolution:
    """One part as a solution shows it: the question, and the expected answer for the mentee's seed."""

    part_id: str
    prompt: str
    expected: Any = None
    checkable: bool = True


@dataclass(frozen=True)
class Solution:
    """What an unlocked solution shows: defect explanations (review) or each part's expected answer.

    `notebook` is the author's solution, for practice-only cases alone; `guide` is the interviewer
    guide for the mentee's seed, empty before their first graded attempt.
    """

    defects: list[review.DefectExplanation] | None
    notebook: nbformat.NotebookNode | None
    expected: dict[str, Any]
    parts: tuple[PartSolution, ...] = ()
    guide: tuple[str, ...] = ()


def solution_for(practice: Practice, attempt: PracticeAttempt | None = None) -> Solution | None:
    """The model solution for the mentee's seed, or None while it is locked.

    For a review case: each planted defect explained as found or missed by `attempt`, and its false flags.
    """
    if practice.solution_unlocked_at is None:
        return None
    spec = practice_spec(practice)
    seed = data_seed(practice)
    guide = practice_guide(practice, seed)
    if review.is_review_case(spec):
        flags = attempt_flags(attempt) if attempt is not None else None
        return Solution(review.explain_defects(spec, seed, flags), None, {}, guide=guide)
    return case_solution(spec, seed, guide)


def case_solution(spec: CaseSpec, seed: int, guide: tuple[str, ...] = ()) -> Solution:
    """What a notebook case's solution shows for a seed: each part's question and expected answer, the
    guide given, and the author's notebook only when the case is never used in hiring."""
    key = spec.key_for_seed(seed)
    # Function and holdout parts have long keys (hidden inputs, holdout labels): a summary is shown.
    expected = {
        part.id: shown_key(part.check.kind, part.check.params, key[part.id])
        for part in spec.checkable_parts
        if part.check is not None
    }
    parts = tuple(PartSolution(p.id, p.prompt, expected.get(p.id), p.checkable) for p in spec.parts)
    return Solution(None, None if spec.hiring else _author_notebook(spec), expected, parts, guide)


def _author_notebook(spec: CaseSpec) -> nbformat.NotebookNode:
    """The author's solution notebook without outputs (they were computed on another seed's data)."""
    notebook = solution_notebook(spec)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return notebook
