"""Rubrics (`rubrics/<slug>.toml`) and interview kits (`rubrics/kits/<slug>.toml`) read into frozen
dataclasses; see docs/rubric-format.md."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

LEVEL_VALUES = (1, 2, 3, 4)
NO_DECISION = "no_decision"
# Fixed across rubrics so debrief and calibration statistics compare like with like; no neutral
# option on purpose, and "no decision" is a recorded choice rather than a missing value.
RECOMMENDATIONS: Mapping[str, str] = MappingProxyType(
    {
        "strong_no": "Strong no",
        "no": "No",
        "yes": "Yes",
        "strong_yes": "Strong yes",
        NO_DECISION: "No decision",
    }
)
# Ordinal position on the decision scale, for statistics; no_decision has none.
RECOMMENDATION_SCORES: Mapping[str, int | None] = MappingProxyType(
    {"strong_no": 1, "no": 2, "yes": 3, "strong_yes": 4, NO_DECISION: None}
)
GENERAL_KIT = "general"

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_RUBRIC_KEYS = {"slug", "title", "description", "levels", "recommendations", "dimensions", "red_flags"}
_LEVEL_KEYS = {"value", "label", "meaning"}
_DIMENSION_KEYS = {"id", "name", "definition", "question", "anchors"}
_RED_FLAG_KEYS = {"id", "label"}
_KIT_KEYS = {"slug", "rubric", "title", "summary", "focus", "questions"}
_QUESTION_KEYS = {"id", "dimensions", "minutes", "ask", "follow_ups", "good", "weak"}
_OPTIONAL = {"description", "minutes"}
_TYPE_NAMES = {
    str: "text",
    int: "a whole number",
    list: "a list",
    dict: "a table",
    bool: "true/false",
    float: "a number",
}


@dataclass(frozen=True)
class RubricProblem:
    """One thing wrong with a rubric or kit file: where (file, dotted field) and what."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class RubricFormatError(ValueError):
    """Raised when rubric or kit files are invalid; `.problems` lists every problem found."""

    def __init__(self, problems: Iterable[RubricProblem]) -> None:
        self.problems: tuple[RubricProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Level:
    """A point on the rating scale (1..4) with its label and what it means."""

    value: int
    label: str
    meaning: str


@dataclass(frozen=True)
class Recommendation:
    """An overall recommendation choice with this rubric's guidance on when to use it."""

    id: str
    label: str
    guidance: str
    score: int | None


@dataclass(frozen=True)
class Dimension:
    """A scorecard dimension with behavioural anchors for every level."""

    id: str
    name: str
    definition: str
    question: str
    anchors: Mapping[int, tuple[str, ...]]


@dataclass(frozen=True)
class RedFlag:
    """A behaviour an interviewer can tick on any scorecard."""

    id: str
    label: str


@dataclass(frozen=True)
class Rubric:
    """A validated rubric file, versioned by the sha256 of its bytes."""

    slug: str
    title: str
    description: str
    levels: tuple[Level, ...]
    dimensions: tuple[Dimension, ...]
    red_flags: tuple[RedFlag, ...]
    recommendations: tuple[Recommendation, ...]
    path: Path = field(compare=False)
    content_hash: str

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        """The dimension ids in rubric order."""
        return tuple(d.id for d in self.dimensions)

    def dimension(self, dimension_id: str) -> Dimension:
        """The dimension with this id.

        :raises KeyError: when the rubric has no such dimension.
        """
        for d in self.dimensions:
            if d.id == dimension_id:
                return d
        raise KeyError(dimension_id)

    def level(self, value: int) -> Level:
        """The level with this value.

        :raises KeyError: when the value is not on the scale.
        """
        for lv in self.levels:
            if lv.value == value:
                return lv
        raise KeyError(value)


@dataclass(frozen=True)
class KitQuestion:
    """A question in an interview kit, with follow-ups and what good and weak answers contain."""

    id: str
    dimensions: tuple[str, ...]
    ask: str
    follow_ups: tuple[str, ...]
    good: tuple[str, ...]
    weak: tuple[str, ...]
    minutes: int | None = None


@dataclass(frozen=True)
class InterviewKit:
    """What an interviewer asks and rates for one case (or `general`), against one rubric."""

    slug: str
    rubric_slug: str
    title: str
    summary: str
    focus_dimension_ids: tuple[str, ...]
    questions: tuple[KitQuestion, ...]
    path: Path = field(compare=False)
    content_hash: str


class _Reader:
    """Collects problems while pulling typed values out of one parsed TOML file."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[RubricProblem] = []

    def problem(self, field_name: str, message: str) -> None:
        self.problems.append(RubricProblem(self.file, field_name, message))

    def table(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any] | None:
        """The table at `where`, after reporting unknown and missing keys."""
        if not isinstance(value, dict):
            self.problem(where, f"expected a table, got {_type_name(value)}")
            return None
        for key in sorted(set(value) - allowed):
            self.problem(_join(where, key), "unknown key")
        for key in sorted(allowed - _OPTIONAL - set(value)):
            self.problem(_join(where, key), "missing")
        return value

    def text(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if key not in table:
            return ""
        if not isinstance(value, str):
            self.problem(_join(where, key), f"expected text, got {_type_name(value)}")
            return ""
        if not value.strip():
            self.problem(_join(where, key), "must not be empty")
        return value.strip()

    def ident(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(table, key, where)
        if value and not _SLUG.match(value):
            self.problem(_join(where, key), f"{value!r} must be lowercase letters, digits and single dashes")
            return ""
        return value

    def texts(
        self, table: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False
    ) -> tuple[str, ...]:
        if key not in table:
            return ()
        value = table[key]
        at = _join(where, key)
        if not isinstance(value, list):
            self.problem(at, f"expected a list of text, got {_type_name(value)}")
            return ()
        if not value and not allow_empty:
            self.problem(at, "must list at least one item")
        out = []
        for i, item in enumerate(value, start=1):
            if not isinstance(item, str) or not item.strip():
                self.problem(f"{at}[{i}]", f"expected non-empty text, got {_type_name(item)}")
            else:
                out.append(item.strip())
        return tuple(out)

    def tables(self, table: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
        if key not in table:
            return []
        value = table[key]
        if not isinstance(value, list) or not value:
            self.problem(_join(where, key), f"expected at least one [[{key}]] entry")
            return []
        return value

    def unique(self, ids: Iterable[tuple[str, str]], what: str) -> None:
        """Report every id that appears more than once (pairs of field path, id)."""
        seen: set[str] = set()
        for where, ident in ids:
            if ident and ident in seen:
                self.problem(where, f"duplicate {what} {ident!r}")
            seen.add(ident)


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _entry(name: str, position: int, ident: Any) -> str:
    # Authors find an entry by its id faster than by counting [[...]] headers.
    if isinstance(ident, str) and _SLUG.match(ident):
        return f"{name}[{ident}]"
    return f"{name}[#{position}]"


def _parse(path: Path, reader: _Reader) -> tuple[dict[str, Any] | None, str]:
    """The parsed file and the sha256 of its bytes; None when it cannot be read or parsed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reader.problem("", f"cannot be read: {exc.strerror or exc}")
        return None, ""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return tomllib.loads(raw.decode("utf-8")), digest
    except UnicodeDecodeError:
        reader.problem("", "is not UTF-8 text")
    except tomllib.TOMLDecodeError as exc:
        reader.problem("", f"is not valid TOML: {exc}")
    return None, digest


def _check_slug(reader: _Reader, doc: Mapping[str, Any], path: Path) -> str:
    slug = reader.ident(doc, "slug", "")
    if slug and slug != path.stem:
        reader.problem("slug", f"{slug!r} must equal the file name {path.stem!r}")
    return slug


def _read_levels(reader: _Reader, doc: Mapping[str, Any]) -> tuple[Level, ...]:
    levels: dict[int, Level] = {}
    for i, raw in enumerate(reader.tables(doc, "levels"), start=1):
        where = f"levels[#{i}]"
        t = reader.table(raw, where, _LEVEL_KEYS)
        if t is None:
            continue
        value = t.get("value")
        if "value" in t and (type(value) is not int or value not in LEVEL_VALUES):
            reader.problem(f"{where}.value", f"{value!r} is not a level; levels are 1, 2, 3 and 4")
            value = None
        label, meaning = reader.text(t, "label", where), reader.text(t, "meaning", where)
        if isinstance(value, int):
            if value in levels:
                reader.problem(f"{where}.value", f"duplicate level {value}")
            levels[value] = Level(value, label, meaning)
    if "levels" in doc:
        for missing in sorted(set(LEVEL_VALUES) - set(levels)):
            reader.problem("levels", f"level {missing} is missing")
    return tuple(levels[v] for v in sorted(levels))


def _read_recommendations(reader: _Reader, doc: Mapping[str, Any]) -> tuple[Recommendation, ...]:
    if "recommendations" not in doc:
        return ()
    t = reader.table(doc["recommendations"], "recommendations", set(RECOMMENDATIONS))
    if t is None:
        return ()
    return tuple(
        Recommendation(rid, label, reader.text(t, rid, "recommendations"), RECOMMENDATION_SCORES[rid])
        for rid, label in RECOMMENDATIONS.items()
    )


def _read_anchors(reader: _Reader, raw: Any, where: str) -> dict[int, tuple[str, ...]]:
    if not isinstance(raw, dict):
        reader.problem(where, f"expected a table of levels 1..4, got {_type_name(raw)}")
        return {}
    anchors: dict[int, tuple[str, ...]] = {}
    for key in raw:
        if key not in {str(v) for v in LEVEL_VALUES}:
            reader.problem(f"{where}.{key}", "is not a level; anchors are keyed 1, 2, 3 and 4")
    for value in LEVEL_VALUES:
        if str(value) not in raw:
            reader.problem(f"{where}.{value}", f"level {value} has no anchors")
        else:
            anchors[value] = reader.texts(raw, str(value), where)
    return anchors


def _read_dimensions(reader: _Reader, doc: Mapping[str, Any]) -> tuple[Dimension, ...]:
    dims: list[tuple[str, Dimension]] = []
    for i, raw in enumerate(reader.tables(doc, "dimensions"), start=1):
        where = _entry("dimensions", i, raw.get("id") if isinstance(raw, dict) else None)
        t = reader.table(raw, where, _DIMENSION_KEYS)
        if t is None:
            continue
        anchors = _read_anchors(reader, t["anchors"], f"{where}.anchors") if "anchors" in t else {}
        dim = Dimension(
            id=reader.ident(t, "id", where),
            name=reader.text(t, "name", where),
            definition=reader.text(t, "definition", where),
            question=reader.text(t, "question", where),
            anchors=MappingProxyType(anchors),
        )
        dims.append((f"{where}.id", dim))
    reader.unique(((w, d.id) for w, d in dims), "dimension id")
    return tuple(d for _, d in dims)


def _read_red_flags(reader: _Reader, doc: Mapping[str, Any]) -> tuple[RedFlag, ...]:
    flags: list[tuple[str, RedFlag]] = []
    raw_list = doc.get("red_flags", [])
    if not isinstance(raw_list, list):
        reader.problem("red_flags", f"expected [[red_flags]] entries, got {_type_name(raw_list)}")
        return ()
    for i, raw in enumerate(raw_list, start=1):
        where = _entry("red_flags", i, raw.get("id") if isinstance(raw, dict) else None)
        t = reader.table(raw, where, _RED_FLAG_KEYS)
        if t is not None:
            flags.append(
                (f"{where}.id", RedFlag(reader.ident(t, "id", where), reader.text(t, "label", where)))
            )
    reader.unique(((w, f.id) for w, f in flags), "red flag id")
    return tuple(f for _, f in flags)


def load_rubric(path: Path | str) -> Rubric:
    """Read and validate one rubric file.

    :raises RubricFormatError: listing every problem in the file.
    """
    path = Path(path)
    reader = _Reader(path)
    doc, digest = _parse(path, reader)
    if doc is None:
        raise RubricFormatError(reader.problems)
    reader.table(doc, "", _RUBRIC_KEYS)
    rubric = Rubric(
        slug=_check_slug(reader, doc, path),
        title=reader.text(doc, "title", ""),
        description=reader.text(doc, "description", ""),
        levels=_read_levels(reader, doc),
        dimensions=_read_dimensions(reader, doc),
        red_flags=_read_red_flags(reader, doc),
        recommendations=_read_recommendations(reader, doc),
        path=path,
        content_hash=digest,
    )
    if reader.problems:
        raise RubricFormatError(reader.problems)
    return rubric


def load_rubrics(root: Path | str) -> dict[str, Rubric]:
    """Every rubric `<root>/*.toml`, keyed by slug.

    :raises RubricFormatError: listing every problem in every file.
    """
    root = Path(root)
    if not root.is_dir():
        raise RubricFormatError([RubricProblem(str(root), "", "is not a directory")])
    rubrics: dict[str, Rubric] = {}
    problems: list[RubricProblem] = []
    for path in sorted(root.glob("*.toml")):
        try:
            rubric = load_rubric(path)
        except RubricFormatError as exc:
            problems.extend(exc.problems)
        else:
            rubrics[rubric.slug] = rubric
    if problems:
        raise RubricFormatError(problems)
    return rubrics


def _read_questions(
    reader: _Reader, doc: Mapping[str, Any], focus: tuple[str, ...], rubric: Rubric | None
) -> tuple[KitQuestion, ...]:
    questions: list[tuple[str, KitQuestion]] = []
    for i, raw in enumerate(reader.tables(doc, "questions"), start=1):
        where = _entry("questions", i, raw.get("id") if isinstance(raw, dict) else None)
        t = reader.table(raw, where, _QUESTION_KEYS)
        if t is None:
            continue
        dims = reader.texts(t, "dimensions", where)
        for j, dim in enumerate(dims, start=1):
            if rubric is not None and dim not in rubric.dimension_ids:
                reader.problem(
                    f"{where}.dimensions[{j}]", f"{dim!r} is not a dimension of rubric {rubric.slug!r}"
                )
            elif rubric is not None and dim not in focus:
                reader.problem(f"{where}.dimensions[{j}]", f"{dim!r} is not in this kit's focus list")
        minutes = t.get("minutes")
        if "minutes" in t and (type(minutes) is not int or minutes <= 0):
            reader.problem(f"{where}.minutes", f"expected a whole number of minutes > 0, got {minutes!r}")
            minutes = None
        question = KitQuestion(
            id=reader.ident(t, "id", where),
            dimensions=dims,
            ask=reader.text(t, "ask", where),
            follow_ups=reader.texts(t, "follow_ups", where, allow_empty=True),
            good=reader.texts(t, "good", where),
            weak=reader.texts(t, "weak", where),
            minutes=minutes,
        )
        questions.append((f"{where}.id", question))
    reader.unique(((w, q.id) for w, q in questions), "question id")
    return tuple(q for _, q in questions)


def load_kit(
    path: Path | str, rubrics: Mapping[str, Rubric], *, case_slugs: Collection[str] | None = None
) -> InterviewKit:
    """Read and validate one interview kit against the loaded rubrics (and case slugs, when given).

    :raises RubricFormatError: listing every problem in the file.
    """
    path = Path(path)
    reader = _Reader(path)
    doc, digest = _parse(path, reader)
    if doc is None:
        raise RubricFormatError(reader.problems)
    reader.table(doc, "", _KIT_KEYS)
    slug = _check_slug(reader, doc, path)
    if slug and case_slugs is not None and slug != GENERAL_KIT and slug not in case_slugs:
        reader.problem("slug", f"{slug!r} is neither a case slug nor {GENERAL_KIT!r}")
    rubric_slug = reader.ident(doc, "rubric", "")
    rubric = rubrics.get(rubric_slug)
    if rubric_slug and rubric is None:
        reader.problem("rubric", f"unknown rubric {rubric_slug!r}")
    focus = reader.texts(doc, "focus", "")
    for j, dim in enumerate(focus, start=1):
        if rubric is not None and dim not in rubric.dimension_ids:
            reader.problem(f"focus[{j}]", f"{dim!r} is not a dimension of rubric {rubric.slug!r}")
    reader.unique(((f"focus[{j}]", d) for j, d in enumerate(focus, start=1)), "focus dimension")
    questions = _read_questions(reader, doc, focus, rubric)
    asked = {d for q in questions for d in q.dimensions}
    for dim in focus:
        if questions and dim not in asked and (rubric is None or dim in rubric.dimension_ids):
            reader.problem("focus", f"no question covers focus dimension {dim!r}")
    kit = InterviewKit(
        slug=slug,
        rubric_slug=rubric_slug,
        title=reader.text(doc, "title", ""),
        summary=reader.text(doc, "summary", ""),
        focus_dimension_ids=focus,
        questions=questions,
        path=path,
        content_hash=digest,
    )
    if reader.problems:
        raise RubricFormatError(reader.problems)
    return kit


def load_kits(
    root: Path | str, rubrics: Mapping[str, Rubric], *, case_slugs: Collection[str] | None = None
) -> dict[str, InterviewKit]:
    """Every interview kit `<root>/kits/*.toml` (root is the rubrics folder), keyed by slug.

    :raises RubricFormatError: listing every problem in every kit file.
    """
    kits_dir = Path(root) / "kits"
    if not kits_dir.is_dir():
        return {}
    kits: dict[str, InterviewKit] = {}
    problems: list[RubricProblem] = []
    for path in sorted(kits_dir.glob("*.toml")):
        try:
            kit = load_kit(path, rubrics, case_slugs=case_slugs)
        except RubricFormatError as exc:
            problems.extend(exc.problems)
        else:
            kits[kit.slug] = kit
    if problems:
        raise RubricFormatError(problems)
    return kits
