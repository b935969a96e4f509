"""Integrity evidence between submissions of one case: borrowed keys and identical written answers.

Pure functions over answer values and notebooks (untrusted JSON, never executed); near-duplicate
code is `code_similarity.py`. The integrity service (`services/integrity.py`) gathers the
submissions and keys from the database. Nothing here decides anything about a candidate: it
measures and shows the evidence.

- Borrowed key: a submission's answers scored, with the case's own checks and tolerances, against
  its own key and against another invitation's key, part by part; only parts a guess rarely
  matches (numbers, tables, label sets) count towards a flag.
- Written answers: response cells normalised (case, spacing, punctuation) and compared exactly,
  ignoring the starter's placeholder and answers too short to tell anything.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from assessments.content.case import CaseSpec
from assessments.grading.checks import CORRECT, KeyValueProblem, score_check
from assessments.grading.checks.base import MAX_TABLE_KEYS, finite_float, normalise_text
from assessments.grading.code_similarity import cell_source, notebook_cells

# Check kinds whose key is a plain value the candidate assigns: comparing an answer with another
# seed's key means something. Function parts are called on hidden inputs and predictions are
# scored on a holdout: neither has a value a candidate could copy from someone else's key.
KEY_KINDS = frozenset({"number", "choice", "boolean", "labels", "table"})
# Of those, the kinds a guess rarely matches: a choice or a yes/no is right for some other key half
# the time, so among hundreds of keys a guesser would always "match" one. Those parts are shown
# beside the others but do not count towards a flag.
COUNTED_KINDS = frozenset({"number", "labels", "table"})
# A borrowed key is flagged when another key matches at least this many more counted parts than the own key.
BORROWED_MARGIN = 2
MAX_WRITTEN_CHARS = 20_000
MIN_WRITTEN_CHARS = 40


def _role(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = cell.get("metadata")
    role = metadata.get("assess") if isinstance(metadata, Mapping) else None
    return role if isinstance(role, Mapping) else {}


# ---------------------------------------------------------------- borrowed keys


@dataclass(frozen=True)
class PartComparison:
    """One part: the submitted value beside the own key's and the other key's, and which it matches."""

    part_id: str
    answer: str
    own_key: str
    other_key: str
    matches_own: bool
    matches_other: bool
    counted: bool  # False for a choice or yes/no: shown, not counted


@dataclass(frozen=True)
class KeyComparison:
    """A submission's answers against its own key and another invitation's, over the parts the keys differ on."""

    parts: tuple[PartComparison, ...]

    @property
    def own_matches(self) -> int:
        """Counted parts where the answer matches the own key."""
        return sum(p.matches_own for p in self.parts if p.counted)

    @property
    def other_matches(self) -> int:
        """Counted parts where the answer matches the other key."""
        return sum(p.matches_other for p in self.parts if p.counted)

    @property
    def borrowed(self) -> bool:
        """True when the other key matches clearly more counted parts than the own key."""
        return self.other_matches >= self.own_matches + BORROWED_MARGIN


def shown_value(value: Any, limit: int = 120) -> str:
    """A value as compact JSON for the evidence table, cut to a length."""
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _matches(kind: str, params: Mapping[str, Any], value: Any, expected: Any) -> bool | None:
    """Whether the check gives full marks (None when the key does not fit the check)."""
    try:
        return score_check(kind, params, value, expected, 1.0).status == CORRECT
    except (KeyValueProblem, TypeError, ValueError):
        return None


def compare_with_keys(
    case: CaseSpec, answers: Mapping[str, Any], own_key: Mapping[str, Any], other_key: Mapping[str, Any]
) -> KeyComparison:
    """The answers against both keys with the case's checks, on the value parts where the two keys differ.

    A part both keys agree on (a choice both seeds share) says nothing about whose key was used,
    so it is left out.
    """
    parts = []
    for part in case.checkable_parts:
        check = part.check
        if check is None or check.kind not in KEY_KINDS or part.id not in answers:
            continue
        if part.id not in own_key or part.id not in other_key:
            continue
        same = _matches(check.kind, check.params, other_key[part.id], own_key[part.id])
        if same is None or same:
            continue
        value = answers[part.id]
        own = _matches(check.kind, check.params, value, own_key[part.id])
        other = _matches(check.kind, check.params, value, other_key[part.id])
        if own is None or other is None:
            continue
        parts.append(
            PartComparison(
                part.id,
                shown_value(value),
                shown_value(own_key[part.id]),
                shown_value(other_key[part.id]),
                own,
                other,
                check.kind in COUNTED_KINDS,
            )
        )
    return KeyComparison(tuple(parts))


def borrowed_key(
    case: CaseSpec, answers: Mapping[str, Any], own_key: Mapping[str, Any], other_key: Mapping[str, Any]
) -> KeyComparison | None:
    """The comparison with another key when that key matches clearly more parts than the own; else None.

    A first pass counts only the parts the other key matches (one check per part), so the many
    keys a submission has nothing to do with cost little.
    """
    hits = 0
    for part in case.checkable_parts:
        check = part.check
        if check is not None and check.kind in COUNTED_KINDS and part.id in answers and part.id in other_key:
            hits += bool(_matches(check.kind, check.params, answers[part.id], other_key[part.id]))
    if hits < BORROWED_MARGIN:
        return None
    comparison = compare_with_keys(case, answers, own_key, other_key)
    return comparison if comparison.borrowed else None


def could_be_borrowed(case: CaseSpec, answers: Mapping[str, Any], own_key: Mapping[str, Any]) -> bool:
    """False when the answers miss too few counted parts of the own key for any other key to match clearly more.

    Lets the report skip the scan over every other key for the (usual) submission that is right.
    """
    missed = 0
    for part in case.checkable_parts:
        check = part.check
        if check is None or check.kind not in COUNTED_KINDS or part.id not in answers or part.id not in own_key:
            continue
        if not _matches(check.kind, check.params, answers[part.id], own_key[part.id]):
            missed += 1
    return missed >= BORROWED_MARGIN


# Parameters whose meaning the index knows; a part with any other (a new tolerance rule) is not indexed.
_INDEXABLE_PARAMS = frozenset({"abs_tol", "rel_tol", "partial_credit"})


def _window(value: float, abs_tol: float, rel_tol: float) -> float:
    """How far a key value can lie from an answer and still match: |v - e| <= abs_tol or <= rel_tol * |e|."""
    # |e| <= |v| + d, so rel_tol * |e| bounds d by rel_tol * |v| / (1 - rel_tol); a little slack for rounding.
    return (abs_tol + rel_tol * abs(value) / (1 - rel_tol)) * (1 + 1e-9) + 1e-12


class KeyIndex:
    """Every key's numbers (number parts and table entries), sorted, to find the keys an answer can match.

    A key that matches a number or table part must hold a value within the part's tolerance of one
    of the answer's numbers, so a few binary searches name every key worth checking instead of all
    of them. When two or more counted parts cannot be indexed, a key could match on those alone:
    then every key is a candidate.
    """

    def __init__(self, case: CaseSpec, keys: Mapping[Hashable, Mapping[str, Any]]) -> None:
        self.keys = list(keys)
        self.columns: dict[tuple[str, str], tuple[list[float], list[Hashable]]] = {}
        self.parts: dict[str, tuple[str, float, float]] = {}  # part id -> kind, abs_tol, rel_tol
        unindexed = 0
        for part in case.checkable_parts:
            check = part.check
            if check is None or check.kind not in COUNTED_KINDS:
                continue
            abs_tol, rel_tol = float(check.params.get("abs_tol", 0)), float(check.params.get("rel_tol", 0))
            if check.kind not in ("number", "table") or set(check.params) - _INDEXABLE_PARAMS or rel_tol >= 1:
                unindexed += 1
                continue
            self.parts[part.id] = (check.kind, abs_tol, rel_tol)
            entries: dict[str, list[tuple[float, Hashable]]] = defaultdict(list)
            for key_id, key in keys.items():
                for name, number in _numbers(check.kind, key.get(part.id)):
                    entries[name].append((number, key_id))
            for name, pairs in entries.items():
                pairs.sort(key=lambda pair: pair[0])
                self.columns[(part.id, name)] = ([v for v, _ in pairs], [k for _, k in pairs])
        self.complete = unindexed < BORROWED_MARGIN

    def candidates(self, answers: Mapping[str, Any]) -> list[Hashable]:
        """The keys that may match at least one counted part of these answers (all of them when the index cannot tell)."""
        if not self.complete:
            return self.keys
        found: set[Hashable] = set()
        for part_id, (kind, abs_tol, rel_tol) in self.parts.items():
            for name, number in _numbers(kind, answers.get(part_id)):
                column = self.columns.get((part_id, name))
                if column is None:
                    continue
                values, ids = column
                width = _window(number, abs_tol, rel_tol)
                found.update(ids[bisect_left(values, number - width) : bisect_right(values, number + width)])
        return [key for key in self.keys if key in found]


def _numbers(kind: str, value: Any) -> list[tuple[str, float]]:
    """(entry name, number) of a number part's value ("" names it) or a table's entries, as the checks read them."""
    if kind == "number":
        number = finite_float(value)
        return [("", number)] if number is not None else []
    if not isinstance(value, Mapping):
        return []
    numbers = []
    for name, cell in list(value.items())[:MAX_TABLE_KEYS]:
        number = finite_float(cell)
        if isinstance(name, str) and number is not None:
            numbers.append((normalise_text(name), number))
    return numbers


# ---------------------------------------------------------------- written answers


def normalised_text(text: str) -> str:
    """Written text as compared: NFKC, case-folded, punctuation and markdown marks dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def written_answers(notebook: Mapping[str, Any]) -> dict[str, str]:
    """A notebook's response cells: part id -> source (each cut to MAX_WRITTEN_CHARS)."""
    answers: dict[str, str] = {}
    for _, cell in notebook_cells(notebook):
        part = _role(cell).get("response")
        if cell.get("cell_type") == "markdown" and isinstance(part, str) and part not in answers:
            answers[part[:100]] = cell_source(cell)[:MAX_WRITTEN_CHARS]
    return answers


@dataclass(frozen=True)
class WrittenMatch:
    """Submissions whose written answer to one part is identical once normalised."""

    part_id: str
    text: str
    submissions: tuple[Hashable, ...]


def written_matches(
    answers: Mapping[Hashable, Mapping[str, str]],
    starter: Mapping[str, str],
    groups: Mapping[Hashable, Hashable] | None = None,
) -> list[WrittenMatch]:
    """Identical written answers to the same part across submissions of different candidates.

    The starter's placeholder and answers shorter than MIN_WRITTEN_CHARS (a bare "yes") are not evidence.
    """
    groups = groups or {}
    starter_texts = {part: normalised_text(text) for part, text in starter.items()}
    same: dict[tuple[str, str], list[Hashable]] = defaultdict(list)
    shown: dict[tuple[str, str], str] = {}
    for key, parts in answers.items():
        for part, text in parts.items():
            norm = normalised_text(text)
            if len(norm) < MIN_WRITTEN_CHARS or norm == starter_texts.get(part):
                continue
            same[(part, norm)].append(key)
            shown.setdefault((part, norm), text)
    found = []
    for (part, norm), keys in sorted(same.items(), key=lambda item: item[0]):
        if len({groups.get(k, k) for k in keys}) >= 2:
            found.append(WrittenMatch(part, shown[(part, norm)], tuple(keys)))
    return found
