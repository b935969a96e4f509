"""Rubrics (`rubrics/<slug>.toml`) read into frozen dataclasses; see docs/rubric-format.md.

Interview kits (`rubrics/kits/<slug>.toml`) are read by `kits.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from assessments.content.toml_reader import (
    Reader,
    RubricFormatError,
    RubricProblem,
    check_slug,
    entry,
    load_each,
    parse_toml,
    type_name,
)

# A rubric chooses how many levels it has; they are the whole numbers 1..N (statistics code them
# so, and a level's value is its position on the scale).
MIN_LEVELS, MAX_LEVELS = 2, 10
NO_DECISION = "no_decision"
# The recommendation scale every rubric file fills in (with its own guidance), the same across
# rubrics so debrief and calibration statistics compare like with like; no neutral option on
# purpose, and "no decision" is a recorded choice rather than a missing value. Code outside this
# module reads the scale from a loaded rubric (`Rubric.recommendations`), not from here.
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

_RUBRIC_KEYS = {"slug", "title", "description", "levels", "recommendations", "dimensions", "red_flags"}
_LEVEL_KEYS = {"value", "label", "meaning"}
_DIMENSION_KEYS = {"id", "name", "definition", "question", "anchors"}
_RED_FLAG_KEYS = {"id", "label"}


@dataclass(frozen=True)
class Level:
    """A point on the rubric's rating scale (1..N) with its label and what it means."""

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

    @property
    def level_values(self) -> tuple[int, ...]:
        """The rating scale's values, lowest first (1..N)."""
        return tuple(lv.value for lv in self.levels)

    @property
    def recommendation_ids(self) -> tuple[str, ...]:
        """The recommendation ids in scale order, "no decision" last."""
        return tuple(r.id for r in self.recommendations)

    @property
    def no_decision(self) -> Recommendation:
        """The recommendation that records "not enough evidence to decide" (it has no score)."""
        return next(r for r in self.recommendations if r.score is None)

    def recommendation(self, recommendation_id: str) -> Recommendation:
        """The recommendation with this id.

        :raises KeyError: when the rubric has no such recommendation.
        """
        for r in self.recommendations:
            if r.id == recommendation_id:
                return r
        raise KeyError(recommendation_id)

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


def _read_levels(reader: Reader, doc: Mapping[str, Any]) -> tuple[Level, ...]:
    levels: dict[int, Level] = {}
    for i, raw in enumerate(reader.tables(doc, "levels"), start=1):
        where = f"levels[#{i}]"
        t = reader.table(raw, where, _LEVEL_KEYS)
        if t is None:
            continue
        value = t.get("value")
        if "value" in t and (type(value) is not int or not 1 <= value <= MAX_LEVELS):
            reader.problem(
                f"{where}.value", f"{value!r} is not a level; levels are whole numbers from 1 to at most {MAX_LEVELS}"
            )
            value = None
        label, meaning = reader.text(t, "label", where), reader.text(t, "meaning", where)
        if isinstance(value, int):
            if value in levels:
                reader.problem(f"{where}.value", f"duplicate level {value}")
            levels[value] = Level(value, label, meaning)
    if "levels" in doc:
        top = max([MIN_LEVELS, *levels])
        for missing in sorted(set(range(1, top + 1)) - set(levels)):
            reader.problem(
                "levels", f"level {missing} is missing; levels are 1, 2, ... with no gap, at least {MIN_LEVELS}"
            )
    return tuple(levels[v] for v in sorted(levels))


def _read_recommendations(reader: Reader, doc: Mapping[str, Any]) -> tuple[Recommendation, ...]:
    if "recommendations" not in doc:
        reader.problem("recommendations", "missing; give this rubric's guidance for every recommendation")
        return ()
    t = reader.table(doc["recommendations"], "recommendations", set(RECOMMENDATIONS))
    if t is None:
        return ()
    return tuple(
        Recommendation(rid, label, reader.text(t, rid, "recommendations"), RECOMMENDATION_SCORES[rid])
        for rid, label in RECOMMENDATIONS.items()
    )


def _read_anchors(reader: Reader, raw: Any, where: str, values: tuple[int, ...]) -> dict[int, tuple[str, ...]]:
    scale = ", ".join(map(str, values))
    if not isinstance(raw, dict):
        reader.problem(where, f"expected a table keyed by the levels ({scale}), got {type_name(raw)}")
        return {}
    anchors: dict[int, tuple[str, ...]] = {}
    if not values:
        return anchors  # the levels themselves are at fault, and reported there
    for key in raw:
        if key not in {str(v) for v in values}:
            reader.problem(f"{where}.{key}", f"is not a level; anchors are keyed by the rubric's levels ({scale})")
    for value in values:
        if str(value) not in raw:
            reader.problem(f"{where}.{value}", f"level {value} has no anchors")
        else:
            anchors[value] = reader.texts(raw, str(value), where)
    return anchors


def _read_dimensions(reader: Reader, doc: Mapping[str, Any], values: tuple[int, ...]) -> tuple[Dimension, ...]:
    dims: list[tuple[str, Dimension]] = []
    for i, raw in enumerate(reader.tables(doc, "dimensions"), start=1):
        where = entry("dimensions", i, raw.get("id") if isinstance(raw, dict) else None)
        t = reader.table(raw, where, _DIMENSION_KEYS)
        if t is None:
            continue
        anchors = _read_anchors(reader, t["anchors"], f"{where}.anchors", values) if "anchors" in t else {}
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


def _read_red_flags(reader: Reader, doc: Mapping[str, Any]) -> tuple[RedFlag, ...]:
    flags: list[tuple[str, RedFlag]] = []
    raw_list = doc.get("red_flags", [])
    if not isinstance(raw_list, list):
        reader.problem("red_flags", f"expected [[red_flags]] entries, got {type_name(raw_list)}")
        return ()
    for i, raw in enumerate(raw_list, start=1):
        where = entry("red_flags", i, raw.get("id") if isinstance(raw, dict) else None)
        t = reader.table(raw, where, _RED_FLAG_KEYS)
        if t is not None:
            flags.append((f"{where}.id", RedFlag(reader.ident(t, "id", where), reader.text(t, "label", where))))
    reader.unique(((w, f.id) for w, f in flags), "red flag id")
    return tuple(f for _, f in flags)


def load_rubric(path: Path | str) -> Rubric:
    """Read and validate one rubric file.

    :raises RubricFormatError: listing every problem in the file.
    """
    path = Path(path)
    reader = Reader(path)
    doc, digest = parse_toml(path, reader)
    if doc is None:
        raise RubricFormatError(reader.problems)
    reader.table(doc, "", _RUBRIC_KEYS)
    levels = _read_levels(reader, doc)
    rubric = Rubric(
        slug=check_slug(reader, doc, path),
        title=reader.text(doc, "title", ""),
        description=reader.text(doc, "description", ""),
        levels=levels,
        dimensions=_read_dimensions(reader, doc, tuple(lv.value for lv in levels)),
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
    return load_each(sorted(root.glob("*.toml")), load_rubric)
