"""A submitted notebook as safe HTML for staff.

Candidate markdown and outputs may contain script: markdown is rendered with raw HTML off, HTML
outputs go through nh3, everything else is escaped text. Nothing the candidate wrote can run in a
staff member's browser (and the CSP forbids inline script besides).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, Protocol

import nh3
from markupsafe import Markup, escape

from assessments.views.rendering import render_markdown

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_OUTPUT_CHARS = 20_000
MAX_IMAGE_BYTES = 2 * 1024 * 1024


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)")


def _text(value: Any) -> str:
    text = "".join(value) if isinstance(value, list) else str(value or "")
    return _ANSI.sub("", text)


def _pre(text: str, css: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n… ({len(text) - MAX_OUTPUT_CHARS:,} more characters not shown)"
    return f'<pre class="{css}">{escape(text)}</pre>'


def _image(data: Any, mime: str) -> str:
    raw = _text(data).strip()
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return _pre("[an image that is not valid base64 was not shown]", "nb-note")
    if len(decoded) > MAX_IMAGE_BYTES:
        return _pre("[an image larger than 2 MiB was not shown]", "nb-note")
    return f'<img class="nb-image" alt="cell output image" src="data:{mime};base64,{escape(raw)}">'


def _output(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _pre(_text(output.get("text")), f"nb-stream nb-{escape(str(output.get('name', 'stdout')))}")
    if kind == "error":
        trace = _text("\n".join(output.get("traceback") or [])) or f"{output.get('ename')}: {output.get('evalue')}"
        return _pre(trace, "nb-error")
    if kind in ("execute_result", "display_data"):
        data = output.get("data") or {}
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                return _image(data[mime], mime)
        if "text/html" in data:
            cleaned = nh3.clean(_text(data["text/html"])[:MAX_OUTPUT_CHARS])
            # An image without alternative text is read out as its file name; nh3 quotes every attribute.
            cleaned = _IMG_WITHOUT_ALT.sub('<img alt="image in the cell output"', cleaned)
            return f'<div class="nb-html">{cleaned}</div>'
        if "text/markdown" in data:
            return str(render_markdown(_text(data["text/markdown"])))
        if "text/plain" in data:
            return _pre(_text(data["text/plain"]), "nb-result")
    return ""


class CheckShown(Protocol):
    """What the notebook shows of a part's check (a grade report's CheckShown; views never import grading)."""

    part_id: str
    earned: float
    possible: float
    status: str
    message: str


def cell_number(index: int) -> int:
    """The number a person reads for the cell at `index` (from 0): cells count from 1, as in the
    grader's messages ("its answer cell is cell 3") and in Jupyter's own cell order."""
    return index + 1


def answer_cell_numbers(notebook: Mapping[str, Any]) -> dict[str, int]:
    """Each checked part's answer cell, by its number (the first cell marked with the part wins, as
    the grader reads it)."""
    numbers: dict[str, int] = {}
    for index, cell in enumerate(notebook.get("cells") or []):
        role = (cell.get("metadata") or {}).get("assess") if isinstance(cell, Mapping) else None
        if isinstance(role, Mapping) and isinstance(role.get("answer"), str):
            numbers.setdefault(role["answer"], cell_number(index))
    return numbers


def _check_note(check: CheckShown) -> str:
    return (
        f'<p class="nb-check check-{escape(check.status)}"><strong>Check on <code>{escape(check.part_id)}</code>: '
        f"{escape(check.status)}, {check.earned:.3g} / {check.possible:g} points.</strong> {escape(check.message)}</p>"
    )


def render_notebook(notebook: Mapping[str, Any], checks: Mapping[str, CheckShown] | None = None) -> Markup:
    """Every cell, numbered from 1 as `cell_number` says, with outputs; with `checks` (by part id),
    each answer cell also shows its part's check result below its outputs."""
    checks = checks or {}
    parts = ['<ol class="notebook">']
    for index, cell in enumerate(notebook.get("cells") or []):
        kind = cell.get("cell_type")
        role = (cell.get("metadata") or {}).get("assess") or {}
        label = ""
        check = None
        if isinstance(role, Mapping):
            if isinstance(role.get("answer"), str):
                label = f'<span class="nb-role">answer: {escape(role["answer"])}</span>'
                check = checks.get(role["answer"])
            elif isinstance(role.get("response"), str):
                label = f'<span class="nb-role">written answer: {escape(role["response"])}</span>'
        number = cell_number(index)
        parts.append(f'<li class="nb-cell nb-{escape(str(kind))}" id="cell-{number}" value="{number}">{label}')
        source = _text(cell.get("source"))
        if kind == "markdown":
            parts.append(f'<div class="nb-markdown">{render_markdown(source)}</div>')
        else:
            parts.append(_pre(source, "nb-source"))
            for output in cell.get("outputs") or []:
                if isinstance(output, Mapping):
                    parts.append(_output(output))
        if check is not None:
            parts.append(_check_note(check))
        parts.append("</li>")
    parts.append("</ol>")
    return Markup("".join(parts))
