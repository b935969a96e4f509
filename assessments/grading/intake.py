"""Intake: turn an uploaded file into a validated nbformat v4 notebook, or refuse it in words for the candidate."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import nbformat
from nbformat.validator import ValidationError

MAX_CELLS = 2_000
MAX_CELL_SOURCE_CHARS = 1_000_000

# Magic numbers of files people upload by mistake (or on purpose) instead of a notebook.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a rar archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"\x7fELF", "a program (ELF binary)"),
)


# A JSON escape of a UTF-16 surrogate. Decoded bytes cannot hold a surrogate (UTF-8 forbids them),
# so only text with such an escape can; a lone one decodes to a str that cannot be encoded again.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class SubmissionRejected(ValueError):
    """An upload that is not a gradable notebook for this case; the message is written for the candidate."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _decode(raw: bytes, max_bytes: int) -> str:
    if len(raw) > max_bytes:
        raise SubmissionRejected(
            f"Your file is {_megabytes(len(raw))}; the limit is {_megabytes(max_bytes)}. "
            "Clear the outputs (in Jupyter: Edit > Clear Outputs of All Cells), save, and upload again."
        )
    if not raw.strip():
        raise SubmissionRejected("The file is empty. Save your notebook in Jupyter and upload the .ipynb file.")
    for signature, what in _BINARY_SIGNATURES:
        if raw.startswith(signature):
            advice = " If you uploaded the bundle, unzip it and upload the .ipynb inside." if "zip" in what else ""
            raise SubmissionRejected(
                f"This file is {what}, not a Jupyter notebook, even if its name ends in .ipynb.{advice} "
                "Upload the notebook file (.ipynb) you worked in."
            )
    if b"\x00" in raw[:8192]:
        raise SubmissionRejected(
            "This is a binary file, not a Jupyter notebook. Upload the .ipynb file you worked in "
            "(a notebook is a text file)."
        )
    try:
        # utf-8-sig: some editors write a byte-order mark; it is harmless.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionRejected(
            f"This file is not UTF-8 text (an invalid byte at position {error.start}), so it is not a "
            "Jupyter notebook. Upload the .ipynb file saved by Jupyter, VS Code or Colab."
        ) from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionRejected(
            f"This file is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}), so "
            "Jupyter could not open it either. It may be truncated or edited by hand: save the notebook "
            "from Jupyter again and upload that file."
        ) from None
    except (RecursionError, ValueError):
        # Absurd nesting or a number with thousands of digits: no notebook looks like this.
        raise SubmissionRejected(
            "This file is not a Jupyter notebook (its JSON is nested too deeply or holds an absurd "
            "number). Upload the .ipynb file saved by Jupyter."
        ) from None


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(document: Any, text: str) -> None:
    """Refuse lone surrogates: nothing downstream (database, pages, the kernel) can store or show them."""
    if not _SURROGATE_ESCAPE.search(text) or _encodable(document):
        return
    where = "This notebook"
    if isinstance(document, dict):
        for number, cell in enumerate(_raw_cells(document), start=1):
            if not _encodable(cell):
                where = f"Cell {number} of this notebook"
                break
    raise SubmissionRejected(
        f"{where} contains a broken character: half of a character pair (an escape such as "
        "\\ud800 in the file's text) that cannot be stored as text, so it cannot be graded. Delete "
        "the character or retype the text around it, save the notebook, and upload again."
    )


def _as_v4(document: Any) -> nbformat.NotebookNode:
    if not isinstance(document, dict) or "cells" not in document and "worksheets" not in document:
        raise SubmissionRejected(
            "This file is JSON but not a Jupyter notebook (it has no cells). Upload the .ipynb file "
            "from your bundle, with your work in it."
        )
    major = document.get("nbformat")
    if not isinstance(major, int) or isinstance(major, bool):
        raise SubmissionRejected(
            "This file looks like a notebook but does not say which notebook format it uses "
            "(no 'nbformat' number). Open it in Jupyter, save it, and upload again."
        )
    if major not in (3, 4):
        raise SubmissionRejected(
            f"This notebook uses format version {major}; only versions 3 and 4 can be graded. "
            "Open it in a current Jupyter, save it, and upload again."
        )
    _check_cells(document)
    with warnings.catch_warnings():
        # Old minor versions without cell ids warn; they are upgraded below and that is fine.
        warnings.simplefilter("ignore")
        try:
            node = nbformat.from_dict(document)
            if major == 3:
                node = nbformat.convert(node, 4)
            nbformat.validate(node)
            for cell in node.cells:
                # On disk, sources may be lists of lines; everything downstream wants one string.
                if isinstance(cell.get("source"), list):
                    cell.source = "".join(cell.source)
        except ValidationError as error:
            raise SubmissionRejected(
                f"This notebook's structure is damaged ({_short(error.message)}), so it cannot be run. "
                "Open it in Jupyter, save it, and upload again; if that fails, copy your work into the "
                "notebook from a fresh bundle."
            ) from None
        except (KeyError, TypeError, AttributeError, ValueError):
            raise SubmissionRejected(
                "This notebook's structure is damaged, so it cannot be run. Open it in Jupyter, save it, "
                "and upload again; if that fails, copy your work into the notebook from a fresh bundle."
            ) from None
    return node


def _short(text: str, limit: int = 160) -> str:
    first_line = str(text).splitlines()[0] if str(text) else "invalid"
    return first_line if len(first_line) <= limit else first_line[:limit] + "…"


def _raw_cells(document: dict[str, Any]) -> list[Any]:
    """The cells of a v4 document, or of every worksheet of a v3 one, before any parsing."""
    if isinstance(document.get("cells"), list):
        return document["cells"]
    cells: list[Any] = []
    for sheet in document.get("worksheets") or []:
        if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list):
            cells.extend(sheet["cells"])
    return cells


def _source_length(cell: Any) -> int:
    if not isinstance(cell, dict):
        return 0
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list):
        return sum(len(line) for line in source if isinstance(line, str))
    return len(source) if isinstance(source, str) else 0


def _check_cells(document: dict[str, Any]) -> None:
    # Checked on the raw JSON, before validation, whose cost grows with the number of cells.
    cells = _raw_cells(document)
    if len(cells) > MAX_CELLS:
        raise SubmissionRejected(
            f"This notebook has {len(cells):,} cells; at most {MAX_CELLS:,} can be graded. "
            "Merge or delete cells you do not need and upload again."
        )
    for number, cell in enumerate(cells, start=1):
        length = _source_length(cell)
        if length > MAX_CELL_SOURCE_CHARS:
            raise SubmissionRejected(
                f"Cell {number} holds {length:,} characters of source; at most "
                f"{MAX_CELL_SOURCE_CHARS:,} are allowed per cell. Load large data from the data files "
                "instead of pasting it into the notebook."
            )


def _check_release(notebook: nbformat.NotebookNode, case_slug: str, case_version: str | None) -> None:
    release = notebook.metadata.get("assess")
    slug = release.get("case") if isinstance(release, dict) else None
    if not isinstance(slug, str) or not slug:
        raise SubmissionRejected(
            "This notebook did not come from your bundle: it lacks the case information the grader "
            "needs. Download your bundle again, copy your work into its notebook, and upload that one."
        )
    if slug != case_slug:
        raise SubmissionRejected(
            f"This notebook belongs to the case {_short(slug, 60)!r}, but you are submitting for "
            f"{case_slug!r}. Upload the notebook from this case's bundle."
        )
    if case_version is not None and release.get("version") != case_version:
        raise SubmissionRejected(
            "This notebook comes from a different version of the case than the one you were given. "
            "Download your bundle again, copy your work into its notebook, and upload that one."
        )


def parse_submission(
    raw: bytes,
    *,
    case_slug: str,
    case_version: str | None = None,
    max_bytes: int = 20 * 1024 * 1024,
) -> nbformat.NotebookNode:
    """A validated nbformat v4 notebook for this case from the uploaded bytes (v3 is upgraded).

    :raises SubmissionRejected: when the upload is not a gradable notebook of this case; the message
        says what is wrong and what to do.
    """
    text = _decode(raw, max_bytes)
    document = _parse_json(text)
    _check_text(document, text)
    notebook = _as_v4(document)
    _check_release(notebook, case_slug, case_version)
    return notebook
