"""Integrity evidence from real gradings: the answers a grade report keeps show a borrowed key, and only then."""

from __future__ import annotations

import nbformat
import pytest

from assessments.grading import integrity
from assessments.grading.pipeline import grade_notebook
from tests.grading.conftest import SEED


@pytest.mark.sandbox
def test_a_key_typed_from_another_seed_is_found_in_the_kept_answers(case, released, solved, sandbox) -> None:
    own, friends = case.key_for_seed(SEED), case.key_for_seed(SEED + 1)
    typed = "\n".join(f"{part} = {value!r}" for part, value in friends.items())
    released.cells.append(nbformat.v4.new_code_cell(typed))
    report = grade_notebook(released, case, SEED, limits=sandbox)
    assert report.answers["total"] == pytest.approx(friends["total"])
    comparison = integrity.borrowed_key(case, report.answers, own, friends)
    assert comparison is not None and comparison.other_matches >= integrity.BORROWED_MARGIN
    assert {p.part_id for p in comparison.parts if p.counted and p.matches_other} >= {"total", "group_means"}

    # The same friend's code (not their numbers) recomputes on this seed's data: the answers are
    # this candidate's own key, so the key scan has nothing to look at (the code check finds copies).
    honest = grade_notebook(solved(), case, SEED, limits=sandbox)
    assert honest.earned == honest.possible
    assert not integrity.could_be_borrowed(case, honest.answers, own)
    assert integrity.borrowed_key(case, honest.answers, own, friends) is None
