"""Interview kits (`rubrics/kits/<slug>.toml`): what an interviewer asks and rates, read against the rubrics."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assessments.content.rubric import Rubric
from assessments.content.toml_reader import (
    Reader,
    RubricFormatError,
    check_slug,
    entry,
    load_each,
    parse_toml,
)

GENERAL_KIT = "general"
_KIT_KEYS = {"slug", "rubric", "title", "summary", "focus", "questions"}
_QUESTION_KEYS = {"id", "dimensions", "minutes", "ask", "follow_ups", "good", "weak"}


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


def _read_questions(
    reader: Reader, doc: Mapping[str, Any], focus: tuple[str, ...], rubric: Rubric | None
) -> tuple[KitQuestion, ...]:
    questions: list[tuple[str, KitQuestion]] = []
    for i, raw in enumerate(reader.tables(doc, "questions"), start=1):
        where = entry("questions", i, raw.get("id") if isinstance(raw, dict) else None)
        t = reader.table(raw, where, _QUESTION_KEYS)
        if t is None:
            continue
        dims = reader.texts(t, "dimensions", where)
        for j, dim in enumerate(dims, start=1):
            if rubric is not None and dim not in rubric.dimension_ids:
                reader.problem(f"{where}.dimensions[{j}]", f"{dim!r} is not a dimension of rubric {rubric.slug!r}")
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
    reader = Reader(path)
    doc, digest = parse_toml(path, reader)
    if doc is None:
        raise RubricFormatError(reader.problems)
    reader.table(doc, "", _KIT_KEYS)
    slug = check_slug(reader, doc, path)
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
    return load_each(sorted(kits_dir.glob("*.toml")), lambda path: load_kit(path, rubrics, case_slugs=case_slugs))
