"""A candidate's bundle: their generated data, the release notebook and a README, as a deterministic zip."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
import traceback
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from assessments.content.notebook import (
    RESPONSE_STUB,
    answer_stub,
    notebook_bytes,
    release_notebook,
    solution_notebook,
)
from assessments.content.seeds import DATA_SEED_LIMIT

if TYPE_CHECKING:
    from assessments.content.case import CaseSpec, CheckRules, CheckSpec, Frames

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Zip timestamps cannot predate 1980; a fixed one keeps the bytes a function of (case version, seed).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_README = "README.md"
LARGEST_SEED = DATA_SEED_LIMIT - 1


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A frame as bundle CSV: no index, '\\n' line endings, UTF-8, floats in shortest round-trip form."""
    # pandas writes float64 with repr, which is exact and platform-independent, so a key computed
    # from the in-memory frame is the key of the file the candidate reads.
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _describe(exc: BaseException, filename: str) -> str:
    """The exception with the generator.py line it came from, for the author."""
    line = exc.lineno if isinstance(exc, SyntaxError) and exc.filename == filename else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return f"{type(exc).__name__}: {exc}" + (f" (line {line})" if line else "")


def load_generator(path: Path, module_name: str) -> tuple[ModuleType | None, list[tuple[str, str]]]:
    """Import generator.py by path under `module_name`; (module, []) or (None, [(field, message)])."""
    if not path.is_file():
        return None, [("(file)", "missing")]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return None, [("(import)", "cannot be imported as a Python module")]
    module = importlib.util.module_from_spec(spec)
    # Registered so that dataclasses and pickling inside the generator can find their module.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - an author's generator may raise anything; it becomes a problem
        sys.modules.pop(module_name, None)
        return None, [("(import)", f"failed to import: {_describe(exc, str(path))}")]
    return module, []


def _frame_problems(frames: Any, step: str = "generate") -> list[tuple[str, str]]:
    if not isinstance(frames, dict) or not frames:
        return [(step, "must return a non-empty dict of file stem -> DataFrame")]
    problems = []
    for stem, frame in frames.items():
        if not isinstance(stem, str) or not _FILE_NAME.match(stem):
            problems.append((step, f"file stem {stem!r} must match [A-Za-z0-9][A-Za-z0-9_.-]*"))
        if not isinstance(frame, pd.DataFrame):
            problems.append((step, f"{stem!r} is a {type(frame).__name__}, not a DataFrame"))
    return problems


def _hidden_problems(module: ModuleType, data: Frames, size: int) -> tuple[Frames | None, list[tuple[str, str]]]:
    """The hidden frames for seed 1, and what is wrong with them (names clashing with data, nondeterminism)."""
    hidden = module.hidden(1, size)
    if problems := _frame_problems(hidden, "hidden"):
        return None, problems
    problems = [
        ("hidden", f"{stem!r} has the name of a data frame; hidden frames need their own names")
        for stem in hidden
        if stem in data
    ]
    if _csvs(module.hidden(1, size)) != _csvs(hidden):
        problems.append(("hidden", f"not deterministic: two calls with seed 1, size {size} differ"))
    return hidden, problems


def _csvs(frames: Frames) -> dict[str, bytes]:
    return {f"{stem}.csv": frame_csv(frame) for stem, frame in frames.items()}


def _key_problems(key: Any, checks: Mapping[str, CheckSpec | None], check_rules: CheckRules) -> list[tuple[str, str]]:
    if not isinstance(key, dict):
        return [("answer_key", f"must return a dict keyed by part id, not {type(key).__name__}")]
    problems = []
    for part_id, check in checks.items():
        if part_id not in key:
            problems.append(("answer_key", f"lacks the checkable part {part_id!r}"))
            continue
        try:
            json.dumps(key[part_id], allow_nan=False)
        except (TypeError, ValueError) as exc:
            problems.append(("answer_key", f"{part_id!r} is not JSON-serialisable ({exc})"))
            continue
        if check is not None:
            for message in check_rules.key_problems(check.kind, check.params, key[part_id]):
                problems.append(("answer_key", f"{part_id!r}: {message}"))
    return problems


def _extra_problems(
    module: ModuleType, data: Frames, again: Frames, reserved: Collection[str], size: int
) -> list[tuple[str, str]]:
    files = module.extra_files(1, data)
    if not isinstance(files, dict) or not all(isinstance(v, bytes) for v in files.values()):
        return [("extra_files", "must return a dict of file name -> bytes")]
    problems = []
    for name in files:
        if not isinstance(name, str) or not _FILE_NAME.match(name):
            problems.append(("extra_files", f"file name {name!r} must match [A-Za-z0-9][A-Za-z0-9_.-]*"))
        elif name in reserved or name in _csvs(data):
            problems.append(("extra_files", f"{name!r} clashes with another file of the bundle"))
    if module.extra_files(1, again) != files:
        problems.append(("extra_files", f"not deterministic: two calls for seed 1, size {size} differ"))
    return problems


def data_problems(
    module: ModuleType,
    checks: Mapping[str, CheckSpec | None],
    size: int,
    reserved: Collection[str] = (),
    *,
    check_rules: CheckRules,
) -> list[tuple[str, str]]:
    """(field, message) for a generator that breaks the case format, found by running it.

    `checks` maps each checkable part id to its check (None when the check itself is invalid);
    `check_rules` judges each key value against its check.
    """
    problems = [
        (name, "missing: generator.py must define this function")
        for name in ("generate", "answer_key")
        if not callable(getattr(module, name, None))
    ]
    problems += [
        (name, "must be a function")
        for name in ("planted", "extra_files", "hidden")
        if hasattr(module, name) and not callable(getattr(module, name))
    ]
    if problems:
        return problems
    filename = str(module.__file__)
    step = "generate"
    try:
        data = module.generate(1, size)
        if problems := _frame_problems(data):
            return problems
        first = _csvs(data)
        again = module.generate(1, size)
        if _frame_problems(again) or _csvs(again) != first:
            problems.append(("generate", f"not deterministic: two calls with seed 1, size {size} differ"))
        if _csvs(module.generate(2, size)) == first:
            problems.append(("generate", "ignores its seed: seeds 1 and 2 give the same data"))
        problems += _large_seed_problems(module, size, filename)
        hidden: Frames | None = None
        if hasattr(module, "hidden"):
            step = "hidden"
            hidden, found = _hidden_problems(module, data, size)
            if hidden is None:
                return problems + found
            problems += found
        step = "answer_key"
        # With hidden frames the key also gets them: answer_key(data, hidden).
        extra = () if hidden is None else (hidden,)
        kept = _csvs({**data, **(hidden or {})})
        key = module.answer_key(data, *extra)
        problems += _key_problems(key, checks, check_rules)
        if _csvs({**data, **(hidden or {})}) != kept:
            problems.append(("answer_key", "modifies the frames it is given"))
        elif not problems and (
            json.dumps(module.answer_key(again, *extra), default=repr) != json.dumps(key, default=repr)
        ):
            problems.append(("answer_key", "not deterministic: the same data gave two different keys"))
        if hasattr(module, "planted"):
            step = "planted"
            if not isinstance(module.planted(1, size), dict):
                problems.append(("planted", "must return a dict"))
        if hasattr(module, "extra_files"):
            step = "extra_files"
            problems += _extra_problems(module, data, again, reserved, size)
    except Exception as exc:  # noqa: BLE001 - an author's generator may raise anything; it becomes a problem
        problems.append((step, f"raised {_describe(exc, filename)} (seed 1 or 2, size {size})"))
    return problems


def _large_seed_problems(module: Any, size: int, filename: str) -> list[tuple[str, str]]:
    """A candidate's seed is derived (content/seeds.py) and may be any integer below 2**63."""
    try:
        _frame_problems(module.generate(LARGEST_SEED, size))
    except Exception as exc:  # noqa: BLE001 - an author's generator may raise anything; it becomes a problem
        return [
            (
                "generate",
                f"raised {_describe(exc, filename)} on seed 2**63 - 1: candidates' seeds are derived and take "
                "any value below 2**63 (use numpy.random.default_rng(seed), never a 32-bit seed)",
            )
        ]
    return []


def data_files(case: CaseSpec, seed: int, size: int | None = None, *, frames: Frames | None = None) -> dict[str, bytes]:
    """The candidate's data files, file name -> bytes: one CSV per generated frame plus extra files.

    ``frames``, when given, must be ``case.generate(seed, size)``: the grader passes the frames it
    generated anyway for the key, instead of generating them twice.
    """
    frames = case.generate(seed, size) if frames is None else frames
    files = _csvs(frames)
    if case.extra_files_fn is not None:
        files.update(case.extra_files_fn(seed, frames))
    return dict(sorted(files.items()))


def bundle_filename(case: CaseSpec, public_id: int) -> str:
    """The name a candidate's bundle is downloaded as: the case and the public seed id, never the data seed."""
    return f"{case.slug}-{public_id}.zip"


def readme_markdown(case: CaseSpec, file_names: Collection[str]) -> str:
    """The bundle's README: what is in it, how to open it, how to answer and how to hand it in."""
    notebook = f"{case.slug}.ipynb"
    csvs = [name for name in sorted(file_names) if name.endswith(".csv")]
    others = [name for name in sorted(file_names) if not name.endswith(".csv")]
    example = next((p.id for p in case.checkable_parts), "answer")
    packages = ", ".join(case.packages) or "none beyond the standard library"
    lines = [
        f"# {case.title}",
        "",
        f"- Time limit: {case.time_limit_minutes} minutes",
        f"- Expected effort: {case.effort}",
        f"- Packages you may use: {packages} (and the Python standard library)",
        "",
        "## What is in this folder",
        "",
        f"- `{notebook}`: the notebook you work in and hand in.",
        *[f"- `{name}`: your data (generated for you; other candidates have different data)." for name in csvs],
        *[f"- `{name}`: material for the case." for name in others],
        "",
        "The notebook reads the data by bare file name (for example "
        f'`pd.read_csv("{csvs[0] if csvs else "data.csv"}")`), so keep the files next to it.',
        "",
        "## Opening it",
        "",
        "- **JupyterLab**: unzip, then run `jupyter lab` in this folder and open the notebook.",
        "- **VS Code**: unzip, open this folder (File > Open Folder), open the notebook and pick a "
        "Python 3 kernel that has the packages above.",
        "- **Google Colab**: File > Upload notebook, choose the notebook. Then open the Files panel "
        "(the folder icon on the left) and upload every `.csv` file of this folder into the session. "
        "Colab deletes uploaded files when the session ends: upload them again after a restart. "
        "When done, File > Download > Download .ipynb.",
        "",
        "## Answering",
        "",
        f"- Each checkable question has an answer cell such as `{answer_stub(example)}`. Replace `None` "
        "with your value; keep the variable name and keep the answer in that cell.",
        f'- Written answers go in the markdown cells that say "{RESPONSE_STUB}".',
        "- Do not delete, merge or recreate the answer and written-answer cells: their cell metadata "
        "tells the grader which answer is which. Editing them in place keeps it.",
        "- Before handing in, restart the kernel and run all cells, so the notebook runs top to bottom.",
        "",
        "## Handing it in",
        "",
        f"Upload the notebook `{notebook}` only (not the data) on your invitation page before the "
        "deadline. You may upload again until the deadline; the last upload is the one that counts.",
        "",
        "---",
        "",
        case.brief_markdown.strip(),
        "",
    ]
    return "\n".join(lines)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the building machine
    info.external_attr = 0o644 << 16
    return info


def build_bundle(case: CaseSpec, seed: int, *, public_id: int | None = None, solution: bool = False) -> bytes:
    """The candidate's zip, `<slug>-<public id>/` holding the notebook, data CSVs and README.md.

    The data comes from ``seed``; names show ``public_id`` (``seed`` itself when there is none, as
    for an author's raw seed), so a secret data seed never appears in the bundle. The bytes are
    identical for the same (case version, seed, public id).

    :raises ValueError: when an extra file of the case clashes with the notebook or README.
    """
    files: dict[str, bytes] = data_files(case, seed)
    notebook_name = f"{case.slug}.ipynb"
    for name in (notebook_name, _README):
        if name in files:
            raise ValueError(f"case {case.slug}: extra file {name!r} clashes with the bundle's own")
    notebook = solution_notebook(case) if solution else release_notebook(case)
    readme = readme_markdown(case, files)
    files[notebook_name] = notebook_bytes(notebook)
    files[_README] = readme.encode("utf-8")
    label = seed if public_id is None else public_id
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            archive.writestr(_zip_entry(f"{case.slug}-{label}/{name}"), files[name], compresslevel=6)
    return buffer.getvalue()
