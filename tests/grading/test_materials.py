"""Seed materials kept for grading: what is read back equals what would be built, and bad copies are rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from assessments.content.bundle import data_files
from assessments.content.case import load_case
from assessments.grading.checks import CHECK_RULES
from assessments.grading.materials import MaterialsCache, build_materials

CASES = Path(__file__).resolve().parents[2] / "cases"


@pytest.mark.parametrize("slug", sorted(p.name for p in CASES.iterdir() if (p / "case.toml").exists()))
def test_kept_materials_equal_freshly_built_ones(slug, tmp_path) -> None:
    case = load_case(CASES / slug, check_rules=CHECK_RULES)
    cache = MaterialsCache(tmp_path)
    assert cache.get(case, 3) is None
    cache.get_or_build(case, 3)
    kept = cache.get(case, 3)
    assert kept is not None
    # Equal after the trip through JSON: the key a worker reads back scores exactly as a fresh one.
    assert dict(kept.files) == data_files(case, 3)
    assert dict(kept.key) == case.key_for_seed(3)
    assert cache.get(case, 4) is None  # another seed is another entry


def test_an_unreadable_copy_is_built_again(tmp_path) -> None:
    case = load_case(CASES / "ab-readout", check_rules=CHECK_RULES)
    cache = MaterialsCache(tmp_path)
    path = cache.path(case, 5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    materials = cache.get_or_build(case, 5)
    assert dict(materials.key) == case.key_for_seed(5)
    assert dict(cache.get(case, 5).key) == dict(build_materials(case, 5).key)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".materials-")]
