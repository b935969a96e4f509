"""The case catalogue: case folders loaded once per process and synced into `Case` rows."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from assessments.content.bundle import build_bundle
from assessments.content.case import CaseSpec, load_cases
from assessments.errors import CaseUnavailable, NotFound
from assessments.extensions import db
from assessments.grading.checks import CHECK_RULES
from assessments.grading.materials import MaterialsCache, SeedMaterials
from assessments.models import Case
from assessments.services import scorecards
from assessments.services.audit import record_event

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[tuple[str, str], dict[str, CaseSpec]] = {}  # (cases folder, rubrics folder) -> cases


def case_specs() -> dict[str, CaseSpec]:
    """Every case on disk, loaded and validated once per process and cases folder."""
    root = current_app.config["CASES_DIR"]
    # A part's dimensions must be dimensions of a rubric on disk (content only lists the ids).
    rubrics, _ = scorecards.rubric_library()
    dimensions = {d for rubric in rubrics.values() for d in rubric.dimension_ids}
    key = (root, current_app.config["RUBRICS_DIR"])
    with _lock:
        if key not in _loaded:
            _loaded[key] = load_cases(Path(root), check_rules=CHECK_RULES, dimensions=dimensions)
        return _loaded[key]


def forget_loaded_cases() -> None:
    """Drop the per-process cache, so the next lookup reads the folders again."""
    with _lock:
        _loaded.clear()


def sync_cases() -> list[Case]:
    """Record the current version of every case; a changed folder adds a new row."""
    rows = []
    for slug, spec in sorted(case_specs().items()):
        row = db.session.scalar(select(Case).where(Case.slug == slug, Case.content_hash == spec.content_hash))
        if row is None:
            row = Case(slug=slug, content_hash=spec.content_hash)
            _copy_metadata(spec, row)
            db.session.add(row)
            db.session.flush()
            record_event(None, "case.synced", "case", row.id, slug=slug, version=spec.content_hash)
        _copy_metadata(spec, row)
        for old in db.session.scalars(select(Case).where(Case.slug == slug, Case.is_current)):
            if old is not row:
                old.is_current = False
        rows.append(row)
    db.session.commit()
    return rows


def _copy_metadata(spec: CaseSpec, row: Case) -> None:
    row.title = spec.title
    row.kind = spec.kind
    row.hiring = spec.hiring
    row.practice = spec.practice
    row.time_limit_minutes = spec.time_limit_minutes
    row.is_current = True


def current_cases(*, hiring: bool | None = None, practice: bool | None = None) -> list[Case]:
    """The current version of every case, optionally only hiring or practice ones."""
    query = select(Case).where(Case.is_current).order_by(Case.title)
    if hiring is not None:
        query = query.where(Case.hiring.is_(hiring))
    if practice is not None:
        query = query.where(Case.practice.is_(practice))
    return list(db.session.scalars(query))


def find_current_case(slug: str) -> Case:
    """The current version of a case.

    :raises NotFound: when no case has this slug.
    """
    row = db.session.scalar(select(Case).where(Case.slug == slug, Case.is_current))
    if row is None:
        raise NotFound(f"There is no case called {slug!r}. Run `flask --app app init` to sync cases.")
    return row


def spec_for(case: Case) -> CaseSpec:
    """The loaded case folder for a case row.

    :raises CaseUnavailable: when that version is no longer the one on disk (the message is for
        the candidate or mentee; what the operator must do is logged).
    """
    spec = case_specs().get(case.slug)
    if spec is None or spec.content_hash != case.content_hash:
        log.error(
            "version %s of case %r is no longer on disk (on disk: %s); restore it from git to "
            "serve the invitations and practice attempts made with it",
            case.content_hash[:12],
            case.slug,
            spec.content_hash[:12] if spec else "no such case",
        )
        raise CaseUnavailable(
            "This case is temporarily unavailable; the team running it has been notified. "
            "Please try again later: anything you have already uploaded is kept."
        )
    return spec


def candidate_bundle(case: Case, seed: int, *, public_id: int) -> bytes:
    """A candidate's bundle, built once per (case version, data seed, public id) and kept under the instance.

    The bytes depend only on those, so a cached copy is always right; building one costs up
    to a second of CPU, which matters when many candidates download near a deadline.
    """
    root = Path(current_app.instance_path) / "bundles"
    path = root / f"{case.slug}-{case.content_hash[:16]}-{seed}-{public_id}.zip"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    spec = spec_for(case)
    data = build_bundle(spec, seed, public_id=public_id)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".bundle-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    # The candidate now has their data: keep what grading their submissions will need.
    seed_materials(spec, seed)
    return data


def seed_materials(spec: CaseSpec, seed: int) -> SeedMaterials:
    """A seed's data files and answer key, kept since its bundle was first built (or built now and kept)."""
    return MaterialsCache(current_app.config["SEED_CACHE_DIR"]).get_or_build(spec, seed)
