"""What a candidate is told about a graded upload: did it run, how many answers were found; never a score.

The wording is built from the report's cell results and its failure code only. Check messages,
earned points, tolerances and expected values are staff-side and never reach this text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assessments.grading.checks import INVALID, MISSING
from assessments.grading.report import CellResult, GradeReport, RunFailure
from assessments.services.grading import GradingProgress

WAITING = {
    "queued": "received, waiting to be checked",
    "running": "being checked",
    "failed": "received; the automatic check could not run and staff will review your notebook",
}

# What usually causes an exception in a notebook that worked on the candidate's machine.
HINTS = {
    "FileNotFoundError": "your data files are next to the notebook, see the README",
    "NameError": "run the notebook from top to bottom in a fresh kernel (Restart and Run All) before uploading",
    "ModuleNotFoundError": "only the packages listed in the brief are installed for the check",
    "ImportError": "only the packages listed in the brief are installed for the check",
    "MemoryError": "the check has a memory limit; work on the data you were given, not copies of it",
}

_ERRNO = re.compile(r"^(\w+): \[Errno \d+\] [^:]*: (.*)$", re.DOTALL)
MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class Outcome:
    """One upload's status line for the candidate; ``ran_clean`` is False when something needs their attention."""

    state: str
    text: str
    ran_clean: bool | None = None  # None while waiting or when the check failed on our side


def candidate_outcome(progress: GradingProgress) -> Outcome:
    """The candidate's line for one upload: whether it ran top to bottom and how many answers were found."""
    if progress.state != "done" or progress.report is None:
        return Outcome(progress.state, WAITING.get(progress.state, WAITING["queued"]))
    return _from_report(progress.report)


def _from_report(report: GradeReport) -> Outcome:
    found = [c for c in report.checks if c.status not in (MISSING, INVALID)]
    missing = [c.part_id for c in report.checks if c.status in (MISSING, INVALID)]
    answers = f"{len(found)} of {len(report.checks)} answers found"
    if missing and found:
        answers += f" (not found: {', '.join(missing)})"
    failure = report.failure
    if failure == RunFailure.RUNNER_FAILED:
        return Outcome("done", WAITING["failed"])
    if failure is not None:
        return Outcome("done", f"{_failure_text(failure, report.cells)}; {answers}", False)
    broken = [c for c in report.cells if c.status not in ("ok", "not-run")]
    if not broken:
        return Outcome("done", f"ran without errors; {answers}", not missing)
    first = broken[0]
    more = len(broken) - 1
    text = _cell_text(first)
    if more:
        text += f"; {more} later cell{'s' if more > 1 else ''} failed too"
    return Outcome("done", f"{text}; {answers}", False)


def _cell_text(cell: CellResult) -> str:
    where = f"cell {cell.index + 1}"
    if cell.status == "timeout":
        return f"{where} ran past the time limit for one cell and was stopped"
    if cell.status == "kernel-died":
        return f"the Python kernel died while running {where}, so later cells did not run"
    error = _short(cell.error or "an error")
    name = error.split(":", 1)[0].strip()
    hint = HINTS.get(name)
    return f"{where} raised {error}" + (f" — {hint}" if hint else "")


def _failure_text(failure: RunFailure, cells: tuple[CellResult, ...]) -> str:
    died = next((c for c in cells if c.status == "kernel-died"), None)
    where = f" while running cell {died.index + 1}" if died else ""
    if failure == RunFailure.KERNEL_DIED and died is not None and (died.error or "").startswith("MemoryError:"):
        # The grader saw the run's memory cgroup end the kernel: the cell's error says the bound.
        used = _short(died.error.split(":", 1)[1].strip())
        return f"the Python kernel was stopped{where}: the notebook used {used}, so later cells did not run"
    if failure == RunFailure.KERNEL_DIED:
        return (
            f"the Python kernel died{where} (too much memory or CPU time, or code that ends the process), "
            "so later cells did not run"
        )
    if failure == RunFailure.INTERRUPT_IGNORED:
        cell = f"cell {died.index + 1}" if died else "a cell"
        return (
            f"{cell} ran past the time limit for one cell and did not stop when interrupted, so later cells did not run"
        )
    if failure == RunFailure.WALL_TIME:
        return "the notebook took longer than the time allowed for a whole run and was stopped"
    if failure == RunFailure.OUTPUT_CAP:
        return "the notebook sent more output than the check accepts (keep answer variables to the values asked for)"
    return "the notebook ran, but its answer variables could not be read afterwards"


def _short(error: str) -> str:
    # "FileNotFoundError: [Errno 2] No such file or directory: 'x.csv'" -> "FileNotFoundError: 'x.csv'"
    match = _ERRNO.match(error)
    if match:
        error = f"{match.group(1)}: {match.group(2)}"
    error = " ".join(error.split())
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"
