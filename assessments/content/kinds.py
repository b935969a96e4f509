"""Case kinds: what `kind = "..."` in case.toml means, and what a kind asks of a case beyond the format.

A kind is a `CaseKind` subclass registered in `CASE_KINDS` (docs/case-format.md, "Case kinds"). It
names the generator hooks its cases must define; the loader checks them (`problems`) and hands them
to the case as `CaseSpec.kind_hooks`, so code that uses them (the review exercise in
`services/review_exercise.py`) reads them from the case, never from the generator's module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from assessments.content.case import Part

# Where a problem is: (file, field, message), as the case loader reports it.
KindProblem = tuple[str, str, str]


class UnknownCaseKind(KeyError):
    """A kind that no `CaseKind` in `CASE_KINDS` is registered for."""


class CaseKind:
    """A kind of case: its name in case.toml and what its cases must provide."""

    name: ClassVar[str]
    summary: ClassVar[str]
    # Generator attributes every case of this kind must define; they become CaseSpec.kind_hooks.
    hooks: ClassVar[tuple[str, ...]] = ()
    # True when mentees can answer the case in the browser by flagging the cells of a flawed
    # notebook (services/review_exercise.py), beside uploading the notebook.
    review_exercise: ClassVar[bool] = False

    def problems(self, parts: Sequence[Part], hooks: Mapping[str, Any]) -> list[KindProblem]:
        """What is wrong with a case of this kind beyond the common format (hooks are all present)."""
        return []


class ProductDesignKind(CaseKind):
    """Frame a product problem and design the ML around it."""

    name = "product-design"
    summary = "frame a product problem and design the ML (or non-ML) solution around it"


class AbReadoutKind(CaseKind):
    """Read out an experiment: health checks, effects, a recommendation."""

    name = "ab-readout"
    summary = "read out an experiment: health checks first, then effects and a recommendation"


class ErrorAnalysisKind(CaseKind):
    """Find where and why a model fails."""

    name = "error-analysis"
    summary = "find where and why a model fails, and what to do about it"


class MlIncidentKind(CaseKind):
    """Investigate a deployed model's incident from its monitoring data."""

    name = "ml-incident"
    summary = "investigate a deployed model's incident: find what broke, size it, plan monitoring and retraining"


DEFECT_FIELDS = ("title", "summary", "explanation", "why_it_matters", "how_to_fix")
FLAWED_CELL_FIELDS = ("label", "cell_type", "title", "source", "defect")
_SAMPLE_SEED = 1


class ReviewKind(CaseKind):
    """Review a flawed notebook: find the planted methodology defects.

    The generator defines `DEFECT_CATALOGUE` (defect id -> title, summary, explanation,
    why_it_matters, how_to_fix) and `flawed_cells(seed)` (the seed's notebook as cells: label,
    cell_type, title, source, and the planted defect id or None). The case has exactly one
    checkable part, a `labels` check of "C<n>:<defect-id>" strings whose `catalogue` lists the
    catalogue's ids: the browser exercise scores flags with it, as the grader scores the notebook.
    """

    name = "review"
    summary = "review a flawed notebook and flag its planted methodology defects"
    hooks = ("DEFECT_CATALOGUE", "flawed_cells")
    review_exercise = True

    def problems(self, parts: Sequence[Part], hooks: Mapping[str, Any]) -> list[KindProblem]:
        """The labels part, the catalogue's entries, and one seed's cells against the catalogue."""
        found: list[KindProblem] = []
        checkable = [p for p in parts if p.check is not None]
        if len(checkable) != 1 or checkable[0].check is None or checkable[0].check.kind != "labels":
            found.append(("case.toml", "parts", "a review case has exactly one checkable part, a labels check"))
        catalogue = hooks["DEFECT_CATALOGUE"]
        if not isinstance(catalogue, Mapping) or not catalogue:
            return [*found, ("generator.py", "DEFECT_CATALOGUE", "must be a non-empty dict: defect id -> entry")]
        labels = checkable[0].check if len(checkable) == 1 else None
        if labels is not None and labels.kind == "labels" and labels.params.get("catalogue") != list(catalogue):
            # The check reads flags leniently and scores false flags against this list: it must be the catalogue.
            found.append(
                ("case.toml", "parts", "the labels check's catalogue must list DEFECT_CATALOGUE's ids, in order")
            )
        for defect, entry in catalogue.items():
            missing = [f for f in DEFECT_FIELDS if not isinstance(entry, Mapping) or not isinstance(entry.get(f), str)]
            if missing:
                found.append(("generator.py", f"DEFECT_CATALOGUE[{defect!r}]", f"needs text for {', '.join(missing)}"))
        flawed_cells: Callable[[int], Any] = hooks["flawed_cells"]
        if not callable(flawed_cells):
            return [*found, ("generator.py", "flawed_cells", "must be a function flawed_cells(seed)")]
        try:
            cells = list(flawed_cells(_SAMPLE_SEED))
        except Exception as exc:  # noqa: BLE001 - the author's code: any failure is a problem to report
            return [*found, ("generator.py", "flawed_cells", f"raised {type(exc).__name__}: {exc}")]
        for i, cell in enumerate(cells):
            if not isinstance(cell, Mapping) or any(f not in cell for f in FLAWED_CELL_FIELDS):
                found.append(("generator.py", f"flawed_cells[{i}]", f"needs {', '.join(FLAWED_CELL_FIELDS)}"))
            elif cell["defect"] is not None and cell["defect"] not in catalogue:
                found.append(
                    ("generator.py", f"flawed_cells[{i}]", f"defect {cell['defect']!r} is not in DEFECT_CATALOGUE")
                )
        return found


# The one place a kind is registered: the loader accepts these names, in this order.
CASE_KINDS: dict[str, type[CaseKind]] = {
    kind.name: kind for kind in (ProductDesignKind, AbReadoutKind, ErrorAnalysisKind, MlIncidentKind, ReviewKind)
}


def get_case_kind(name: str) -> CaseKind:
    """The registered kind with this name.

    :raises UnknownCaseKind: when no kind is registered under it.
    """
    try:
        return CASE_KINDS[name]()
    except KeyError:
        raise UnknownCaseKind(name) from None
