"""Integrity flags: planted copies and a planted borrowed key are found; independent work and untouched starters are not."""

from __future__ import annotations

import copy
import re

import pytest
from sqlalchemy import select

from assessments.content.case import load_case
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.extensions import db
from assessments.grading import code_similarity as similarity
from assessments.grading import integrity as evidence
from assessments.grading.checks import CHECK_RULES, score_check
from assessments.models import GradeRun, Submission
from assessments.services import integrity, invitations
from assessments.services.seeds import SeedKeyMismatch
from tests.conftest import FIXTURE_CASES
from tests.integrity_planted import ALICE_WRITTEN, plant


@pytest.fixture(scope="module")
def spec():
    return load_case(FIXTURE_CASES / "tiny-hiring", check_rules=CHECK_RULES)


def _pairs(report) -> set[frozenset[str]]:
    return {frozenset((f.left.candidate_name.split()[0], f.right.candidate_name.split()[0])) for f in report.code}


def test_the_report_finds_the_planted_copies_and_borrowed_key_and_nothing_else(app):
    planted = plant(app)
    with app.app_context():
        report = integrity.integrity_report("tiny-hiring")
    assert report.compared == 7 and report.keys == 7 and report.not_compared == ()

    # Byte-identical (Alice, Bob) and lightly edited (Carol): every pair of the three, nothing else.
    assert _pairs(report) == {frozenset(p) for p in (("Alice", "Bob"), ("Alice", "Carol"), ("Bob", "Carol"))}
    edited = next(
        f
        for f in report.code
        if {f.left.candidate_name, f.right.candidate_name} == {"Alice Candidate", "Carol Candidate"}
    )
    assert edited.match.jaccard >= 0.9
    snippet = next(s for s in edited.match.snippets if "idxmax" in s.left)
    # The evidence shows each side's own lines: Carol's renamed names beside Alice's.
    assert edited.left.candidate_name == "Alice Candidate"
    assert "arm_stats" in snippet.left and "by_arm" in snippet.right and "# checked" in snippet.right
    # No passage shown is starter code.
    assert all("read_csv" not in s.left for f in report.code for s in f.match.snippets)

    # Erin typed another candidate's key: flagged against that invitation, part by part.
    assert [(f.submission.candidate_name, f.key_of_invitation) for f in report.borrowed_keys] == [
        ("Erin Candidate", planted.invitations[planted.borrowed_from])
    ]
    parts = {p.part_id: p for p in report.borrowed_keys[0].comparison.parts}
    assert parts["treatment_rate"].matches_other and not parts["treatment_rate"].matches_own
    assert parts["treatment_rate"].answer == parts["treatment_rate"].other_key != parts["treatment_rate"].own_key

    # Alice's written answer travels with her notebook; the starter's placeholder (Frank, Gina) does not count.
    assert [(w.part_id, sorted(r.candidate_name for r in w.submissions)) for w in report.written] == [
        ("recommendation", ["Alice Candidate", "Bob Candidate", "Carol Candidate"])
    ]
    assert report.written[0].text == ALICE_WRITTEN
    # Alice's code is the case's (public) author solution, so the three copies are also close to it;
    # Dave's independent solution and Erin's typed numbers are not.
    assert sorted(f.submission.candidate_name for f in report.solution) == [
        "Alice Candidate",
        "Bob Candidate",
        "Carol Candidate",
    ]
    assert report.flag_count == 8


def test_one_persons_two_invitations_are_not_compared_with_each_other(spec):
    solved = similarity.code_print(solution_notebook(spec))
    starter = similarity.code_print(release_notebook(spec))
    assert similarity.code_matches({1: solved, 2: solved}, starter, {1: "same", 2: "same"}) == []
    assert len(similarity.code_matches({1: solved, 2: solved}, starter, {1: "a", 2: "b"})) == 1


def test_untouched_starters_and_a_short_shared_idiom_are_not_code_matches(spec):
    starter_nb = release_notebook(spec)
    starter = similarity.code_print(starter_nb)
    idiom = copy.deepcopy(starter_nb)
    idiom.cells[-2].source = 'arm_rates = events.groupby("arm")["converted"].mean().to_dict()'
    prints = {"frank": starter, "gina": similarity.code_print(starter_nb), "x": similarity.code_print(idiom)}
    prints["y"] = prints["x"]
    assert similarity.code_matches(prints, starter) == []


def test_a_keys_agreement_on_a_part_says_nothing_and_one_matching_number_is_not_enough(spec):
    own, other = spec.key_for_seed(1), spec.key_for_seed(2)
    comparison = evidence.compare_with_keys(spec, dict(other), own, other)
    # The choice parts both seeds share are left out of the evidence.
    shared = {p for p in ("better_arm", "best_channel") if own[p] == other[p]}
    assert shared and not shared & {p.part_id for p in comparison.parts}
    assert comparison.borrowed
    one = evidence.compare_with_keys(spec, {**dict(own), "treatment_rate": other["treatment_rate"]}, own, other)
    assert not one.borrowed
    # An answer right within the check's tolerance matches, as the grade does.
    near = evidence.compare_with_keys(
        spec, {**dict(other), "treatment_rate": other["treatment_rate"] + 5e-5}, own, other
    )
    assert next(p for p in near.parts if p.part_id == "treatment_rate").matches_other


def test_a_guesser_whose_choices_happen_to_fit_another_key_is_not_flagged(spec):
    own = spec.key_for_seed(1)
    # In this case both choices rarely differ between seeds; another key where they do, by hand.
    other = {
        **spec.key_for_seed(2),
        "better_arm": "control" if own["better_arm"] == "treatment" else "treatment",
        "best_channel": "social" if own["best_channel"] != "social" else "search",
    }
    guess = {
        "treatment_rate": 0.5,
        "better_arm": other["better_arm"],
        "best_channel": other["best_channel"],
        "arm_rates": {"control": 0.4, "treatment": 0.5},
    }
    comparison = evidence.compare_with_keys(spec, guess, own, other)
    # The choices fit the other key and are shown, but a coin fits some key: they do not count.
    shown = {p.part_id: p for p in comparison.parts}
    assert shown["better_arm"].matches_other and not shown["better_arm"].counted
    assert comparison.other_matches == 0 and not comparison.borrowed
    assert evidence.borrowed_key(spec, guess, own, other) is None
    assert not evidence.could_be_borrowed(spec, {**guess, "treatment_rate": own["treatment_rate"]}, own)


def test_the_key_index_names_every_key_an_answer_can_match_and_few_others(spec):
    keys = {seed: spec.key_for_seed(seed) for seed in range(1, 81)}
    index = evidence.KeyIndex(spec, keys)
    assert index.complete
    for seed, key in list(keys.items())[:20]:
        # Copied, then nudged to the edge of the checks' tolerance (abs_tol 1e-4): still a match.
        nudged = {
            **key,
            "treatment_rate": key["treatment_rate"] + 0.99e-4,
            "arm_rates": {k.upper(): v - 0.99e-4 for k, v in key["arm_rates"].items()},
        }
        found = index.candidates(nudged)
        assert seed in found and len(found) < len(keys) // 4
        # Every key that matches any counted part (as the checks score it) is named.
        matching = {
            other
            for other, k in keys.items()
            for part in spec.checkable_parts
            if part.check.kind in evidence.COUNTED_KINDS
            and score_check(part.check.kind, part.check.params, nudged[part.id], k[part.id], 1.0).status == "correct"
        }
        assert set(found) >= matching
    assert index.candidates({"treatment_rate": 7.0, "arm_rates": {"control": 7.0}}) == []


def test_written_answers_match_after_normalising_and_short_ones_do_not(spec):
    text = "The lift is real: the interval of the difference excludes zero, so ship it."
    found = evidence.written_matches(
        {
            1: {"recommendation": text},
            2: {"recommendation": "  the LIFT is real -- the interval of the difference\nexcludes zero so ship it "},
            3: {"recommendation": "Ship it."},
            4: {"recommendation": "Ship it."},
        },
        {"recommendation": "*Write your answer here.*"},
    )
    assert [(w.part_id, w.submissions) for w in found] == [("recommendation", (1, 2))]


def test_hostile_notebooks_are_read_without_failing_and_with_bounded_work():
    weird = {
        "cells": [
            {"cell_type": "code", "source": ["%matplotlib inline\n", "!pip install x\n", "def f(:\n  '''unterminated"]},
            {"cell_type": "code", "source": 42},
            {"cell_type": "markdown", "metadata": {"assess": {"response": ["not", "a", "str"]}}, "source": "x"},
            "not a cell",
            {"cell_type": "code", "source": "x = 1\n" * (similarity.MAX_CODE_CHARS // 3)},
        ]
    }
    code = similarity.code_print(weird)
    assert 0 < len(code.shingles) <= similarity.MAX_TOKENS
    assert evidence.written_answers(weird) == {}
    assert similarity.code_print({"cells": "nope"}).shingles == {}


def test_the_cli_prints_every_flag_with_its_evidence(app, runner):
    planted = plant(app)
    result = runner.invoke(args=["integrity", "report", "--case", "tiny-hiring"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "8 flags" in out
    assert "Close to the author's solution: Carol Candidate" in out
    assert (
        f"Borrowed key: Erin Candidate (invitation {planted.invitations['Erin']}, version 1) matches the key of {planted.borrowed_from} Candidate"
        in out
    )
    assert "Near-duplicate code: Alice Candidate" in out and "by_arm" in out
    assert "Identical written answer to recommendation" in out
    assert "Frank" not in out and "Gina" not in out
    missing = runner.invoke(args=["integrity", "report", "--case", "no-such-case"])
    assert missing.exit_code != 0 and "no-such-case" in missing.output


def test_only_admins_see_the_integrity_page(app, client, auth, make_user):
    planted = plant(app)
    make_user("admin", email="boss@example.com")
    make_user("interviewer", email="iris@example.com")
    url = "/admin/cases/tiny-hiring/integrity"
    assert client.get(url).status_code == 302
    auth.login("iris@example.com")
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login("boss@example.com")
    page = client.get(url).get_data(as_text=True)
    assert 'aria-label="Borrowed key: Erin Candidate"' in page
    assert re.search(rf">{planted.borrowed_from} Candidate</a>\s+on 2 parts, their own on 0", page)
    assert "by_arm" in page and "arm_stats" in page
    assert "never a verdict" in page
    assert client.get("/admin/cases/no-such-case/integrity").status_code == 404
    # The pipeline links to it.
    assert url in client.get("/admin/invitations").get_data(as_text=True)


def test_candidate_text_on_the_page_is_escaped(app, client, auth, make_user):
    plant(app, alice_written="<script>alert('copied')</script> " + ALICE_WRITTEN)
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    page = client.get("/admin/cases/tiny-hiring/integrity").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page


def test_a_submission_graded_before_answers_were_kept_is_named_not_silently_skipped(app, client, auth, make_user):
    planted = plant(app)
    with app.app_context():
        run = db.session.scalar(
            select(GradeRun).join(Submission).where(Submission.invitation_id == planted.invitations["Erin"])
        )
        results = dict(run.results)
        results.pop("answers")
        run.results = results
        db.session.commit()
        report = integrity.integrity_report("tiny-hiring")
    assert report.borrowed_keys == ()
    assert [(ref.candidate_name, why) for ref, _, why in report.not_compared] == [
        ("Erin Candidate", "graded before answers were kept: regrade to compare answers")
    ]
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    page = client.get("/admin/cases/tiny-hiring/integrity").get_data(as_text=True)
    assert "Not fully compared" in page and "regrade to compare answers" in page


def test_a_key_this_machine_cannot_make_is_named_and_the_rest_still_compared(app, monkeypatch):
    # Alice, whose key Erin never types: the planted borrowed key is still found.
    planted = plant(app)
    real = invitations.data_seed

    def data_seed(invitation):
        if invitation.id == planted.invitations["Alice"]:
            raise SeedKeyMismatch("invitation", invitation.seed)
        return real(invitation)

    monkeypatch.setattr(invitations, "data_seed", data_seed)
    with app.app_context():
        report = integrity.integrity_report("tiny-hiring")
    assert [(ref.candidate_name, why) for ref, _, why in report.not_compared] == [
        ("Alice Candidate", "its key cannot be made on this machine (see the log)")
    ]
    assert report.keys == 6 and len(report.code) == 3 and len(report.borrowed_keys) == 1
