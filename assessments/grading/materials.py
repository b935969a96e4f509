"""A seed's grading materials (the candidate's data files and the answer key), built once and kept.

Generating a candidate's data, writing it as CSV and computing the key take about 0.1 s of CPU at a
case's default size and over a second at 200,000 rows; they depend only on (case version, seed,
size), so the app builds them when the candidate's bundle is first built and the grader reads them
back instead of repeating the work on every submission (see docs/architecture.md). The cache lives
in a folder of the trusted side (the instance folder by default, never bound into a sandbox); one
zip per seed, written to a temporary name and renamed, so readers never see half a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assessments.content.bundle import data_files
from assessments.content.case import CaseSpec

log = logging.getLogger(__name__)

_KEY_ENTRY = "key.json"
_FILES_PREFIX = "files/"


@dataclass(frozen=True)
class SeedMaterials:
    """What grading one seed needs from the trusted side: the files the sandbox gets, and the key it never gets."""

    files: Mapping[str, bytes]
    key: Mapping[str, Any]


def build_materials(case: CaseSpec, seed: int, size: int | None = None) -> SeedMaterials:
    """Generate the seed's frames once; the data files and the key both come from them."""
    frames = case.generate(seed, size)
    files = data_files(case, seed, size, frames=frames)  # before the key, in case it changes the frames
    return SeedMaterials(files=files, key=case.answer_key(frames, case.hidden(seed, size)))


class MaterialsCache:
    """Seed materials on disk under ``root``, one zip per (case version, seed, size)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, case: CaseSpec, seed: int, size: int | None = None) -> Path:
        """Where the seed's materials are kept."""
        return self.root / f"{case.slug}-{case.content_hash[:16]}-{seed}-{size or case.default_size}.zip"

    def get(self, case: CaseSpec, seed: int, size: int | None = None) -> SeedMaterials | None:
        """The kept materials, or None when there are none (or they cannot be read: they are rebuilt)."""
        path = self.path(case, seed, size)
        try:
            with zipfile.ZipFile(path) as archive:
                key = json.loads(archive.read(_KEY_ENTRY))
                files = {
                    name[len(_FILES_PREFIX) :]: archive.read(name)
                    for name in archive.namelist()
                    if name.startswith(_FILES_PREFIX)
                }
        except FileNotFoundError:
            return None
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            log.warning("unreadable seed materials %s (%s); building them again", path, error)
            return None
        return SeedMaterials(files=files, key=key)

    def put(self, case: CaseSpec, seed: int, materials: SeedMaterials, size: int | None = None) -> None:
        """Keep the materials (a concurrent writer of the same seed writes the same bytes; the last rename wins)."""
        path = self.path(case, seed, size)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".materials-")
        try:
            with (
                os.fdopen(fd, "wb") as handle,
                zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
            ):
                archive.writestr(_KEY_ENTRY, json.dumps(materials.key, allow_nan=True))
                for name, data in materials.files.items():
                    archive.writestr(_FILES_PREFIX + name, data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_or_build(self, case: CaseSpec, seed: int, size: int | None = None) -> SeedMaterials:
        """The kept materials, built and kept first when there are none."""
        materials = self.get(case, seed, size)
        if materials is None:
            materials = build_materials(case, seed, size)
            try:
                self.put(case, seed, materials, size)
            except (OSError, TypeError, ValueError) as error:
                log.warning("seed materials of %s seed %s not kept (%s)", case.slug, seed, error)
        return materials
