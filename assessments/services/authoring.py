"""Case authors' tools, none of which needs the database: a bundle for any seed, a notebook file
graded through the real pipeline and sandbox, and every case proven over many seeds.

A seed given to the bundle and grade tools is a public seed id derived through the deployment's key
(`author_seed`), so an author reproduces exactly what a candidate with that id got.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from flask import current_app

from assessments.content.bundle import build_bundle
from assessments.content.case import CaseSpec
from assessments.content.corpus import CorpusError, read_corpus
from assessments.content.seeds import SeedKind
from assessments.errors import GradingUnavailable, InvalidInput, NotFound
from assessments.grading import validation
from assessments.grading.corpus import EntryResult, grade_corpus
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.pipeline import grade_notebook
from assessments.grading.report import GradeReport
from assessments.grading.sandbox import SandboxUnavailable
from assessments.grading.validation import SeedValidation
from assessments.services import catalog
from assessments.services.seeds import author_data_seed


def find_case_spec(slug: str) -> CaseSpec:
    """The case on disk with this slug.

    :raises NotFound: naming the cases there are.
    """
    spec = catalog.case_specs().get(slug)
    if spec is None:
        raise NotFound(f"No case {slug!r}; the cases are: {', '.join(sorted(catalog.case_specs()))}.")
    return spec


def author_seed(seed: int, *, practice: bool = False, raw_seed: bool = False) -> int:
    """The data seed an author's `--seed N` stands for.

    N is a public seed id, as a bundle's name shows it, derived through this deployment's key as
    for an invitation (or a practice, with `practice`) issued now: the author gets exactly what that
    candidate got. With `raw_seed`, N is the data seed itself (invitations made before secret seeds,
    whose public id is their data seed, and the seeds `cases validate` runs).
    """
    if raw_seed:
        return seed
    return author_data_seed(seed, SeedKind.PRACTICE if practice else SeedKind.INVITATION)


def case_bundle(
    spec: CaseSpec, seed: int, *, practice: bool = False, raw_seed: bool = False, solution: bool = False
) -> bytes:
    """The bundle of `--seed N` (see `author_seed`) as a zip, named by N (the author's, solution cells kept, with `solution`)."""
    data_seed = author_seed(seed, practice=practice, raw_seed=raw_seed)
    return build_bundle(spec, data_seed, public_id=seed, solution=solution)


def validate_cases(specs: Iterable[CaseSpec], seeds: Iterable[int], *, parallel: int) -> Iterator[SeedValidation]:
    """Each case's solution (full marks) and release notebook (zero) graded for every seed, as each finishes.

    :raises GradingUnavailable: when no sandbox can grade here.
    """
    try:
        yield from validation.validate_cases(specs, seeds, parallel=parallel)
    except SandboxUnavailable as error:
        raise GradingUnavailable(str(error)) from error


def grade_file(raw: bytes, spec: CaseSpec, seed: int, *, practice: bool = False, raw_seed: bool = False) -> GradeReport:
    """A notebook file graded as intake and the sandbox would grade a candidate's, without the database.

    `seed` is read as `author_seed` says.

    :raises InvalidInput: when intake refuses the file (the message says why).
    :raises GradingUnavailable: when no sandbox can grade here.
    """
    try:
        notebook = parse_submission(raw, case_slug=spec.slug)
        return grade_notebook(notebook, spec, author_seed(seed, practice=practice, raw_seed=raw_seed))
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
