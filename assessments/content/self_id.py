"""Self-identification categories and the auto-grade threshold, read from one TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


class CategoriesFileError(ValueError):
    """Raised when the categories file is missing a list or has the wrong types."""


@dataclass(frozen=True)
class SelfIdCategories:
    """The answers a candidate may choose; `decline` is the "prefer not to say" answer."""

    sex: tuple[str, ...]
    race_ethnicity: tuple[str, ...]
    decline: str
    auto_grade_threshold: float

    def allowed(self, field: str) -> tuple[str, ...]:
        """Every answer a field accepts, the declining one last."""
        return (*getattr(self, field), self.decline)


def load_categories(path: Path) -> SelfIdCategories:
    """Read the categories file.

    :raises CategoriesFileError: for a list that is missing, empty or not text, or a bad threshold.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    lists = {}
    for field in ("sex", "race_ethnicity"):
        values = data.get(field)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise CategoriesFileError(f"{path.name}: {field} must be a non-empty list of text.")
        lists[field] = tuple(v.strip() for v in values)
    decline = data.get("decline", "Prefer not to say")
    threshold = data.get("auto_grade_threshold", 0.6)
    if not isinstance(decline, str) or not decline.strip():
        raise CategoriesFileError(f"{path.name}: decline must be text.")
    if not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise CategoriesFileError(f"{path.name}: auto_grade_threshold must be a share between 0 and 1.")
    return SelfIdCategories(lists["sex"], lists["race_ethnicity"], decline.strip(), float(threshold))
