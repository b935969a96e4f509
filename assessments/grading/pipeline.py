"""Grading a notebook: a declared list of small steps from (notebook, case, seed) to a GradeReport.

1. prepare: the candidate's data files and a clean copy of the notebook (no outputs) for the sandbox;
2. run: the in-sandbox runner executes every cell, reads the answer variables and calls the function
   parts on their hidden inputs (sandbox.py, runner/);
3. read: the runner's output is parsed as untrusted (result.py);
4. score: each checkable part's answer against the key, computed here from the seed. Of the key, only
   the hidden calls of function parts are sent in (after the last cell); nothing else ever is.

A broken notebook fails only its own checks; a run that fails whole still yields a report whose
``error`` says why, in words the candidate understands.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import nbformat

from assessments.content.case import CaseSpec
from assessments.grading.checks import INCORRECT, INVALID, MISSING, get_check_class, sandbox_request, score_check
from assessments.grading.forkserver import ForkServer
from assessments.grading.materials import SeedMaterials, build_materials
from assessments.grading.pool import SandboxPool, WarmSandboxLost
from assessments.grading.report import (
    GRADER_VERSION,
    MAX_KEPT_ANSWER_BYTES,
    CellResult,
    CheckResult,
    GradeReport,
    RunFailure,
    Timings,
)
from assessments.grading.result import RESULT_PREFIX, AnswerRead, RunnerResult, RunnerResultInvalid, parse_runner_output
from assessments.grading.runner.protocol import MAX_ANSWER_BYTES
from assessments.grading.sandbox import SandboxLimits, SandboxRun, run_in_sandbox

log = logging.getLogger(__name__)

__all__ = ["GRADER_VERSION", "GradeReport", "SandboxLimits", "SandboxPool", "grade_notebook"]


@dataclass(frozen=True)
class _Prepared:
    files: dict[str, bytes]
    notebook_name: str
    code_cells: tuple[int, ...]
    answer_cells: dict[str, int]
    variables: list[str]
    functions: list[dict[str, Any]]


def _mebibytes(size: int) -> str:
    return f"{size / 1024**2:g} MiB" if size < 1024**3 else f"{size / 1024**3:g} GiB"


def _prepare(
    notebook: nbformat.NotebookNode, case: CaseSpec, files: Mapping[str, bytes], key: Mapping[str, Any]
) -> _Prepared:
    """What the sandbox gets: the candidate's data, their notebook without outputs, the names to read.

    Function parts are called rather than read: their hidden calls (never their expected outputs)
    go with the run's settings, not into a file the notebook could read.
    """
    clean = copy.deepcopy(notebook)
    answer_cells: dict[str, int] = {}
    for index, cell in enumerate(clean.cells):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        role = cell.get("metadata", {}).get("assess")
        if isinstance(role, Mapping) and isinstance(role.get("answer"), str):
            answer_cells.setdefault(role["answer"], index)
    files = dict(files)
    # The bundle reserves <slug>.ipynb for the release notebook, so no data file can take this name.
    notebook_name = f"{case.slug}.ipynb"
    files[notebook_name] = json.dumps(clean).encode("utf-8")
    code_cells = tuple(i for i, cell in enumerate(clean.cells) if cell.get("cell_type") == "code")
    variables, functions = [], []
    for part in case.checkable_parts:
        assert part.check is not None
        request = sandbox_request(part.check.kind, part.check.params, key[part.id])
        if request is None:
            variables.append(part.id)
        else:
            functions.append({"name": part.id, **request})
    return _Prepared(files, notebook_name, code_cells, answer_cells, variables, functions)


def _total_memory_words(limits: SandboxLimits) -> str:
    return (
        f"more than {_mebibytes(limits.memory_bytes)} of memory in total (the limit for one submission, "
        "counting every process it starts)"
    )


def _out_of_memory(cells: Mapping[int, CellResult], limits: SandboxLimits) -> dict[int, CellResult]:
    """The cells with the one that ran out of the run's memory bound saying so (its cgroup's OOM killer fired).

    That is the cell whose kernel was stopped, else the first cell that raised: a process it started
    was the biggest and was stopped, and the cell failed on that. A cell that already raised
    MemoryError (one process past its own limit) keeps its error.
    """
    ordered = [cells[index] for index in sorted(cells)]
    # A kernel that ignored an interrupt was ended by the runner, not by the OOM killer.
    died = next(
        (c for c in ordered if c.status == "kernel-died" and "ignored the interrupt" not in (c.error or "")), None
    )
    raised = next((c for c in ordered if c.status == "error"), None)
    if died is not None:
        return {**cells, died.index: replace(died, error=f"MemoryError: {_total_memory_words(limits)}")}
    if raised is not None and not (raised.error or "").startswith("MemoryError"):
        error = (
            f"MemoryError: {_total_memory_words(limits)}; a process was stopped, then the cell raised {raised.error}"
        )
        return {**cells, raised.index: replace(raised, error=error)}
    return dict(cells)


def _cell_message(cell: CellResult, limits: SandboxLimits) -> str:
    if cell.status == "timeout":
        return f"was stopped after {limits.cell_seconds:g} s, the limit for one cell"
    if cell.status == "kernel-died" and (cell.error or "").startswith("MemoryError"):
        return f"used {_total_memory_words(limits)}, so the Python kernel was stopped"
    if cell.status == "kernel-died":
        return (
            f"made the Python kernel die (common causes: more than {_mebibytes(limits.memory_bytes)} of memory, "
            f"more than {limits.cpu_seconds} s of CPU time, or ending the process)"
        )
    if cell.status == "not-run":
        return "did not run (the notebook ran out of time or the kernel had died before it)"
    if cell.error and cell.error.startswith("MemoryError: more than"):
        return f"used {_total_memory_words(limits)}: a process was stopped and the cell failed"
    if cell.error and cell.error.startswith("MemoryError"):
        return f"ran out of memory (the limit is {_mebibytes(limits.memory_bytes)})"
    return f"raised {cell.error}" if cell.error else "failed"


def _unanswered(
    part_id: str,
    kind: str,
    answer: AnswerRead | None,
    prepared: _Prepared,
    cells: Mapping[int, CellResult],
    limits: SandboxLimits,
) -> str:
    check_class = get_check_class(kind)
    if answer is not None and answer.state == "unusable":
        return check_class.unusable_message(part_id, answer.reason)
    message = f"`{part_id}` was never {check_class.provided}"
    index = prepared.answer_cells.get(part_id)
    if index is None:
        return message + " (its answer cell is missing from the notebook)."
    cell = cells.get(index)
    if cell is not None and cell.status != "ok":
        return message + f": its answer cell (cell {index + 1}) {_cell_message(cell, limits)}."
    return message + f" (its answer cell is cell {index + 1})."


def _score(
    case: CaseSpec,
    key: Mapping[str, Any],
    result: RunnerResult | None,
    prepared: _Prepared,
    cells: Mapping[int, CellResult],
    limits: SandboxLimits,
    run_error: str | None,
) -> tuple[CheckResult, ...]:
    checks = []
    for part in case.checkable_parts:
        assert part.check is not None
        possible = float(part.points)
        if result is None or (result.failure or result.answers_failure) and part.id not in result.answers:
            reason = "not graded: " + (run_error or "the answers could not be read")
            checks.append(CheckResult(part.id, 0.0, possible, MISSING, reason))
            continue
        answer = result.answers.get(part.id)
        if answer is None or answer.state != "ok":
            status = INVALID if answer is not None and answer.state == "unusable" else MISSING
            message = _unanswered(part.id, part.check.kind, answer, prepared, cells, limits)
            checks.append(CheckResult(part.id, 0.0, possible, status, message))
            continue
        outcome = score_check(part.check.kind, part.check.params, answer.value, key[part.id], possible)
        checks.append(CheckResult(part.id, outcome.earned, outcome.possible, outcome.status, outcome.message))
    return rest_on_evidence(case, checks)


def rest_on_evidence(case: CaseSpec, checks: list[CheckResult]) -> tuple[CheckResult, ...]:
    """The checks with each part that rests on others (``rests_on``) zeroed unless those earned full marks.

    A judgment a coin could answer (a decision, a yes/no) counts only together with the evidence it
    rests on. Parts are taken in case order and may only rest on earlier ones, so a chain settles in
    one pass: a part zeroed here also zeroes the parts resting on it.
    """
    settled: dict[str, CheckResult] = {}
    for check in checks:
        needed = case.part(check.part_id).rests_on
        short = [p for p in needed if p not in settled or settled[p].earned < settled[p].possible]
        if short and check.earned > 0:
            check = CheckResult(
                check.part_id,
                0.0,
                check.possible,
                INCORRECT,
                f"{check.message} It counts only when the parts it rests on are right, "
                f"and {', '.join(f'`{p}`' for p in short)} {'is' if len(short) == 1 else 'are'} not.",
            )
        settled[check.part_id] = check
    return tuple(settled.values())


def _kept_answers(result: RunnerResult | None, prepared: _Prepared) -> dict[str, Any]:
    """The answer variables the checks read, for the integrity report; large ones are left out."""
    kept: dict[str, Any] = {}
    for name in prepared.variables:
        answer = result.answers.get(name) if result is not None else None
        if answer is None or answer.state != "ok" or answer.value is None:
            continue
        try:
            size = len(json.dumps(answer.value, allow_nan=False))
        except (TypeError, ValueError):
            continue
        if size <= MAX_KEPT_ANSWER_BYTES:
            kept[name] = answer.value
    return kept


_Failure = tuple[RunFailure, str]


def _run_error(run: SandboxRun, limits: SandboxLimits) -> _Failure | None:
    if run.timed_out:
        return RunFailure.WALL_TIME, (
            f"Running your notebook took longer than {limits.wall_seconds:g} s in total and was stopped, so "
            "nothing could be graded. Make sure it runs from top to bottom well within that time."
        )
    if run.output_capped:
        return RunFailure.OUTPUT_CAP, (
            f"Running your notebook sent more than {_mebibytes(limits.output_bytes)} of results to the grader "
            "and was stopped, so nothing could be graded. Keep answer variables to the values asked for."
        )
    return None


def _result_error(result: RunnerResult, cells: Mapping[int, CellResult], limits: SandboxLimits) -> _Failure | None:
    if result.failure == "kernel-died":
        died = next((c for c in cells.values() if c.status == "kernel-died"), None)
        if died is not None and died.error and "ignored the interrupt" in died.error:
            return RunFailure.INTERRUPT_IGNORED, (
                f"Cell {died.index + 1} ran past the {limits.cell_seconds:g} s limit for one cell and ignored "
                "the interrupt sent to stop it, so the Python kernel was ended: later cells did not run and no "
                "answers could be read. Make sure no cell runs that long, and do not catch KeyboardInterrupt."
            )
        where = f" while running cell {died.index + 1}" if died else ""
        if died is not None and died.error and died.error.startswith("MemoryError"):
            return RunFailure.KERNEL_DIED, (
                f"The Python kernel was stopped{where} because the notebook used {_total_memory_words(limits)}, "
                "so later cells did not run and no answers could be read. Work on the data you were given, "
                "not copies of it, and close the processes you start."
            )
        return RunFailure.KERNEL_DIED, (
            f"The Python kernel died{where}, so later cells did not run and no answers could be read. Common "
            f"causes: more than {_mebibytes(limits.memory_bytes)} of memory, more than {limits.cpu_seconds} s "
            "of CPU time, or code that ends the process."
        )
    if result.failure:
        log.error("grading runner failed: %s", result.failure)
        return RunFailure.RUNNER_FAILED, (
            "The grader failed to run your notebook because of an internal error; the staff have been told."
        )
    if result.answers_failure:
        return RunFailure.ANSWERS_UNREADABLE, (
            f"Your notebook ran, but its answer variables could not be read afterwards ({result.answers_failure}). "
            "The last cells may still be running or may have replaced Python internals."
        )
    return None


def _run_warm(
    pool: SandboxPool | ForkServer, prepared: _Prepared, nonce: str, limits: SandboxLimits
) -> SandboxRun | None:
    """The run in one of the pool's warm sandboxes (or a fork); None when the cold path must run it instead."""
    # A warm sandbox's process limits were fixed when it started, and its data files are written into
    # its size-capped working folder (a cold run binds them read-only): both must fit.
    fits = (
        sum(len(data) for data in prepared.files.values()) <= limits.scratch_bytes // 2
        and max(len(data) for data in prepared.files.values()) < limits.file_bytes
    )
    if pool.limits != limits or not fits:
        return None
    sandbox = pool.take()
    if sandbox is None:
        return None
    settings = {
        "nonce": nonce,
        "notebook": prepared.notebook_name,
        "answers": prepared.variables,
        "functions": prepared.functions,
        "cell_seconds": limits.cell_seconds,
        "wall_seconds": limits.wall_seconds,
        "max_answer_bytes": MAX_ANSWER_BYTES,
    }
    try:
        return sandbox.run(prepared.files, settings)
    except WarmSandboxLost as lost:
        pool.note_lost()
        log.warning("%s; grading in a cold sandbox instead", lost)
        return None


def grade_notebook(
    notebook: nbformat.NotebookNode,
    case: CaseSpec,
    seed: int,
    *,
    limits: SandboxLimits | None = None,
    size: int | None = None,
    pool: SandboxPool | ForkServer | None = None,
    materials: SeedMaterials | None = None,
) -> GradeReport:
    """Run the notebook in a sandbox on the candidate's own data and score its answers against the key.

    With a pool, the run takes one of its warm sandboxes, or with a fork server a fresh fork of its
    template (when the pool's limits are the run's and one is there); otherwise, or if that sandbox
    is lost before the handover (a fork whose set-up failed), it starts a cold one.
    ``materials`` are the seed's data files and key when the caller kept them (materials.py);
    without them they are built here.

    :raises SandboxUnavailable: when no sandbox can be had and ASSESS_UNSAFE_NO_SANDBOX=1 is not set.
    :raises KeyValueProblem: when the case's key does not fit a check (a case bug, not the candidate's).
    """
    limits = limits or (pool.limits if pool is not None else SandboxLimits())
    started = time.monotonic()
    # The key is computed here, in the trusted process; of it only function parts' calls are sent in.
    materials = materials or build_materials(case, seed, size)
    prepared = _prepare(notebook, case, materials.files, materials.key)
    key = materials.key
    names = [part.id for part in case.checkable_parts]
    nonce = secrets.token_hex(16)
    run = _run_warm(pool, prepared, nonce, limits) if pool is not None else None
    warm = run is not None
    if run is None:
        runner_args = [
            prepared.notebook_name,
            "--answers",
            ",".join(prepared.variables),
            "--cell-seconds",
            f"{limits.cell_seconds:g}",
            "--wall-seconds",
            f"{limits.wall_seconds:g}",
            "--max-answer-bytes",
            str(MAX_ANSWER_BYTES),
        ]
        # On stdin, not the command line: the kernel can read the runner's command line, not its memory.
        stdin = f"{nonce}\n{json.dumps(prepared.functions)}\n".encode()
        run = run_in_sandbox(
            prepared.files, runner_args, limits, stdin=stdin, result_marker=RESULT_PREFIX + nonce.encode()
        )
    scoring_started = time.monotonic()
    failure = _run_error(run, limits)
    result: RunnerResult | None = None
    if failure is None:
        try:
            result = parse_runner_output(
                run.output, nonce, code_cells=prepared.code_cells, answer_names=names, max_bytes=limits.output_bytes
            )
        except RunnerResultInvalid as problem:
            log.warning(
                "unreadable runner result (%s); exit code %s; output starts %r",
                problem,
                run.exit_code,
                run.output[:300],
            )
            failure = (
                RunFailure.UNREADABLE_RESULT,
                (
                    "The grader could not read the result of running your notebook, so nothing could be graded. "
                    "This happens when the run is cut short (for example by the process limit) or when the "
                    "notebook interferes with the grader; make sure it runs cleanly from top to bottom."
                ),
            )
    cells = {c.index: CellResult(c.index, c.status, c.error, c.seconds) for c in (result.cells if result else ())}
    if run.oom_killed:
        cells = _out_of_memory(cells, limits)
    if result is not None:
        failure = _result_error(result, cells, limits)
    error = failure[1] if failure else None
    checks = _score(case, key, result, prepared, cells, limits, error)
    finished = time.monotonic()
    overhead = max(0.0, run.seconds - (result.runner_seconds if result else run.seconds))
    return GradeReport(
        grader_version=GRADER_VERSION,
        case_slug=case.slug,
        case_version=case.content_hash,
        seed=seed,
        earned=round(sum(c.earned for c in checks), 6),
        possible=round(sum(c.possible for c in checks), 6),
        checks=checks,
        cells=tuple(cells[i] for i in sorted(cells)),
        timings=Timings(
            sandbox_start=round(overhead + (result.kernel_start_seconds if result else 0.0), 3),
            execution=round(result.execution_seconds if result else run.seconds, 3),
            scoring=round(finished - scoring_started, 3),
            total=round(finished - started, 3),
            kernel_start=round(result.kernel_start_seconds if result else 0.0, 3),
            warm=warm,
        ),
        error=error,
        sandboxed=run.sandboxed,
        failure=failure[0] if failure else None,
        answers=_kept_answers(result, prepared),
    )
