"""Judgment parts measured, not guessed: an audit of every case on disk over 40 seeds (#14).

A judgment part is a checkable part a coin could answer: a choice, a yes/no, or a set of labels.
For each one the test computes, from the case's own keys and checks, the best constant answer (the
option, the yes or no, or for labels the empty list or any seed's key, whichever earns most over the
seeds) and how often it earns the part in full, and the part's share of the case's checkable points.
The rule: each such part either rests on evidence (`rests_on` in case.toml: it scores only when the
parts it is read from are right), or it carries at most a tenth of the checkable points and its best
constant is right on at most half of the seeds.

A review's flags (a labels check with a `catalogue`: "C<n>:<defect-id>" over every cell and defect,
hundreds of possible answers, scored by recall minus the false-flag rate) are no small label set;
for them the test asserts instead that the best constant earns at most a tenth of the part's points
on average over the seeds.

A table part is no judgment, but a table entry whose key is one value on many seeds is a free point
for a constant: no entry of any table may take one value (within the check's own tolerance, so a
constant answer earns it) on more than a quarter of the seeds.

Nothing here is hard-coded: the numbers come from the keys of the cases as they are, so a case
changed or added later is audited the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assessments.content.case import CaseSpec, load_case
from assessments.grading.checks import CHECK_RULES, score_check

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(40)
JUDGMENT_KINDS = ("choice", "boolean", "labels")
MAX_SHARE_OF_POINTS = 0.10
MAX_CONSTANT_HIT_RATE = 0.5
MAX_TABLE_ENTRY_CONSTANT_RATE = 0.25
CASES = sorted(folder.name for folder in (ROOT / "cases").iterdir() if (folder / "case.toml").is_file())


@pytest.fixture(scope="module", params=CASES)
def audited(request: pytest.FixtureRequest) -> tuple[CaseSpec, list[dict[str, Any]]]:
    """A case and its keys on the 40 seeds."""
    case = load_case(ROOT / "cases" / request.param, check_rules=CHECK_RULES)
    return case, [case.key_for_seed(seed) for seed in SEEDS]


def constant_candidates(kind: str, params: dict[str, Any], values: list[Any]) -> list[Any]:
    """Every constant answer worth trying for a judgment part: its options, yes and no, or any seed's labels."""
    if kind == "choice":
        return list(params["options"])
    if kind == "boolean":
        return [True, False]
    return [[], *values]


def best_constant(kind: str, params: dict[str, Any], values: list[Any]) -> tuple[Any, float]:
    """The constant answer right on the most seeds, and the share of seeds it is right on."""
    rates = {}
    for candidate in constant_candidates(kind, params, values):
        hits = sum(score_check(kind, params, candidate, value, 1.0).earned >= 1.0 for value in values)
        rates[repr(candidate)] = (candidate, hits / len(values))
    return max(rates.values(), key=lambda pair: pair[1])


def test_every_judgment_part_rests_on_evidence_or_is_light_and_hard_to_guess(
    audited: tuple[CaseSpec, list[dict[str, Any]]],
) -> None:
    case, keys = audited
    total = sum(part.points for part in case.checkable_parts)
    failures = []
    for part in case.checkable_parts:
        params = dict(part.check.params)
        if part.check.kind not in JUDGMENT_KINDS or part.rests_on or "catalogue" in params:
            continue
        constant, hit_rate = best_constant(part.check.kind, params, [key[part.id] for key in keys])
        share = part.points / total
        if share > MAX_SHARE_OF_POINTS + 1e-9 or hit_rate > MAX_CONSTANT_HIT_RATE:
            failures.append(
                f"{part.id}: {share:.0%} of the checkable points, and the constant {constant!r} is right on "
                f"{hit_rate:.0%} of {len(keys)} seeds, with no rests_on"
            )
    assert not failures, (case.slug, failures)


def test_no_constant_list_of_review_flags_earns_more_than_a_tenth(
    audited: tuple[CaseSpec, list[dict[str, Any]]],
) -> None:
    case, keys = audited
    for part in case.checkable_parts:
        params = dict(part.check.params)
        if part.check.kind != "labels" or "catalogue" not in params:
            continue
        values = [key[part.id] for key in keys]
        best = max(
            sum(score_check("labels", params, candidate, value, 1.0).earned for value in values) / len(values)
            for candidate in constant_candidates("labels", params, values)
        )
        assert best <= MAX_SHARE_OF_POINTS, (case.slug, part.id, best)


def test_no_table_entry_is_one_value_on_many_seeds(audited: tuple[CaseSpec, list[dict[str, Any]]]) -> None:
    case, keys = audited
    failures = []
    for part in case.checkable_parts:
        if part.check.kind != "table":
            continue
        params = dict(part.check.params)
        entries = sorted({entry for key in keys for entry in key[part.id]})
        for entry in entries:
            values = [key[part.id][entry] for key in keys if entry in key[part.id]]
            for candidate in {repr(v): v for v in values}.values():
                hits = sum(
                    score_check(part.check.kind, params, {entry: candidate}, {entry: value}, 1.0).earned >= 1.0
                    for value in values
                )
                if hits > MAX_TABLE_ENTRY_CONSTANT_RATE * len(keys):
                    failures.append(f"{part.id}[{entry}]: the constant {candidate!r} is right on {hits}/{len(keys)}")
                    break
    assert not failures, (case.slug, failures)


def test_the_audit_finds_a_guessable_part_and_a_constant_entry() -> None:
    # The measures themselves: a yes/no right on 3 of 4 seeds, a choice among two right on half, and
    # labels whose best constant is one seed's key.
    assert best_constant("boolean", {}, [True, True, True, False]) == (True, 0.75)
    assert best_constant("choice", {"options": ["a", "b", "c"]}, ["a", "b", "a", "c"])[1] == 0.5
    constant, rate = best_constant("labels", {}, [["x"], ["x"], ["y"], []])
    assert constant == ["x"] and rate == 0.5
