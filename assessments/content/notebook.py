"""Case notebooks: validating the author's notebook and deriving the release and solution notebooks."""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import nbformat
from nbformat.validator import iter_validate

if TYPE_CHECKING:
    from assessments.content.case import CaseSpec

RESPONSE_STUB = "*Write your answer here.*"
_ASSESS_KEYS = {"solution", "answer", "response", "stub"}
_ROLES = ("solution", "answer", "response")
_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# Only the language name: a Python version here would make the bytes depend on the build machine.
_LANGUAGE_INFO = {"name": "python"}


def answer_stub(part_id: str) -> str:
    """The default release source of the answer cell for a checkable part."""
    return f"{part_id} = None  # your answer"


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _json_path(parts: Iterable[Any]) -> str:
    text = ""
    for item in parts:
        text += f"[{item}]" if isinstance(item, int) else f".{item}"
    return text.lstrip(".") or "(notebook)"


def _shorten(message: str, limit: int = 200) -> str:
    # Schema errors can quote a whole cell; the field already says where to look.
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _assigned_names(source: str) -> set[str]:
    """Names bound by assignments or function definitions anywhere in `source`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
    return names


def _cell_role_problems(cell: Mapping[str, Any], where: str, parts: Mapping[str, bool]) -> list[tuple[str, str]]:
    """Problems with one cell's `assess` metadata, given part id -> checkable."""
    assess = cell.get("metadata", {}).get("assess")
    if not isinstance(assess, dict):
        return [(where, "must be an object")]
    problems = [(f"{where}.{key}", "unknown key") for key in sorted(set(assess) - _ASSESS_KEYS)]
    roles = [role for role in _ROLES if role in assess]
    if len(roles) != 1:
        return [*problems, (where, "must have exactly one of solution, answer, response")]
    role, value = roles[0], assess[roles[0]]
    if "stub" in assess and (role == "solution" or not isinstance(assess["stub"], str)):
        problems.append((f"{where}.stub", "must be a string, on an answer or response cell"))
    if role == "solution":
        if not isinstance(value, bool):
            problems.append((f"{where}.solution", "must be true or false"))
        return problems
    if not isinstance(value, str) or value not in parts:
        return [*problems, (f"{where}.{role}", f"{value!r} names no part of case.toml")]
    wanted_type, wanted_checkable = ("code", True) if role == "answer" else ("markdown", False)
    if parts[value] != wanted_checkable:
        other = "answer" if role == "response" else "response"
        kind = "checkable" if parts[value] else "written"
        problems.append((f"{where}.{role}", f"part {value!r} is {kind}: mark its cell with {other!r}"))
    if cell.get("cell_type") != wanted_type:
        problems.append((f"{where}.{role}", f"must be on a {wanted_type} cell"))
    elif role == "answer":
        try:
            if value not in _assigned_names(_source(cell)):
                problems.append((f"{where}.answer", f"the cell does not assign (or define) {value!r}"))
        except SyntaxError as exc:
            problems.append((f"{where}.answer", f"the cell is not valid Python: {exc.msg}"))
    return problems


def notebook_problems(text: str, parts: Mapping[str, bool]) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with an author notebook, given part id -> checkable."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return [("(json)", f"not valid JSON: {exc}")]
    if not isinstance(raw, dict):
        return [("(json)", "must be a JSON object")]
    version = (raw.get("nbformat"), raw.get("nbformat_minor"))
    if version[0] != 4 or not isinstance(version[1], int) or version[1] < 5:
        return [("nbformat", f"must be v4.5 or later (with cell ids), found {version[0]}.{version[1]}")]
    problems = [
        (_json_path(getattr(error, "absolute_path", error.path)), _shorten(error.message))
        for error in iter_validate(raw, version=4, version_minor=version[1])
    ]
    cells = [c for c in raw.get("cells", []) if isinstance(c, dict)] if isinstance(raw.get("cells"), list) else []
    seen_ids: set[Any] = set()
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if cell.get("id") in seen_ids:
            problems.append((f"cells[{index}].id", f"{cell['id']!r} is used by an earlier cell"))
        seen_ids.add(cell.get("id"))
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict) or "assess" not in metadata:
            continue
        where = f"cells[{index}].metadata.assess"
        problems.extend(_cell_role_problems(cell, where, parts))
        for role in ("answer", "response"):
            value = metadata["assess"].get(role) if isinstance(metadata["assess"], dict) else None
            if isinstance(value, str):
                found[value] = found.get(value, 0) + 1
    for part_id, checkable in parts.items():
        if found.get(part_id, 0) != 1:
            role = "answer code cell" if checkable else "response markdown cell"
            problems.append((f"cells (part {part_id!r})", f"needs exactly one {role}, found {found.get(part_id, 0)}"))
    return problems


def _notebook_metadata(case: CaseSpec) -> dict[str, Any]:
    return {
        "assess": {"case": case.slug, "version": case.content_hash},
        "kernelspec": dict(_KERNELSPEC),
        "language_info": dict(_LANGUAGE_INFO),
    }


def _author_notebook(case: CaseSpec) -> nbformat.NotebookNode:
    # A CaseSpec built by hand (not by load_case) carries no text; read the folder then.
    text = case.notebook_json or (case.path / "notebook.ipynb").read_text(encoding="utf-8")
    return nbformat.reads(text, as_version=4)


def release_notebook(case: CaseSpec) -> nbformat.NotebookNode:
    """The candidate's notebook: solution cells removed, answer and response cells stubbed, no outputs."""
    author = _author_notebook(case)
    cells = []
    for cell in author.cells:
        assess = cell.get("metadata", {}).get("assess", {})
        if assess.get("solution") is True:
            continue
        cell = copy.deepcopy(cell)
        if "answer" in assess:
            cell.source = assess.get("stub", answer_stub(assess["answer"]))
        elif "response" in assess:
            cell.source = assess.get("stub", RESPONSE_STUB)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    # Author cell ids are validated unique and change only with the case version, so they are stable.
    release = nbformat.v4.new_notebook(cells=cells, metadata=_notebook_metadata(case))
    release.nbformat, release.nbformat_minor = 4, 5
    return release


def solution_notebook(case: CaseSpec) -> nbformat.NotebookNode:
    """The author's notebook (solutions and outputs kept) with the release's notebook metadata."""
    solution = _author_notebook(case)
    solution.metadata = nbformat.from_dict(_notebook_metadata(case))
    return solution


def notebook_bytes(notebook: nbformat.NotebookNode) -> bytes:
    """A notebook serialised the way Jupyter writes it (sorted keys, one trailing newline)."""
    return (nbformat.writes(notebook) + "\n").encode("utf-8")
