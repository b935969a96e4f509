"""The grade report: what the grader found for one notebook, as frozen dataclasses with a JSON round trip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

GRADER_VERSION = "1.0"
# An answer larger than this as JSON (a long list of holdout predictions) is scored but not kept.
MAX_KEPT_ANSWER_BYTES = 16 * 1024


class RunFailure(StrEnum):
    """Why a run could not be graded in full: a stable code that metrics and pages read, never the message text."""

    WALL_TIME = "wall-time"  # the whole run passed its wall-clock limit
    OUTPUT_CAP = "output-cap"  # the sandbox sent more than the output cap
    UNREADABLE_RESULT = "unreadable-result"  # no result line, or one that breaks the protocol
    KERNEL_DIED = "kernel-died"  # memory, CPU time, or code that ended the process
    INTERRUPT_IGNORED = "interrupt-ignored"  # a cell ran past its limit and ignored the interrupt
    RUNNER_FAILED = "runner-failed"  # the runner itself failed (ours to fix)
    ANSWERS_UNREADABLE = "answers-unreadable"  # the cells ran, the answer variables could not be read


@dataclass(frozen=True)
class CheckResult:
    """The score of one checkable part, with a message for the person that never reveals the key."""

    part_id: str
    earned: float
    possible: float
    status: str
    message: str


@dataclass(frozen=True)
class CellResult:
    """How one code cell of the notebook ran (index counts every cell of the notebook, from 0)."""

    index: int
    status: str
    error: str | None
    seconds: float


@dataclass(frozen=True)
class Timings:
    """Where the grading time went, in seconds (``kernel_start`` is the part of ``sandbox_start`` the kernel took).

    For a warm sandbox, starting the kernel and importing the usual libraries happened before the
    submission arrived and is in none of these; ``warm`` says the run was one.
    """

    sandbox_start: float = 0.0
    execution: float = 0.0
    scoring: float = 0.0
    total: float = 0.0
    kernel_start: float = 0.0
    warm: bool = False


@dataclass(frozen=True)
class GradeReport:
    """The outcome of grading one notebook against one case and seed."""

    grader_version: str
    case_slug: str
    case_version: str
    seed: int
    earned: float
    possible: float
    checks: tuple[CheckResult, ...]
    cells: tuple[CellResult, ...]
    timings: Timings
    error: str | None = None
    sandboxed: bool = True
    failure: RunFailure | None = None
    # The values the checks read, part id -> plain JSON, each at most MAX_KEPT_ANSWER_BYTES: what
    # the integrity report compares with other candidates' keys. Reports from before they were kept
    # have none.
    answers: Mapping[str, Any] = field(default_factory=dict)

    def check(self, part_id: str) -> CheckResult:
        """The result for one part.

        :raises KeyError: when the report has no check for this part.
        """
        for check in self.checks:
            if check.part_id == part_id:
                return check
        raise KeyError(part_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradeReport:
        """The report from `to_dict()` output (e.g. read back from the database).

        :raises KeyError: when a field is missing.
        :raises TypeError: when a field has the wrong shape.
        """
        return cls(
            grader_version=str(data["grader_version"]),
            case_slug=str(data["case_slug"]),
            case_version=str(data["case_version"]),
            seed=int(data["seed"]),
            earned=float(data["earned"]),
            possible=float(data["possible"]),
            checks=tuple(CheckResult(**check) for check in data["checks"]),
            cells=tuple(CellResult(**cell) for cell in data["cells"]),
            timings=Timings(**data["timings"]),
            error=data.get("error"),
            sandboxed=bool(data.get("sandboxed", True)),
            failure=RunFailure(data["failure"]) if data.get("failure") else None,
            answers=dict(data.get("answers") or {}),
        )
