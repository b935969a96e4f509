"""Case authors' tools, none of which needs the database: a bundle for any seed, a notebook file
graded through the real pipeline and sandbox, and every case proven over many seeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from flask import current_app

from assessments.content.bundle import build_bundle
from assessments.content.case import CaseSpec
from assessments.content.corpus import CorpusError, read_corpus
from assessments.errors import GradingUnavailable, InvalidInput, NotFound
from assessments.grading import validation
from assessments.grading.corpus import EntryResult, grade_corpus
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import GradeReport
from assessments.grading.sandbox import SandboxUnavailable
from assessments.grading.validation import SeedValidation
from assessments.services import catalog


def find_case_spec(slug: str) -> CaseSpec:
    """The case on disk with this slug.

    :raises NotFound: naming the cases there are.
    """
    spec = catalog.case_specs().get(slug)
    if spec is None:
        raise NotFound(f"No case {slug!r}; the cases are: {', '.join(sorted(catalog.case_specs()))}.")
    return spec


def case_bundle(spec: CaseSpec, seed: int, *, solution: bool = False) -> bytes:
    """A candidate's bundle for a seed as a zip (the author's, solution cells kept, with `solution`)."""
    return build_bundle(spec, seed, solution=solution)


def validate_cases(specs: Iterable[CaseSpec], seeds: Iterable[int], *, parallel: int) -> Iterator[SeedValidation]:
    """Each case's solution (full marks) and release notebook (zero) graded for every seed, as each finishes.

    :raises GradingUnavailable: when no sandbox can grade here.
    """
    try:
        yield from validation.validate_cases(specs, seeds, parallel=parallel)
    except SandboxUnavailable as error:
        raise GradingUnavailable(str(error)) from error


def grade_file(raw: bytes, spec: CaseSpec, seed: int) -> GradeReport:
    """A notebook file graded as intake and the sandbox would grade a candidate's, without the database.

    :raises InvalidInput: when intake refuses the file (the message says why).
    :raises GradingUnavailable: when no sandbox can grade here.
    """
    try:
        return grade_notebook(parse_submission(raw, case_slug=spec.slug), spec, seed)
    except SubmissionRejected as error:
        raise InvalidInput(str(error)) from error
    except SandboxUnavailable as error:
        raise GradingUnavailable(str(error)) from error


def corpus_folder(spec: CaseSpec) -> Path:
    """Where a case's careless-analyst corpus lives (`CARELESS_DIR/<slug with underscores>`)."""
    return Path(current_app.config["CARELESS_DIR"]) / spec.slug.replace("-", "_")


def careless_table(
    spec: CaseSpec, seeds: Iterable[int], *, parallel: int, folder: Path | None = None
) -> list[EntryResult]:
    """The case's careless-analyst corpus graded on every seed, each entry with what it earned and whether it held.

    :raises NotFound: when the case has no corpus.
    :raises InvalidInput: when a corpus file cannot be read (the message names it).
    :raises GradingUnavailable: when no sandbox can grade here.
    """
    folder = folder or corpus_folder(spec)
    if not folder.is_dir():
        raise NotFound(f"Case {spec.slug!r} has no careless-analyst corpus at {folder}.")
    try:
        return grade_corpus(spec, read_corpus(folder), seeds, parallel=parallel)
    except CorpusError as error:
        raise InvalidInput(str(error)) from error
    except SandboxUnavailable as error:
        raise GradingUnavailable(str(error)) from error
