"""Intake: every kind of bad upload is refused with a message that tells the candidate what to do."""

from __future__ import annotations

import gzip
import io
import json
import time
import zipfile

import nbformat
import pytest

from assessments.content.bundle import build_bundle
from assessments.content.notebook import notebook_bytes
from assessments.grading.intake import MAX_CELLS, SubmissionRejected, parse_submission

SLUG = "tiny-sums"


def _bytes(notebook: nbformat.NotebookNode) -> bytes:
    return notebook_bytes(notebook)


def test_the_release_notebook_is_accepted_as_v4(released: nbformat.NotebookNode, case) -> None:
    notebook = parse_submission(_bytes(released), case_slug=SLUG, case_version=case.content_hash)
    assert notebook.nbformat == 4
    assert [c.cell_type for c in notebook.cells] == [c.cell_type for c in released.cells]


def test_a_byte_order_mark_is_tolerated(released: nbformat.NotebookNode) -> None:
    assert parse_submission(b"\xef\xbb\xbf" + _bytes(released), case_slug=SLUG).nbformat == 4


def _rejected(raw: bytes, **kwargs) -> str:
    with pytest.raises(SubmissionRejected) as info:
        parse_submission(raw, **{"case_slug": SLUG, **kwargs})
    return str(info.value)


def test_too_large_a_file_is_refused_with_the_limit(released: nbformat.NotebookNode) -> None:
    message = _rejected(_bytes(released), max_bytes=1000)
    assert "limit" in message and "Clear" in message


def test_a_zip_bomb_renamed_ipynb_is_refused_without_unpacking_it() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.ipynb", b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KiB packed
    raw = buffer.getvalue()
    assert len(raw) < 1024 * 1024
    started = time.monotonic()
    message = _rejected(raw)
    assert time.monotonic() - started < 0.5
    assert "zip archive" in message and ".ipynb" in message


def test_the_whole_bundle_uploaded_is_refused_with_advice_to_unzip(case) -> None:
    assert "unzip" in _rejected(build_bundle(case, 7))


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (gzip.compress(b'{"cells": []}'), "gzip archive"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"\x89PNG\r\n\x1a\n\0\0", "PNG"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 100, "program"),
        (b"MZ\x90\0\x03\0\0\0" + b"\0" * 50, "binary file"),
        (b"", "empty"),
        (b'{"cells": [], "nbformat": 4, "metadata": {\xff\xfe}}', "not UTF-8"),
    ],
)
def test_binary_and_undecodable_files_are_refused(raw: bytes, fragment: str) -> None:
    assert fragment in _rejected(raw)


def test_broken_json_names_the_line() -> None:
    message = _rejected(b'{\n "cells": [\n')
    assert "not valid JSON" in message and "line" in message


@pytest.mark.parametrize("document", [[1, 2, 3], {"name": "my answers"}, "notebook", {"cells": []}])
def test_json_that_is_not_a_notebook_is_refused(document: object) -> None:
    message = _rejected(json.dumps(document).encode())
    assert "not a Jupyter notebook" in message or "does not say which notebook format" in message


def test_absurd_nesting_is_refused_not_crashing() -> None:
    assert "not a Jupyter notebook" in _rejected(b"[" * 100_000 + b"]" * 100_000)


def test_an_unknown_format_version_is_refused() -> None:
    assert "version 5" in _rejected(
        json.dumps({"cells": [], "nbformat": 5, "nbformat_minor": 0, "metadata": {}}).encode()
    )


def test_a_damaged_notebook_structure_is_refused(released: nbformat.NotebookNode) -> None:
    document = json.loads(_bytes(released))
    document["cells"][1]["cell_type"] = "spreadsheet"
    assert "structure is damaged" in _rejected(json.dumps(document).encode())


def _v3_notebook(metadata: dict) -> bytes:
    return json.dumps(
        {
            "nbformat": 3,
            "nbformat_minor": 0,
            "metadata": metadata,
            "worksheets": [
                {
                    "cells": [
                        {"cell_type": "markdown", "metadata": {}, "source": "# old"},
                        {
                            "cell_type": "code",
                            "language": "python",
                            "input": "total = 1.5",
                            "outputs": [],
                            "metadata": {},
                            "collapsed": False,
                            "prompt_number": 1,
                        },
                    ],
                    "metadata": {},
                }
            ],
        }
    ).encode()


def test_an_nbformat_v3_notebook_is_upgraded_to_v4() -> None:
    notebook = parse_submission(_v3_notebook({"assess": {"case": SLUG}, "name": ""}), case_slug=SLUG)
    assert notebook.nbformat == 4
    assert notebook.cells[1].cell_type == "code" and notebook.cells[1].source == "total = 1.5"
    nbformat.validate(notebook)


def test_ten_thousand_cells_are_refused_with_the_limit(released: nbformat.NotebookNode) -> None:
    document = json.loads(_bytes(released))
    document["cells"] = [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None}
        for i in range(10_000)
    ]
    started = time.monotonic()
    message = _rejected(json.dumps(document).encode())
    assert time.monotonic() - started < 1
    assert "10,000 cells" in message and f"{MAX_CELLS:,}" in message


def test_a_giant_cell_is_refused(released: nbformat.NotebookNode) -> None:
    released.cells.append(nbformat.v4.new_code_cell("data = '" + "x" * 1_200_000 + "'"))
    assert "characters of source" in _rejected(_bytes(released))


def test_a_notebook_without_release_metadata_is_refused(released: nbformat.NotebookNode) -> None:
    released.metadata.pop("assess")
    assert "did not come from your bundle" in _rejected(_bytes(released))


def test_a_notebook_of_another_case_is_refused(released: nbformat.NotebookNode) -> None:
    message = _rejected(_bytes(released), case_slug="ab-readout")
    assert "'tiny-sums'" in message and "'ab-readout'" in message


def test_a_notebook_of_another_case_version_is_refused(released: nbformat.NotebookNode) -> None:
    assert "different version" in _rejected(_bytes(released), case_version="0" * 64)


def _with_cell_source_escape(released: nbformat.NotebookNode, escape: str) -> bytes:
    # Written as the JSON escape, as an editor or a script may write it: Python cannot encode it.
    released.cells.append(nbformat.v4.new_code_cell("label = 'PLACEHOLDER'"))
    return _bytes(released).replace(b"PLACEHOLDER", escape.encode())


def test_a_lone_surrogate_is_refused_naming_the_cell(released: nbformat.NotebookNode) -> None:
    count = len(released.cells)
    message = _rejected(_with_cell_source_escape(released, "\\ud800"))
    assert f"Cell {count + 1} of this notebook contains a broken character" in message
    assert "upload again" in message


def test_a_surrogate_pair_escape_is_an_ordinary_character(released: nbformat.NotebookNode) -> None:
    notebook = parse_submission(_with_cell_source_escape(released, "\\ud83d\\ude00"), case_slug=SLUG)
    assert notebook.cells[-1].source == "label = '\N{GRINNING FACE}'"
