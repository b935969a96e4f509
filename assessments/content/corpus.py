"""A case's careless-analyst corpus: notebooks written the way a plausible weak candidate would.

Each entry is one file of Python cells (`.cells`, or `.py` in the percent format) that says, in its
header comments, what kind of work it is and which parts its mistake must cost:

    # kind: careless | guess | correct
    # breaks: part_id, part_id<=0.125     parts it must earn nothing on (or at most that share)
    # partial: part_id                    parts it must never earn in full
    # constant: part_id=value             a fixed answer: full marks exactly where the key is that value
    # mean: part_id<=share                a graded part (a review's flags): at most that share on average

A graded part, such as a review's flags scored by recall minus false flags, can rightly earn full
marks on a seed where the mistake does not matter (no data-planted defect to miss), so `mean` bounds
its share over all the seeds instead of on each one.

`# %%` starts a cell of the candidate's own, inserted after the cell that loads the data, and
`# %% answer PART` (or `# %% answer: PART`) holds the source of that part's answer cell. Code before
the first marker, other than the header, is a cell of its own too. `grading.corpus` grades the
entries through the real pipeline and says whether each held.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from assessments.content.case import CaseSpec
from assessments.content.notebook import release_notebook

KINDS = ("careless", "guess", "correct")
_HEADER = re.compile(r"^#\s*(kind|breaks|partial|constant|mean)\s*:\s*(.*)$")
_MARK = re.compile(r"^# %%(?:\s+answer:?\s+(\w+))?\s*$")
_LIMIT = re.compile(r"^(\w+)\s*(?:<=\s*([0-9.]+))?$")


class CorpusError(ValueError):
    """A corpus file that cannot be read as an entry (the message names the file and the line)."""


@dataclass(frozen=True)
class CorpusEntry:
    """One corpus notebook: what it is, what its mistake must cost, and its cells."""

    name: str
    kind: str
    breaks: dict[str, float]  # part id -> the largest share of its points the entry may earn
    partial: frozenset[str]
    constant: dict[str, str]
    own_cells: tuple[str, ...]
    answers: dict[str, str]
    mean: dict[str, float] = field(default_factory=dict)  # part id -> the largest average share over the seeds

    @property
    def constrained(self) -> frozenset[str]:
        """The parts whose marks the header states; every other answered part must earn full marks."""
        return frozenset(self.breaks) | self.partial | frozenset(self.constant) | frozenset(self.mean)


def _names(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def read_entry(path: Path) -> CorpusEntry:
    """Parse one corpus file.

    :raises CorpusError: for an unknown kind, a malformed header or a part answered twice.
    """
    header: dict[str, str] = {}
    preamble: list[str] = []
    own: list[list[str]] = []
    answers: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        mark = _MARK.match(line)
        if mark:
            current = []
            part_id = mark.group(1)
            if part_id is None:
                own.append(current)
            elif part_id in answers:
                raise CorpusError(f"{path.name}:{number}: part {part_id!r} is answered twice")
            else:
                answers[part_id] = current
        elif current is None:
            field = _HEADER.match(line)
            if field:
                header[field.group(1)] = field.group(2).strip()
            elif not line.startswith("# ruff:"):
                preamble.append(line)
        else:
            current.append(line)
    kind = header.get("kind", "")
    if kind not in KINDS:
        raise CorpusError(f"{path.name}: the header's `# kind:` must be one of {', '.join(KINDS)}, not {kind!r}")
    breaks = _limits(path, header, "breaks")
    mean = _limits(path, header, "mean")
    constant: dict[str, str] = {}
    for item in _names(header.get("constant", "")):
        part_id, equals, value = item.partition("=")
        if not equals:
            raise CorpusError(f"{path.name}: cannot read {item!r} in `# constant:` (write part_id=value)")
        constant[part_id.strip()] = value.strip()
    if kind == "careless" and not (breaks or header.get("partial") or constant or mean):
        raise CorpusError(f"{path.name}: careless work must say what its mistake breaks")
    cells = ["\n".join(preamble).strip(), *("\n".join(cell).strip() for cell in own)]
    return CorpusEntry(
        name=path.stem,
        kind=kind,
        breaks=breaks,
        partial=frozenset(_names(header.get("partial", ""))),
        constant=constant,
        own_cells=tuple(cell for cell in cells if cell),
        answers={part_id: "\n".join(lines).strip() for part_id, lines in answers.items()},
        mean=mean,
    )


def _limits(path: Path, header: dict[str, str], field_name: str) -> dict[str, float]:
    """part id -> share from a `part_id` or `part_id<=share` list (a bare id means 0)."""
    limits: dict[str, float] = {}
    for item in _names(header.get(field_name, "")):
        limit = _LIMIT.match(item)
        if limit is None:
            raise CorpusError(
                f"{path.name}: cannot read {item!r} in `# {field_name}:` (write part_id or part_id<=share)"
            )
        limits[limit.group(1)] = float(limit.group(2) or 0.0)
    return limits


def read_corpus(folder: Path) -> list[CorpusEntry]:
    """Every entry in a corpus folder, by name.

    :raises CorpusError: when the folder holds none, or an entry cannot be read.
    """
    paths = sorted([*folder.glob("*.cells"), *folder.glob("*.py")])
    if not paths:
        raise CorpusError(f"{folder}: no corpus entries (*.cells or *.py) here")
    return [read_entry(path) for path in paths]


def corpus_notebook(case: CaseSpec, entry: CorpusEntry) -> nbformat.NotebookNode:
    """The case's release notebook with the entry's own cells after the data is loaded and its answers in.

    :raises CorpusError: when the entry answers a part the notebook has no answer cell for.
    """
    notebook = release_notebook(case)
    answers = dict(entry.answers)
    for cell in notebook.cells:
        part_id = cell.metadata.get("assess", {}).get("answer")
        if part_id in answers:
            cell.source = answers.pop(part_id)
    if answers:
        raise CorpusError(f"{entry.name}: the notebook has no answer cell for {', '.join(sorted(answers))}")
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    loads = next((i for i in code if "read_csv" in notebook.cells[i].source), code[0] if code else -1)
    for offset, source in enumerate(entry.own_cells, start=1):
        notebook.cells.insert(loads + offset, nbformat.v4.new_code_cell(source))
    return notebook
