"""Candidate bundles: deterministic bytes, a release notebook the grader can read, no solutions or keys."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from assessments.content.bundle import build_bundle, bundle_filename, data_files, frame_csv
from assessments.content.case import CaseFormatError, CaseSpec, load_case
from assessments.content.notebook import RESPONSE_STUB, answer_stub, release_notebook, solution_notebook
from assessments.grading.checks import CHECK_RULES, score_check

FIXTURE = Path(__file__).parent / "fixtures" / "minimal-case"
CASES_ROOT = Path(__file__).parents[2] / "cases"
FOLDERS = [FIXTURE] + (
    sorted(p for p in CASES_ROOT.iterdir() if p.is_dir() and p.name[0] not in "._") if CASES_ROOT.is_dir() else []
)
IDS = [f"{p.parent.name}/{p.name}" for p in FOLDERS]
SEED = 11


@functools.cache
def _case(folder: Path) -> CaseSpec:
    try:
        return load_case(folder, check_rules=CHECK_RULES)
    except CaseFormatError as error:
        problems = str(error)
    pytest.fail(f"{folder.name} does not load:\n{problems}", pytrace=False)


@functools.cache
def _bundle(folder: Path, seed: int, solution: bool = False) -> bytes:
    return build_bundle(_case(folder), seed, solution=solution)


@functools.cache
def _data(folder: Path) -> dict[str, bytes]:
    return data_files(_case(folder), SEED)


@functools.cache
def _frames(folder: Path) -> dict[str, pd.DataFrame]:
    return _case(folder).generate(SEED)


def _files(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _notebook_in(bundle: bytes, case: CaseSpec) -> nbformat.NotebookNode:
    raw = _files(bundle)[f"{case.slug}-{SEED}/{case.slug}.ipynb"]
    return nbformat.reads(raw.decode("utf-8"), as_version=nbformat.NO_CONVERT)


def _texts(bundle: bytes, case: CaseSpec) -> dict[str, str]:
    """Every text file of the bundle, plus the notebook's cell sources joined (JSON escapes undone)."""
    texts = {}
    for name, data in _files(bundle).items():
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    texts["(notebook sources)"] = "\n".join(c.source for c in _notebook_in(bundle, case).cells)
    return texts


@pytest.fixture(params=FOLDERS, ids=IDS)
def case(request: pytest.FixtureRequest) -> CaseSpec:
    return _case(request.param)


def test_a_bundle_has_the_same_bytes_for_the_same_seed_and_differs_for_another(case: CaseSpec) -> None:
    first = _bundle(case.path, SEED)
    assert build_bundle(case, SEED) == first
    assert build_bundle(case, SEED + 1) != first


@pytest.fixture(scope="module")
def other_process_bundles() -> dict[str, tuple[str, str]]:
    """folder -> (case version, sha256 of its bundle) as built by a process with another hash seed."""
    # String hashing is randomised per process; a generator iterating a set would differ here.
    script = (
        "import hashlib, json, sys; from pathlib import Path;"
        "from assessments.content.bundle import build_bundle;"
        "from assessments.content.case import load_case;"
        "from assessments.grading.checks import CHECK_RULES;"
        "cases = {f: load_case(Path(f), check_rules=CHECK_RULES) for f in sys.argv[1:]};"
        f"print(json.dumps({{f: (c.content_hash, hashlib.sha256(build_bundle(c, {SEED})).hexdigest())"
        " for f, c in cases.items()}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, FOLDERS)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return {folder: tuple(value) for folder, value in json.loads(result.stdout).items()}


def test_bundle_bytes_do_not_depend_on_the_process(
    case: CaseSpec, other_process_bundles: dict[str, tuple[str, str]]
) -> None:
    version, digest = other_process_bundles[str(case.path)]
    assert version == case.content_hash, "the case folder changed while the tests ran"
    assert digest == hashlib.sha256(_bundle(case.path, SEED)).hexdigest()


def test_the_bundle_is_one_folder_with_notebook_data_and_readme(case: CaseSpec) -> None:
    bundle = _bundle(case.path, SEED)
    folder = f"{case.slug}-{SEED}/"
    expected = {f"{case.slug}.ipynb", "README.md", *_data(case.path)}
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        infos = archive.infolist()
    assert sorted(i.filename for i in infos) == sorted(folder + name for name in expected)
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert set(_frames(case.path)) <= {name.removesuffix(".csv") for name in expected}
    assert bundle_filename(case, SEED) == f"{case.slug}-{SEED}.zip"


def test_the_csvs_hold_the_generated_frames_exactly(case: CaseSpec) -> None:
    frames = _frames(case.path)
    files = _data(case.path)
    for stem, frame in frames.items():
        raw = files[f"{stem}.csv"]
        assert b"\r" not in raw
        back = pd.read_csv(io.BytesIO(raw), float_precision="round_trip")
        assert list(back.columns) == [str(c) for c in frame.columns], "no index column, same header"
        assert len(back) == len(frame)
        for column in frame.select_dtypes("number").columns:
            written = frame[column].to_numpy(dtype=float, na_value=np.nan)
            read = back[column].to_numpy(dtype=float, na_value=np.nan)
            assert np.array_equal(read, written, equal_nan=True), f"{stem}.csv column {column} changed"


def test_the_key_computed_from_the_csvs_scores_full_marks(case: CaseSpec) -> None:
    # A candidate who reproduces the author's solution from the files they got must get full marks.
    files = _data(case.path)
    read_back = {stem: pd.read_csv(io.BytesIO(files[f"{stem}.csv"])) for stem in _frames(case.path)}
    key = case.key_for_seed(SEED)
    from_csv = case.answer_key(read_back, case.hidden(SEED))
    for part in case.checkable_parts:
        if part.check.kind in ("function", "predictions"):
            # Their key is hidden inputs or labels, not an answer: it must not change through the CSVs.
            assert from_csv[part.id] == key[part.id], part.id
            continue
        outcome = score_check(part.check.kind, part.check.params, from_csv[part.id], key[part.id], part.points)
        assert outcome.earned == outcome.possible, f"{part.id}: {outcome.message}"


def test_the_release_notebook_is_valid_v45_with_kernelspec_and_case_metadata(case: CaseSpec) -> None:
    notebook = _notebook_in(_bundle(case.path, SEED), case)
    nbformat.validate(notebook)
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    assert all(cell.get("id") for cell in notebook.cells)
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.language_info.name == "python"
    assert notebook.metadata.assess == {"case": case.slug, "version": case.content_hash}
    assert release_notebook(case) == release_notebook(case), "cell ids and content are stable"


def test_the_release_keeps_answer_and_response_cells_with_their_metadata_and_stubs(case: CaseSpec) -> None:
    notebook = _notebook_in(_bundle(case.path, SEED), case)
    for part in case.parts:
        role = "answer" if part.checkable else "response"
        cells = [c for c in notebook.cells if c.metadata.get("assess", {}).get(role) == part.id]
        assert len(cells) == 1, f"{part.id}: {len(cells)} {role} cells"
        cell = cells[0]
        default = answer_stub(part.id) if part.checkable else RESPONSE_STUB
        assert cell.cell_type == ("code" if part.checkable else "markdown")
        assert cell.source == cell.metadata.assess.get("stub", default)


def test_the_release_keeps_every_other_cell_in_order_without_outputs(case: CaseSpec) -> None:
    author = nbformat.reads(case.notebook_json, as_version=4)
    kept = [c.id for c in author.cells if c.metadata.get("assess", {}).get("solution") is not True]
    release = _notebook_in(_bundle(case.path, SEED), case)
    assert [c.id for c in release.cells] == kept
    for cell in release.cells:
        assert not cell.metadata.get("assess", {}).get("solution")
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def _solution_lines(case: CaseSpec) -> set[str]:
    """Lines only the author's solution holds: solution cells and the author's answer/response sources."""
    author = nbformat.reads(case.notebook_json, as_version=4)
    secret, public = set(), set()
    for cell in author.cells:
        assess = cell.metadata.get("assess", {})
        hidden = assess.get("solution") is True or "answer" in assess or "response" in assess
        lines = {line.strip() for line in cell.source.splitlines()}
        (secret if hidden else public).update(lines)
        public.update(line.strip() for line in assess.get("stub", "").splitlines())
    # Material handed to the candidate by design (the flawed notebook of a review case) is not a leak.
    for name, data in _data(case.path).items():
        text = data.decode("utf-8", errors="replace")
        if name.endswith(".ipynb"):
            text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
        if not name.endswith(".csv"):
            public.update(line.strip() for line in text.splitlines())
    # Short lines ("plt.show()", ")") and lines the starter code also has are not a leak.
    return {line for line in secret - public if len(line) >= 12}


def test_no_solution_source_line_reaches_the_release_bundle(case: CaseSpec) -> None:
    lines = _solution_lines(case)
    texts = _texts(_bundle(case.path, SEED), case)
    leaks = [(name, line) for line in lines for name, text in texts.items() if line in text]
    assert not leaks


def test_the_solution_bundle_does_contain_the_solution_lines(case: CaseSpec) -> None:
    # Shows the search above would find a leak: the same search over the solution bundle hits.
    bundle = _bundle(case.path, SEED, solution=True)
    notebook = _notebook_in(bundle, case)
    assert notebook.metadata.assess == solution_notebook(case).metadata.assess
    joined = "\n".join(c.source for c in notebook.cells)
    assert _solution_lines(case) and all(line in joined for line in _solution_lines(case))


def _key_values(value: Any) -> Iterator[float | str]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float | str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _key_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _key_values(item)


def _number_spellings(value: float) -> set[str]:
    """How a number would be written at 3 to 6 significant digits, also as a percentage."""
    spellings = set()
    for number in (value, value * 100):
        for digits in range(3, 7):
            rounded = float(f"{number:.{digits}g}")
            text = f"{rounded:.{digits + 6}f}".rstrip("0").rstrip(".")
            significant = text.lstrip("-0.").replace(".", "").rstrip("0")
            # "0.5" or "200" turn up in any text; only three or more significant digits identify a value.
            if len(significant) >= 3:
                spellings.add(text)
    return spellings


def _answers_in_key(case: CaseSpec, part_id: str, value: Any) -> Any:
    """The part of a key value that is an answer: a function's expected outputs, not its inputs.

    A holdout's labels are 0s and 1s, which no text search can tell apart: the hidden-frames test
    below proves they are not in the bundle.
    """
    kind = case.part(part_id).check.kind
    return value["expected"] if kind == "function" else [] if kind == "predictions" else value


def _leaked_key_values(case: CaseSpec, key: dict[str, Any], texts: dict[str, str]) -> list[tuple[str, str, str]]:
    """(part, value, file) for key values found in candidate-facing text.

    The CSVs are left out: the key is computed from them, so a threshold or a segment name is in the
    data by design. Strings the candidate is meant to see (prompts, brief, choice options, column names
    and values of their data) are not secrets either.
    """
    public = [case.brief_markdown] + [p.prompt for p in case.parts]
    public += [str(o) for p in case.checkable_parts for o in p.check.params.get("options", [])]
    for frame in _frames(case.path).values():
        public += [str(c) for c in frame.columns]
        public += [str(v) for v in pd.unique(frame.select_dtypes(exclude="number").to_numpy().ravel())]
    public_text = "\n".join(public).lower()
    searched = {name: text for name, text in texts.items() if not name.endswith(".csv")}
    leaks = []
    for part in case.checkable_parts:
        for value in _key_values(_answers_in_key(case, part.id, key[part.id])):
            if isinstance(value, str):
                if len(value) >= 4 and value.lower() not in public_text:
                    leaks += [(part.id, value, n) for n, t in searched.items() if value.lower() in t.lower()]
                continue
            for spelling in _number_spellings(value):
                pattern = re.compile(rf"(?<![\d.]){re.escape(spelling)}(?![\d])")
                leaks += [(part.id, spelling, n) for n, t in searched.items() if pattern.search(t)]
    return leaks


def test_no_answer_key_value_appears_in_the_bundle(case: CaseSpec) -> None:
    key = case.key_for_seed(SEED)
    assert not _leaked_key_values(case, key, _texts(_bundle(case.path, SEED), case))


def test_hidden_frames_never_reach_the_bundle(case: CaseSpec) -> None:
    # The grader keeps these (holdout labels, hidden inputs): no file is named after one, none is
    # written out, and joined on an id column, no column of a data file equals one of theirs.
    hidden = case.hidden(SEED)
    files = _files(_bundle(case.path, SEED))
    csvs = {name.rsplit("/", 1)[1]: data for name, data in files.items() if name.endswith(".csv")}
    joined_rows = 0
    for stem, secret in hidden.items():
        assert not [name for name in files if stem in name.rsplit("/", 1)[1]], stem
        written = frame_csv(secret)
        assert not [name for name, data in files.items() if written in data], stem
        for name, data in csvs.items():
            public = pd.read_csv(io.BytesIO(data))
            ids = [c for c in secret.columns if c in public.columns and secret[c].is_unique and public[c].is_unique]
            for key in ids:
                rows = public.merge(secret, on=key, suffixes=("", " (hidden)"))
                joined_rows += len(rows)
                for column in [c for c in secret.columns if c != key]:
                    values = rows[f"{column} (hidden)" if column in public.columns else column].to_numpy()
                    copies = [
                        c for c in public.columns if c != key and len(rows) and (rows[c].to_numpy() == values).all()
                    ]
                    assert not copies, f"{name} column(s) {copies} hold the hidden {stem}.{column}"
    if case.slug == "product-design":
        assert joined_rows == len(hidden["holdout_labels"]), "the holdout file shares the labels' ids"


def test_cases_with_hidden_frames_are_checked_above() -> None:
    with_hidden = {_case(folder).slug for folder in FOLDERS if _case(folder).hidden(SEED)}
    assert {"product-design", "error-analysis"} <= with_hidden


def test_the_key_leak_search_finds_a_planted_value() -> None:
    case = _case(FIXTURE)
    key = {"treatment_rate": 0.1234567, "better_arm": "treatment", "best_channel": "search", "arm_rates": {}}
    texts = {"README.md": "the rate was 12.35% and 0.12346", "x.ipynb": "0.1234 is fine here"}
    found = {(part, value) for part, value, _ in _leaked_key_values(case, key, texts)}
    assert found == {("treatment_rate", "12.35"), ("treatment_rate", "0.12346")}


def test_the_readme_tells_the_candidate_how_to_work_and_hand_in(case: CaseSpec) -> None:
    readme = _files(_bundle(case.path, SEED))[f"{case.slug}-{SEED}/README.md"].decode("utf-8")
    assert readme.startswith(f"# {case.title}\n")
    assert f"{case.time_limit_minutes} minutes" in readme and case.effort in readme
    assert all(package in readme for package in case.packages)
    assert "JupyterLab" in readme and "VS Code" in readme and "Colab" in readme
    assert "upload every `.csv` file" in readme
    assert f"Upload the notebook `{case.slug}.ipynb` only" in readme


@pytest.mark.notebook
def test_the_release_notebook_runs_top_to_bottom_on_the_bundle(case: CaseSpec, tmp_path: Path) -> None:
    # A kept cell that uses a name only a removed solution cell defined would break on the candidate.
    with zipfile.ZipFile(io.BytesIO(_bundle(case.path, SEED))) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / f"{case.slug}-{SEED}"
    notebook = nbformat.read(folder / f"{case.slug}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_every_file_the_notebook_tells_the_candidate_to_read_is_in_the_bundle(case: CaseSpec) -> None:
    bundle = _bundle(case.path, SEED)
    names = {name.split("/", 1)[1] for name in _files(bundle) if "/" in name}
    sources = "\n".join(c.source for c in _notebook_in(bundle, case).cells if c.cell_type == "markdown")
    named = set(re.findall(r"`([\w./-]+\.(?:md|csv|txt|json))`", sources))
    assert named <= names, (sorted(named - names), sorted(names))
