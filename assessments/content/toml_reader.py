"""Reading a rubric or kit TOML file: typed values out, every problem collected with its file and field."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
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


class Reader:
    """Collects problems while pulling typed values out of one parsed TOML file."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[RubricProblem] = []

    def problem(self, field_name: str, message: str) -> None:
        self.problems.append(RubricProblem(self.file, field_name, message))

    def table(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any] | None:
        """The table at `where`, after reporting unknown and missing keys."""
        if not isinstance(value, dict):
            self.problem(where, f"expected a table, got {type_name(value)}")
            return None
        for key in sorted(set(value) - allowed):
            self.problem(join(where, key), "unknown key")
        for key in sorted(allowed - _OPTIONAL - set(value)):
            self.problem(join(where, key), "missing")
        return value

    def text(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if key not in table:
            return ""
        if not isinstance(value, str):
            self.problem(join(where, key), f"expected text, got {type_name(value)}")
            return ""
        if not value.strip():
            self.problem(join(where, key), "must not be empty")
        return value.strip()

    def ident(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(table, key, where)
        if value and not SLUG.match(value):
            self.problem(join(where, key), f"{value!r} must be lowercase letters, digits and single dashes")
            return ""
        return value

    def texts(self, table: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        if key not in table:
            return ()
        value = table[key]
        at = join(where, key)
        if not isinstance(value, list):
            self.problem(at, f"expected a list of text, got {type_name(value)}")
            return ()
        if not value and not allow_empty:
            self.problem(at, "must list at least one item")
        out = []
        for i, item in enumerate(value, start=1):
            if not isinstance(item, str) or not item.strip():
                self.problem(f"{at}[{i}]", f"expected non-empty text, got {type_name(item)}")
            else:
                out.append(item.strip())
        return tuple(out)

    def tables(self, table: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
        if key not in table:
            return []
        value = table[key]
        if not isinstance(value, list) or not value:
            self.problem(join(where, key), f"expected at least one [[{key}]] entry")
            return []
        return value

    def unique(self, ids: Iterable[tuple[str, str]], what: str) -> None:
        """Report every id that appears more than once (pairs of field path, id)."""
        seen: set[str] = set()
        for where, ident in ids:
            if ident and ident in seen:
                self.problem(where, f"duplicate {what} {ident!r}")
            seen.add(ident)


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def entry(name: str, position: int, ident: Any) -> str:
    # Authors find an entry by its id faster than by counting [[...]] headers.
    if isinstance(ident, str) and SLUG.match(ident):
        return f"{name}[{ident}]"
    return f"{name}[#{position}]"


def parse_toml(path: Path, reader: Reader) -> tuple[dict[str, Any] | None, str]:
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


def check_slug(reader: Reader, doc: Mapping[str, Any], path: Path) -> str:
    slug = reader.ident(doc, "slug", "")
    if slug and slug != path.stem:
        reader.problem("slug", f"{slug!r} must equal the file name {path.stem!r}")
    return slug


_Loaded = TypeVar("_Loaded")


def load_each(paths: Iterable[Path], load: Callable[[Path], _Loaded]) -> dict[str, _Loaded]:
    """Load every file (each result has a ``slug``), keyed by slug; every file's problems are reported together.

    :raises RubricFormatError: listing the problems of all the files that failed.
    """
    loaded: dict[str, _Loaded] = {}
    problems: list[RubricProblem] = []
    for path in paths:
        try:
            item = load(path)
        except RubricFormatError as exc:
            problems.extend(exc.problems)
        else:
            loaded[item.slug] = item
    if problems:
        raise RubricFormatError(problems)
    return loaded
