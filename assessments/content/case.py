"""The case format: `cases/<slug>/` read into frozen dataclasses (see docs/case-format.md)."""

from __future__ import annotations

import hashlib
import keyword
import math
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
from markdown_it import MarkdownIt

from assessments.content.bundle import data_problems, load_generator
from assessments.content.kinds import CASE_KINDS, get_case_kind
from assessments.content.notebook import notebook_problems

AUDIENCES = ("hiring", "practice")

Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class CheckSpec:
    """How a checkable part is compared with the key: a check kind and its parameters."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class CheckRules:
    """What the grader finds wrong with a check, for the loader to report beside the case's other problems.

    Check kinds belong to grading (`assessments.grading.checks.CHECK_RULES` is the one to pass):
    content reads a check as plain data, a kind and its parameters, and is handed these rules
    instead of importing the grader.
    """

    # (kind, params) -> problems with the kind and its parameters
    param_problems: Callable[[str, Mapping[str, Any]], list[str]]
    # (kind, params, expected) -> problems with a generated key value for that check
    key_problems: Callable[[str, Mapping[str, Any], Any], list[str]]


@dataclass(frozen=True)
class Guidance:
    """What a strong and a weak written answer contain; shown to staff only."""

    strong: str
    weak: str


@dataclass(frozen=True)
class Part:
    """One question of a case: checkable (has a check) or written (has guidance)."""

    id: str
    prompt: str
    points: float
    dimensions: tuple[str, ...]
    check: CheckSpec | None = None
    guidance: Guidance | None = None
    # Earlier checkable parts this one rests on: it earns its points only when they all earn theirs.
    rests_on: tuple[str, ...] = ()

    @property
    def checkable(self) -> bool:
        """True when the grader can score this part."""
        return self.check is not None


@dataclass(frozen=True)
class CaseSpec:
    """A validated case folder, with its generator functions bound."""

    slug: str
    title: str
    kind: str
    audience: frozenset[str]
    time_limit_minutes: int
    effort: str
    default_size: int
    packages: tuple[str, ...]
    brief_markdown: str
    parts: tuple[Part, ...]
    path: Path
    content_hash: str
    generate_fn: Callable[[int, int], Frames] = field(repr=False, compare=False)
    # answer_key(data), or answer_key(data, hidden) when the generator has hidden().
    answer_key_fn: Callable[..., dict[str, Any]] = field(repr=False, compare=False)
    hidden_fn: Callable[[int, int], Frames] | None = field(default=None, repr=False, compare=False)
    planted_fn: Callable[[int, int], dict[str, Any]] | None = field(default=None, repr=False, compare=False)
    extra_files_fn: Callable[[int, Frames], dict[str, bytes]] | None = field(default=None, repr=False, compare=False)
    # guide(seed, size): the interviewer guide's markdown lines for that seed (staff only).
    guide_fn: Callable[[int, int], list[str]] | None = field(default=None, repr=False, compare=False)
    # The author notebook's text as hashed, so a release always matches `content_hash`.
    notebook_json: str = field(default="", repr=False, compare=False)
    # What the case's kind asks the generator for (`content/kinds.py`), by name, e.g. a review
    # case's DEFECT_CATALOGUE and flawed_cells.
    kind_hooks: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    @property
    def checkable_parts(self) -> tuple[Part, ...]:
        """The parts the grader scores, in case order."""
        return tuple(p for p in self.parts if p.checkable)

    @property
    def hiring(self) -> bool:
        """True when the case may be used in hiring."""
        return "hiring" in self.audience

    @property
    def practice(self) -> bool:
        """True when mentees may practise the case."""
        return "practice" in self.audience

    def generate(self, seed: int, size: int | None = None) -> Frames:
        """The candidate's data for a seed (default size when none is given)."""
        return self.generate_fn(seed, size or self.default_size)

    def hidden(self, seed: int, size: int | None = None) -> Frames:
        """The frames the grader keeps for a seed (holdout labels, hidden inputs); never in a bundle."""
        return self.hidden_fn(seed, size or self.default_size) if self.hidden_fn is not None else {}

    def guide(self, seed: int, size: int | None = None) -> tuple[str, ...]:
        """The interviewer guide for a seed: markdown lines saying what was planted, with this seed's numbers.

        Staff read it beside the written answers; it names the answers, so a candidate never sees
        it. A case without a `guide` hook has an empty guide.
        """
        if self.guide_fn is None:
            return ()
        return tuple(self.guide_fn(seed, size or self.default_size))

    def answer_key(self, data: Frames, hidden: Frames | None = None) -> dict[str, Any]:
        """The expected value of every checkable part for this data (and hidden frames, if the case has them).

        :raises ValueError: when the case has hidden frames and none are given.
        """
        if self.hidden_fn is None:
            return self.answer_key_fn(data)
        if hidden is None:
            raise ValueError(f"case {self.slug}: its key needs its hidden frames; use key_for_seed")
        return self.answer_key_fn(data, hidden)

    def key_for_seed(self, seed: int, size: int | None = None) -> dict[str, Any]:
        """The key for a seed, computed from its data and hidden frames (in the trusted process only)."""
        return self.answer_key(self.generate(seed, size), self.hidden(seed, size))

    def part(self, part_id: str) -> Part:
        """The part with this id.

        :raises KeyError: when the case has no such part.
        """
        for p in self.parts:
            if p.id == part_id:
                return p
        raise KeyError(part_id)


@dataclass(frozen=True)
class CaseProblem:
    """One thing wrong in a case folder: the file, the field within it, and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class CaseFormatError(ValueError):
    """A case folder that does not follow docs/case-format.md; `problems` lists every problem."""

    def __init__(self, problems: list[CaseProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_SLUG = re.compile(r"^[a-z0-9-]+$")
# Generator checks run at this size (or the case's default when smaller) to keep loading fast.
_CHECK_SIZE = 1000
_TOP_KEYS = {"slug": str, "title": str, "kind": str, "audience": list, "time_limit_minutes": int}
_TOP_KEYS |= {"effort": str, "default_size": int, "packages": list, "parts": list}
_PART_KEYS = {"id": str, "prompt": str, "points": float, "dimensions": list}
_OPTIONAL_PART_KEYS = {"check", "guidance", "rests_on"}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", list: "an array", dict: "a table"}


class _Findings:
    """Problems collected while reading one case folder, each tagged with its file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[CaseProblem] = []

    def add(self, file: str, where: str, message: str) -> None:
        self.problems.append(CaseProblem(f"{self.folder.name}/{file}", where, message))


def _has_type(value: Any, expected: type) -> bool:
    # Python's bool is an int, but a TOML `true` where a number belongs is a typo, not a 1.
    if isinstance(value, bool):
        return False
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def _typed_fields(
    table: Mapping[str, Any], spec: Mapping[str, type], prefix: str, findings: _Findings
) -> dict[str, Any]:
    """The fields of `table` named in `spec` that are present with the right type."""
    found = {}
    for key, expected in spec.items():
        if key not in table:
            findings.add("case.toml", f"{prefix}{key}", "missing")
        elif not _has_type(table[key], expected):
            findings.add("case.toml", f"{prefix}{key}", f"must be {_TYPE_NAMES[expected]}")
        else:
            found[key] = table[key]
    return found


def _string_list(value: list[Any], where: str, findings: _Findings) -> tuple[str, ...] | None:
    if not all(isinstance(item, str) for item in value):
        findings.add("case.toml", where, "must be an array of strings")
        return None
    if len(set(value)) != len(value):
        findings.add("case.toml", where, "lists a value twice")
    return tuple(value)


def _read_metadata(meta: Mapping[str, Any], folder: Path, findings: _Findings) -> dict[str, Any]:
    """Top-level fields of case.toml, validated; fields with problems are left out."""
    for key in sorted(set(meta) - set(_TOP_KEYS)):
        findings.add("case.toml", key, "unknown key")
    fields = _typed_fields(meta, {k: v for k, v in _TOP_KEYS.items() if k != "parts"}, "", findings)
    slug = fields.get("slug")
    if slug is not None and not _SLUG.match(slug):
        findings.add("case.toml", "slug", f"{slug!r} must match [a-z0-9-]+")
    elif slug is not None and slug != folder.name:
        findings.add("case.toml", "slug", f"{slug!r} differs from the folder name {folder.name!r}")
    for key in ("title", "effort"):
        if key in fields and not fields[key].strip():
            findings.add("case.toml", key, "must not be empty")
    if "kind" in fields and fields["kind"] not in CASE_KINDS:
        findings.add("case.toml", "kind", f"{fields['kind']!r} is not one of {', '.join(CASE_KINDS)}")
        del fields["kind"]
    for key in ("time_limit_minutes", "default_size"):
        if key in fields and fields[key] <= 0:
            findings.add("case.toml", key, "must be > 0")
    if "audience" in fields:
        audience = _string_list(fields["audience"], "audience", findings)
        if audience is not None and not audience:
            findings.add("case.toml", "audience", f"must name at least one of {', '.join(AUDIENCES)}")
        for unknown in [a for a in audience or () if a not in AUDIENCES]:
            findings.add("case.toml", "audience", f"{unknown!r} is not one of {', '.join(AUDIENCES)}")
        fields["audience"] = audience
    if "packages" in fields:
        fields["packages"] = _string_list(fields["packages"], "packages", findings)
    return fields


def _read_check(check: Any, where: str, check_rules: CheckRules, findings: _Findings) -> CheckSpec | None:
    if not isinstance(check, dict):
        findings.add("case.toml", where, "must be a table")
        return None
    kind = check.get("kind")
    if not isinstance(kind, str):
        findings.add("case.toml", f"{where}.kind", "missing" if kind is None else "must be a string")
        return None
    params = {k: v for k, v in check.items() if k != "kind"}
    for message in check_rules.param_problems(kind, params):
        findings.add("case.toml", where, message)
    return CheckSpec(kind, MappingProxyType(params))


def _read_guidance(guidance: Any, where: str, findings: _Findings) -> Guidance | None:
    if not isinstance(guidance, dict):
        findings.add("case.toml", where, "must be a table")
        return None
    for key in sorted(set(guidance) - {"strong", "weak"}):
        findings.add("case.toml", f"{where}.{key}", "unknown key")
    fields = _typed_fields(guidance, {"strong": str, "weak": str}, f"{where}.", findings)
    if len(fields) < 2:
        return None
    return Guidance(strong=fields["strong"], weak=fields["weak"])


def _read_part(
    table: Any, where: str, dimensions: Collection[str] | None, check_rules: CheckRules, findings: _Findings
) -> Part | None:
    """One [[parts]] entry, or None when it has a problem (already recorded)."""
    if not isinstance(table, dict):
        findings.add("case.toml", where, "must be a table")
        return None
    before = len(findings.problems)
    for key in sorted(set(table) - set(_PART_KEYS) - _OPTIONAL_PART_KEYS):
        findings.add("case.toml", f"{where}.{key}", "unknown key")
    fields = _typed_fields(table, _PART_KEYS, f"{where}.", findings)
    part_id = fields.get("id")
    if part_id is not None and (not part_id.isidentifier() or keyword.iskeyword(part_id)):
        findings.add("case.toml", f"{where}.id", f"{part_id!r} is not a Python identifier")
    if "prompt" in fields and not fields["prompt"].strip():
        findings.add("case.toml", f"{where}.prompt", "must not be empty")
    if "points" in fields and not 0 < fields["points"] < math.inf:
        findings.add("case.toml", f"{where}.points", "must be > 0 and finite")
    dims = _string_list(fields["dimensions"], f"{where}.dimensions", findings) if "dimensions" in fields else None
    for unknown in [d for d in dims or () if dimensions is not None and d not in dimensions]:
        findings.add("case.toml", f"{where}.dimensions", f"{unknown!r} is not a rubric dimension id")
    check = _read_check(table["check"], f"{where}.check", check_rules, findings) if "check" in table else None
    guidance = _read_guidance(table["guidance"], f"{where}.guidance", findings) if "guidance" in table else None
    if "check" not in table and "guidance" not in table:
        findings.add("case.toml", where, "a written part needs [parts.guidance] (strong, weak) for staff")
    rests_on: tuple[str, ...] | None = ()
    if not isinstance(table.get("rests_on", []), list):
        findings.add("case.toml", f"{where}.rests_on", "must be an array of strings")
    elif "rests_on" in table:
        rests_on = _string_list(table["rests_on"], f"{where}.rests_on", findings)
        if rests_on and "check" not in table:
            findings.add("case.toml", f"{where}.rests_on", "only a checkable part can rest on other parts")
    if len(findings.problems) > before:
        return None
    return Part(
        id=part_id,
        prompt=fields["prompt"],
        points=float(fields["points"]),
        dimensions=dims or (),
        check=check,
        guidance=guidance,
        rests_on=rests_on or (),
    )


def _read_parts(
    meta: Mapping[str, Any], dimensions: Collection[str] | None, check_rules: CheckRules, findings: _Findings
) -> tuple[list[Part], dict[str, bool]]:
    """Valid parts in order, and every usable part id mapped to whether it is checkable."""
    tables = meta.get("parts")
    if tables is None:
        findings.add("case.toml", "parts", "missing")
        return [], {}
    if not isinstance(tables, list) or not tables:
        findings.add("case.toml", "parts", "must be a non-empty array of [[parts]] tables")
        return [], {}
    parts, checkable = [], {}
    for index, table in enumerate(tables):
        where = f"parts[{index}]"
        part = _read_part(table, where, dimensions, check_rules, findings)
        part_id = table.get("id") if isinstance(table, dict) else None
        # Only earlier parts: scoring goes in case order, and no chain can loop.
        for needed in part.rests_on if part is not None else ():
            if not checkable.get(needed, False):
                findings.add(
                    "case.toml", f"{where}.rests_on", f"{needed!r} is not a checkable part defined before {part_id!r}"
                )
        if isinstance(part_id, str):
            if part_id in checkable:
                findings.add("case.toml", f"{where}.id", f"{part_id!r} is used by an earlier part")
            checkable.setdefault(part_id, "check" in table)
        if part is not None:
            parts.append(part)
    return parts, checkable


def _brief_problems(text: str) -> list[str]:
    """Raw HTML in the brief: it would be escaped when shown, so the author should not rely on it."""
    tokens = MarkdownIt("commonmark").parse(text)
    inline = [child for token in tokens for child in token.children or ()]
    html = [t for t in [*tokens, *inline] if t.type in ("html_block", "html_inline")]
    return [f"raw HTML is not allowed: {t.content.strip()[:40]!r}" for t in html]


def content_hash(folder: Path) -> str:
    """sha256 hex over the sorted relative paths and bytes of every file of a case folder."""
    digest = hashlib.sha256()
    files = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            files.append((relative.as_posix(), path))
    for relative, path in sorted(files):
        data = path.read_bytes()
        # Length-prefixing keeps ("a", b"bc") and ("ab", b"c") from hashing alike.
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _read_text(folder: Path, name: str, findings: _Findings) -> str | None:
    try:
        return (folder / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        findings.add(name, "(file)", "missing")
    except (OSError, UnicodeDecodeError) as exc:
        findings.add(name, "(file)", f"unreadable: {exc}")
    return None


def load_case(path: Path, *, check_rules: CheckRules, dimensions: Collection[str] | None = None) -> CaseSpec:
    """Read and validate the case folder at `path`, running its generator at a small size.

    `check_rules` judges each part's check and key value (pass `grading.checks.CHECK_RULES`).
    `dimensions` are the rubric dimension ids a part may name (the loaded rubrics' ids; the
    catalogue passes them); without them, the parts' dimension ids are not checked.

    :raises CaseFormatError: listing every problem found in the folder.
    """
    folder = Path(path)
    findings = _Findings(folder)
    if not folder.is_dir():
        raise CaseFormatError([CaseProblem(str(folder), "(folder)", "not a directory")])
    version = content_hash(folder)
    meta: dict[str, Any] | None = None
    toml_text = _read_text(folder, "case.toml", findings)
    if toml_text is not None:
        try:
            meta = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as exc:
            findings.add("case.toml", "(syntax)", str(exc))
    fields = _read_metadata(meta, folder, findings) if meta is not None else {}
    parts, part_checkable = _read_parts(meta, dimensions, check_rules, findings) if meta is not None else ([], {})
    brief = _read_text(folder, "brief.md", findings)
    for message in _brief_problems(brief) if brief is not None else ():
        findings.add("brief.md", "(markdown)", message)
    notebook_text = _read_text(folder, "notebook.ipynb", findings)
    if notebook_text is not None:
        for where, message in notebook_problems(notebook_text, part_checkable):
            findings.add("notebook.ipynb", where, message)
    module_name = "_assess_case_" + re.sub(r"\W", "_", folder.name) + "_" + version[:16]
    module, import_problems = load_generator(folder / "generator.py", module_name)
    for where, message in import_problems:
        findings.add("generator.py", where, message)
    if module is not None:
        checks: dict[str, CheckSpec | None] = {pid: None for pid, c in part_checkable.items() if c}
        checks.update({part.id: part.check for part in parts if part.checkable})
        size = min(fields.get("default_size", _CHECK_SIZE), _CHECK_SIZE)
        reserved = ("README.md", f"{folder.name}.ipynb")
        for where, message in data_problems(module, checks, size, reserved, check_rules=check_rules):
            findings.add("generator.py", where, message)
    hooks = _kind_hooks(fields.get("kind"), module, parts, findings) if module is not None else {}
    if module is not None and hasattr(module, "guide"):
        for message in _guide_problems(module.guide, min(fields.get("default_size", _CHECK_SIZE), _CHECK_SIZE)):
            findings.add("generator.py", "guide", message)
    if findings.problems:
        raise CaseFormatError(findings.problems)
    return CaseSpec(
        slug=fields["slug"],
        title=fields["title"],
        kind=fields["kind"],
        audience=frozenset(fields["audience"]),
        time_limit_minutes=fields["time_limit_minutes"],
        effort=fields["effort"],
        default_size=fields["default_size"],
        packages=fields["packages"],
        brief_markdown=brief or "",
        parts=tuple(parts),
        path=folder,
        content_hash=version,
        generate_fn=module.generate,
        answer_key_fn=module.answer_key,
        hidden_fn=getattr(module, "hidden", None),
        planted_fn=getattr(module, "planted", None),
        extra_files_fn=getattr(module, "extra_files", None),
        guide_fn=getattr(module, "guide", None),
        notebook_json=notebook_text or "",
        kind_hooks=MappingProxyType(hooks),
    )


def _guide_problems(guide: Callable[[int, int], Any], size: int) -> list[str]:
    """What is wrong with a generator's `guide` hook, tried on two seeds at a small size."""
    for seed in (0, 1):
        try:
            lines = guide(seed, size)
        except Exception as exc:  # noqa: BLE001 - an author's generator may raise anything; it becomes a problem
            return [f"guide({seed}, {size}) raised {type(exc).__name__}: {exc}"]
        if not isinstance(lines, list) or not lines:
            return [f"guide({seed}, {size}) must return a non-empty list of markdown lines"]
        if not all(isinstance(line, str) and line.strip() for line in lines):
            return [f"guide({seed}, {size}) returned a line that is not a non-empty string"]
    return []


def _kind_hooks(kind_name: str | None, module: Any, parts: list[Part], findings: _Findings) -> dict[str, Any]:
    """The generator hooks the case's kind names, after the kind's own checks of them."""
    if kind_name is None:
        return {}
    kind = get_case_kind(kind_name)
    hooks = {name: getattr(module, name) for name in kind.hooks if hasattr(module, name)}
    for name in kind.hooks:
        if name not in hooks:
            findings.add("generator.py", name, f"missing: a {kind.name!r} case's generator defines it")
    if len(hooks) == len(kind.hooks):
        for file, where, message in kind.problems(parts, hooks):
            findings.add(file, where, message)
    return hooks


def load_cases(
    root: Path, *, check_rules: CheckRules, dimensions: Collection[str] | None = None
) -> dict[str, CaseSpec]:
    """Every case folder under `root` (folders starting with '.' or '_' are skipped), by slug.

    :raises CaseFormatError: listing the problems of every folder that fails.
    """
    if not Path(root).is_dir():
        raise CaseFormatError([CaseProblem(str(root), "(folder)", "not a directory")])
    cases, problems = {}, []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and p.name[0] not in "._"):
        try:
            case = load_case(folder, check_rules=check_rules, dimensions=dimensions)
        except CaseFormatError as exc:
            problems.extend(exc.problems)
        else:
            cases[case.slug] = case
    if problems:
        raise CaseFormatError(problems)
    return cases
