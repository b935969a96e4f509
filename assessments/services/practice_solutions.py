"""Model solutions for practice: unlocked after a graded attempt or on request, for the mentee's seed.

Review cases give the catalogue's explanation of each planted defect, never the author's solution
cells: for a case also used in hiring, those cells show how to derive the key from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nbformat

from assessments.content.notebook import solution_notebook
from assessments.grading.checks import shown_key
from assessments.models import Practice, PracticeAttempt
from assessments.services import review_exercise as review
from assessments.services.practice import attempt_notebook, attempt_report, practice_spec


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
class Solution:
    """What an unlocked solution shows: defect explanations (review) or code and expected answers."""

    defects: list[review.DefectExplanation] | None
    notebook: nbformat.NotebookNode | None
    expected: dict[str, Any]


def solution_for(practice: Practice, attempt: PracticeAttempt | None = None) -> Solution | None:
    """The model solution for the mentee's seed, or None while it is locked.

    For a review case: each planted defect explained as found or missed by `attempt`, and its false flags.
    """
    if practice.solution_unlocked_at is None:
        return None
    spec = practice_spec(practice)
    if review.is_review_case(spec):
        flags = attempt_flags(attempt) if attempt is not None else None
        return Solution(review.explain_defects(spec, practice.seed, flags), None, {})
    notebook = solution_notebook(spec)
    for cell in notebook.cells:
        # The author's outputs were computed on another seed's data: they would mislead.
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    key = spec.key_for_seed(practice.seed)
    # Function and holdout parts have long keys (hidden inputs, holdout labels): a summary is shown.
    expected = {
        part.id: shown_key(part.check.kind, part.check.params, key[part.id])
        for part in spec.checkable_parts
        if part.check is not None
    }
    return Solution(None, notebook, expected)
