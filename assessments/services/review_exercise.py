"""Methodology-review exercises: the flawed notebook's cells, scoring flags, explaining each defect.

A case whose kind offers the review exercise (`CaseKind.review_exercise` in `content/kinds.py`, the
`review` kind today) has its generator's `DEFECT_CATALOGUE` and `flawed_cells(seed)` on
`CaseSpec.kind_hooks`, checked when the case was loaded. Flags chosen in the browser are scored
with the same `labels` check, against the same key, as the notebook route.
Mentees get the catalogue's per-defect explanations, never the author's solution cells: for a case
that is also used in hiring, those cells show how to derive the key from the data.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nbformat

from assessments.content.case import CaseSpec, Part
from assessments.content.kinds import UnknownCaseKind, get_case_kind
from assessments.errors import NotFound
from assessments.grading.checks import score_check
from assessments.grading.checks.labels import parse_cell_flag
from assessments.grading.report import GRADER_VERSION, CheckResult, GradeReport, Timings

MAX_NOTE_CHARS = 500


@dataclass(frozen=True)
class ReviewFlag:
    """One defect the mentee flagged: the cell label, a catalogue id and their note."""

    label: str
    defect: str
    note: str = ""

    @property
    def answer(self) -> str:
        """The flag as the notebook route writes it: "C<n>:<defect-id>"."""
        return f"{self.label}:{self.defect}"


@dataclass(frozen=True)
class FlawedCell:
    """A cell of the flawed notebook as the mentee sees it (the planted defect is never sent)."""

    label: str
    cell_type: str
    title: str
    source: str


@dataclass(frozen=True)
class DefectExplanation:
    """One planted defect, or one false flag, with what the catalogue says about it."""

    label: str
    defect: str
    title: str
    # found | missed | false-flag | unreadable (a flag not in the "C<n>:<id>" form, not scored) |
    # unknown (notebook answers that could not be read at all)
    outcome: str
    explanation: str
    why_it_matters: str
    how_to_fix: str
    note: str = ""


def is_review_case(spec: CaseSpec) -> bool:
    """True when the case can be answered in the browser by flagging cells."""
    try:
        kind = get_case_kind(spec.kind)
    except UnknownCaseKind:
        return False
    # The loader checked a review kind's hooks and labels part; a hand-built spec may lack them.
    return kind.review_exercise and all(h in spec.kind_hooks for h in kind.hooks) and _labels_part(spec) is not None


def _labels_part(spec: CaseSpec) -> Part | None:
    parts = [p for p in spec.checkable_parts if p.check is not None and p.check.kind == "labels"]
    return parts[0] if len(parts) == 1 and len(spec.checkable_parts) == 1 else None


def _hooks(spec: CaseSpec) -> Mapping[str, Any]:
    if not is_review_case(spec):
        raise NotFound(f"The case {spec.title!r} has no review exercise in the browser.")
    return spec.kind_hooks


def defect_catalogue(spec: CaseSpec) -> Mapping[str, Mapping[str, str]]:
    """The case's catalogue: defect id -> title, summary, explanation, why_it_matters, how_to_fix.

    :raises NotFound: when the case is not a review exercise.
    """
    return _hooks(spec)["DEFECT_CATALOGUE"]


def _planted_cells(spec: CaseSpec, seed: int) -> list[dict[str, Any]]:
    return list(_hooks(spec)["flawed_cells"](seed))


def planted_flags(spec: CaseSpec, seed: int) -> list[ReviewFlag]:
    """The flags that find every defect planted for this seed: the answer, for the demo and tests.

    :raises NotFound: when the case is not a review exercise.
    """
    return [ReviewFlag(str(c["label"]), str(c["defect"])) for c in _planted_cells(spec, seed) if c["defect"]]


def flawed_cells(spec: CaseSpec, seed: int) -> list[FlawedCell]:
    """The seed's flawed notebook, cell by cell, without the planted answers.

    :raises NotFound: when the case is not a review exercise.
    """
    return [
        FlawedCell(str(c["label"]), str(c["cell_type"]), str(c["title"]), str(c["source"]))
        for c in _planted_cells(spec, seed)
    ]


def score_flags(spec: CaseSpec, seed: int, flags: Sequence[ReviewFlag]) -> GradeReport:
    """Score browser flags exactly as the grader scores `flagged_defects` in a notebook.

    :raises NotFound: when the case is not a review exercise.
    """
    part = _labels_part(spec)
    if part is None or part.check is None or not is_review_case(spec):
        raise NotFound(f"The case {spec.title!r} has no review exercise in the browser.")
    key = spec.key_for_seed(seed)
    outcome = score_check(
        part.check.kind, part.check.params, [f.answer for f in flags], key[part.id], float(part.points)
    )
    check = CheckResult(part.id, outcome.earned, outcome.possible, outcome.status, outcome.message)
    return GradeReport(
        grader_version=GRADER_VERSION,
        case_slug=spec.slug,
        case_version=spec.content_hash,
        seed=seed,
        earned=check.earned,
        possible=check.possible,
        checks=(check,),
        cells=(),
        timings=Timings(),
    )


def _normalise(answer: str) -> str:
    # As the labels check reads a cell flag: "c7 : Peeking" is "C7:peeking".
    flag = parse_cell_flag(answer)
    return f"{flag[0]}:{flag[1]}" if flag else answer.strip().casefold()


def explain_defects(spec: CaseSpec, seed: int, flags: Iterable[ReviewFlag] | None) -> list[DefectExplanation]:
    """Each planted defect (found or missed) and each false or unreadable flag, explained from the catalogue.

    With `flags` None (answers that could not be read from a notebook), every planted defect is
    explained with the outcome "unknown".

    :raises NotFound: when the case is not a review exercise.
    """
    catalogue = defect_catalogue(spec)
    cells = _planted_cells(spec, seed)
    given = {_normalise(f.answer): ReviewFlag(*_split(f.answer), f.note) for f in flags} if flags is not None else None
    planted = {_normalise(f"{c['label']}:{c['defect']}"): c for c in cells if c["defect"]}
    explained = []
    for answer, cell in planted.items():
        entry = catalogue[str(cell["defect"])]
        flag = given.get(answer) if given is not None else None
        outcome = "unknown" if given is None else ("found" if flag else "missed")
        explained.append(_explanation(str(cell["label"]), str(cell["defect"]), entry, outcome, flag))
    for answer, flag in (given or {}).items():
        if answer in planted:
            continue
        if parse_cell_flag(flag.answer) is None:
            explained.append(_unreadable(flag))
            continue
        entry = catalogue.get(flag.defect, {})
        cell = next((c for c in cells if _normalise(str(c["label"])) == _normalise(flag.label)), None)
        if not entry:
            reason = "That id is not in the catalogue of this exercise."
        elif cell is None:
            reason = f"There is no cell {flag.label} in your notebook."
        elif cell["defect"]:
            other = catalogue[str(cell["defect"])]["title"]
            reason = f"Cell {cell['label']} does hold a planted defect, but it is {other}, not this one."
        else:
            reason = f"Cell {cell['label']} ({cell['title']}) does this step correctly."
        explained.append(
            DefectExplanation(
                label=flag.label,
                defect=flag.defect,
                title=entry.get("title", flag.defect),
                outcome="false-flag",
                explanation=reason,
                why_it_matters="A false flag costs a share of the score: flagging every step earns nothing.",
                how_to_fix=entry.get("summary", ""),
                note=flag.note,
            )
        )
    return explained


def _unreadable(flag: ReviewFlag) -> DefectExplanation:
    text = flag.answer.rstrip(":")
    return DefectExplanation(
        label=text[:60] + ("…" if len(text) > 60 else ""),
        defect="",
        title="not read as a flag",
        outcome="unreadable",
        explanation='This flag could not be read as `"C<n>:<defect-id>"`, so it was not scored.',
        why_it_matters="Write the cell's label, a colon and an id from the catalogue, e.g. C4:some-defect-id.",
        how_to_fix="",
        note=flag.note,
    )


def _explanation(
    label: str, defect: str, entry: Mapping[str, str], outcome: str, flag: ReviewFlag | None
) -> DefectExplanation:
    return DefectExplanation(
        label=label,
        defect=defect,
        title=entry["title"],
        outcome=outcome,
        explanation=entry["explanation"],
        why_it_matters=entry["why_it_matters"],
        how_to_fix=entry["how_to_fix"],
        note=flag.note if flag else "",
    )


def flags_from_notebook(notebook: nbformat.NotebookNode, part_id: str) -> list[ReviewFlag] | None:
    """The flags a notebook's answer cell assigns as a plain list literal, or None when unreadable.

    Only for explaining a notebook attempt: the score always comes from running the notebook.
    """
    for cell in notebook.get("cells", []):
        role = cell.get("metadata", {}).get("assess", {})
        if cell.get("cell_type") != "code" or not isinstance(role, Mapping) or role.get("answer") != part_id:
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == part_id for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    return None
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    return None
                return [ReviewFlag(*_split(v)) for v in value]
    return None


def _split(answer: str) -> tuple[str, str]:
    flag = parse_cell_flag(answer)
    if flag is not None:
        return flag
    label, _, defect = answer.strip().partition(":")
    return label.strip(), defect.strip()
