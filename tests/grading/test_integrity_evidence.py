"""Integrity evidence from real gradings: the answers a grade report keeps show a borrowed key, and only then."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from assessments.content.case import load_case
from assessments.content.corpus import corpus_notebook, read_corpus
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.grading import code_similarity, integrity
from assessments.grading.checks import CHECK_RULES
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


CASES = Path(__file__).resolve().parents[2] / "cases"
CORPORA = Path(__file__).resolve().parents[1] / "cases" / "careless"


@pytest.mark.parametrize("slug", ["ab-readout", "error-analysis", "ml-incident", "product-design"])
def test_independent_correct_methods_of_a_real_case_are_not_flagged_as_copies(slug) -> None:
    # The author's solution and the corpus's correct alternative methods solve the same case with the
    # same data and column names, written independently: none of them is a copy of another.
    spec = load_case(CASES / slug, check_rules=CHECK_RULES)
    entries = [e for e in read_corpus(CORPORA / slug.replace("-", "_")) if e.kind == "correct"]
    assert entries, f"{slug} has no correct alternative in its corpus"
    notebooks = {"solution": solution_notebook(spec)} | {e.name: corpus_notebook(spec, e) for e in entries}
    prints = {name: code_similarity.code_print(notebook) for name, notebook in notebooks.items()}
    assert code_similarity.code_matches(prints, code_similarity.code_print(release_notebook(spec))) == []
