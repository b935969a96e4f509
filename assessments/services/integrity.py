"""Integrity flags for one case: evidence for an admin to read, never an automatic verdict.

For every invitation to the case, its latest graded submission is compared with the others:

- borrowed key: its answers (kept on the grade report) match another invitation's key on clearly
  more parts than its own key, scored with the case's own checks and tolerances;
- near-duplicate code: its own code (the starter's removed, names normalised) is near-identical
  to another candidate's, or to the case's author solution (the repository is public);
- identical written answers.

The comparisons live in `grading/integrity.py` and `grading/code_similarity.py`; this module
reads the rows, the stored notebooks and each invitation's key (its seed through
`invitations.data_seed`, the one place that knows it).

Cost, for N compared submissions and K keys: reading and fingerprinting is linear in N (each
notebook's work capped); code pairs come from MinHash LSH, so only pairs that are likely similar are
measured instead of all N(N-1)/2 (bench/integrity.py); the key scan runs only for submissions that
miss at least two counted parts of their own key, and checks only the keys an index of every key's
numbers names (a few binary searches per answer) instead of all K.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.content.case import CaseSpec
from assessments.content.notebook import release_notebook, solution_notebook
from assessments.errors import CaseUnavailable
from assessments.extensions import db
from assessments.grading import code_similarity
from assessments.grading import integrity as evidence
from assessments.models import Case, GradeStatus, Invitation, Submission
from assessments.services import catalog, invitations
from assessments.storage import submission_store

# How long a run of normalised tokens two notebooks must share to count, for messages.
SHINGLE_TOKENS = code_similarity.SHINGLE_TOKENS
CodeMatch = code_similarity.CodeMatch

__all__ = [
    "BorrowedKeyFlag",
    "CodeFlag",
    "CodeMatch",
    "IntegrityReport",
    "SolutionFlag",
    "SHINGLE_TOKENS",
    "SubmissionRef",
    "WrittenFlag",
    "integrity_report",
]


@dataclass(frozen=True)
class SubmissionRef:
    """Which submission a flag is about, as an admin reads it."""

    invitation_id: int
    submission_id: int
    version: int
    candidate_id: int
    candidate_name: str


@dataclass(frozen=True)
class BorrowedKeyFlag:
    """A submission whose answers match another invitation's key on clearly more parts than its own."""

    submission: SubmissionRef
    key_of_invitation: int
    key_of_candidate: str
    comparison: evidence.KeyComparison


@dataclass(frozen=True)
class CodeFlag:
    """Two submissions whose own code is near-identical, with the passages they share."""

    left: SubmissionRef
    right: SubmissionRef
    match: code_similarity.CodeMatch


@dataclass(frozen=True)
class SolutionFlag:
    """A submission whose own code is near-identical to the case's author solution (public in the repository)."""

    submission: SubmissionRef
    match: code_similarity.CodeMatch


@dataclass(frozen=True)
class WrittenFlag:
    """Submissions of different candidates with the same written answer to one part."""

    part_id: str
    text: str
    submissions: tuple[SubmissionRef, ...]


@dataclass(frozen=True)
class IntegrityReport:
    """Every flag for one case, with what was compared and what could not be."""

    case_slug: str
    case_title: str
    compared: int
    keys: int
    borrowed_keys: tuple[BorrowedKeyFlag, ...]
    code: tuple[CodeFlag, ...]
    solution: tuple[SolutionFlag, ...]
    written: tuple[WrittenFlag, ...]
    not_compared: tuple[tuple[SubmissionRef | None, int, str], ...] = field(default=())  # (ref, invitation, why)
    seconds: float = 0.0

    @property
    def flag_count(self) -> int:
        """How many flags the report holds."""
        return len(self.borrowed_keys) + len(self.code) + len(self.solution) + len(self.written)


@dataclass
class _Entry:
    ref: SubmissionRef
    notebook: dict[str, Any]
    answers: dict[str, Any] | None
    spec: CaseSpec | None


def _latest_graded(invitation: Invitation) -> tuple[Submission, dict[str, Any]] | None:
    """The newest submission version with a finished grading, and that grading's report."""
    for submission in sorted(invitation.submissions, key=lambda s: s.version, reverse=True):
        done = [r for r in submission.grade_runs if r.status == GradeStatus.DONE and r.results]
        if done:
            return submission, done[-1].results or {}
    return None


def _read_notebook(sha256: str) -> dict[str, Any] | None:
    """The stored notebook as JSON (its size was capped at intake), or None when it cannot be read."""
    try:
        notebook = json.loads(submission_store().get(sha256))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None
    return notebook if isinstance(notebook, dict) else None


def _spec(case: Case, specs: dict[int, CaseSpec | None]) -> CaseSpec | None:
    if case.id not in specs:
        try:
            specs[case.id] = catalog.spec_for(case)
        except CaseUnavailable:
            specs[case.id] = None
    return specs[case.id]


def integrity_report(slug: str) -> IntegrityReport:
    """Every integrity flag for a case's submissions, with the evidence side by side.

    :raises NotFound: when no case has this slug.
    """
    started = time.monotonic()
    case = catalog.find_current_case(slug)
    rows = db.session.scalars(
        select(Invitation)
        .join(Case)
        .where(Case.slug == slug)
        .order_by(Invitation.id)
        .options(
            selectinload(Invitation.candidate),
            selectinload(Invitation.case),
            selectinload(Invitation.submissions).selectinload(Submission.grade_runs),
        )
    ).all()
    specs: dict[int, CaseSpec | None] = {}
    entries: dict[int, _Entry] = {}
    not_compared: list[tuple[SubmissionRef | None, int, str]] = []
    keys: dict[int, Any] = {}
    for invitation in rows:
        spec = _spec(invitation.case, specs)
        graded = _latest_graded(invitation)
        ref = None
        if graded is not None:
            submission, results = graded
            ref = SubmissionRef(
                invitation.id, submission.id, submission.version, invitation.candidate_id, invitation.candidate.name
            )
        # A key nobody downloaded data for cannot have been passed on.
        if spec is not None and (graded is not None or invitation.first_downloaded_at is not None):
            try:
                keys[invitation.id] = catalog.seed_materials(spec, invitations.data_seed(invitation)).key
            except CaseUnavailable:
                # Issued under another seed key than this machine's (logged): neither borrowed nor lent.
                not_compared.append((ref, invitation.id, "its key cannot be made on this machine (see the log)"))
        if graded is None:
            continue
        notebook = _read_notebook(submission.sha256)
        if notebook is None:
            not_compared.append((ref, invitation.id, "its notebook could not be read from the store"))
            continue
        answers = results.get("answers")
        if spec is None:
            not_compared.append((ref, invitation.id, "its case version is no longer on disk: answers not compared"))
        elif not isinstance(answers, dict):
            not_compared.append((ref, invitation.id, "graded before answers were kept: regrade to compare answers"))
        entries[invitation.id] = _Entry(ref, notebook, answers if isinstance(answers, dict) else None, spec)

    current = catalog.spec_for(case)
    starter = release_notebook(current)
    groups = {key: entry.ref.candidate_id for key, entry in entries.items()}
    prints = {key: code_similarity.code_print(entry.notebook) for key, entry in entries.items()}
    starter_print = code_similarity.code_print(starter)
    code = code_similarity.code_matches(prints, starter_print, groups)
    solution = code_similarity.reference_matches(
        prints, starter_print, code_similarity.code_print(solution_notebook(current)), "solution"
    )
    written = evidence.written_matches(
        {key: evidence.written_answers(entry.notebook) for key, entry in entries.items()},
        evidence.written_answers(starter),
        groups,
    )
    candidates = {invitation.id: invitation.candidate for invitation in rows}
    return IntegrityReport(
        case_slug=case.slug,
        case_title=case.title,
        compared=len(entries),
        keys=len(keys),
        borrowed_keys=tuple(_borrowed_keys(entries, keys, candidates)),
        code=tuple(CodeFlag(entries[m.left].ref, entries[m.right].ref, m) for m in code),
        solution=tuple(SolutionFlag(entries[m.left].ref, m) for m in solution),
        written=tuple(WrittenFlag(w.part_id, w.text, tuple(entries[k].ref for k in w.submissions)) for w in written),
        not_compared=tuple(not_compared),
        seconds=round(time.monotonic() - started, 3),
    )


def _borrowed_keys(
    entries: dict[int, _Entry], keys: dict[int, Any], candidates: dict[int, Any]
) -> list[BorrowedKeyFlag]:
    """For each submission that misses its own key, the other key it matches best, when clearly better."""
    flags = []
    indexes: dict[str, evidence.KeyIndex] = {}
    for invitation_id, entry in entries.items():
        own_key = keys.get(invitation_id)
        if entry.answers is None or entry.spec is None or own_key is None:
            continue
        if not evidence.could_be_borrowed(entry.spec, entry.answers, own_key):
            continue
        if entry.spec.content_hash not in indexes:
            indexes[entry.spec.content_hash] = evidence.KeyIndex(entry.spec, keys)
        best: tuple[int, evidence.KeyComparison] | None = None
        for other_id in indexes[entry.spec.content_hash].candidates(entry.answers):
            if other_id == invitation_id or candidates[other_id].id == entry.ref.candidate_id:
                continue
            comparison = evidence.borrowed_key(entry.spec, entry.answers, own_key, keys[other_id])
            if comparison is not None and (best is None or comparison.other_matches > best[1].other_matches):
                best = (other_id, comparison)
        if best is not None:
            flags.append(BorrowedKeyFlag(entry.ref, best[0], candidates[best[0]].name, best[1]))
    return flags
