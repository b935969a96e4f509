"""Data seeds of invitations and practices: the deployment's key applied to each row's public seed id.

The derivation is `content/seeds.py`; this module holds where the key comes from (read once at app
start, `create_app`) and the check that a row's data is derived with the key it was issued under.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from assessments.content.seeds import CURRENT_SCHEME, SeedKind, SeedScheme, derive_data_seed, key_id, new_public_id
from assessments.errors import CaseUnavailable
from assessments.extensions import db
from assessments.models import Invitation, Practice

log = logging.getLogger(__name__)

EXTENSION = "assessments.seed_key"


class SeedKeyMismatch(CaseUnavailable):
    """This process holds another seed key than the row was issued under: its data cannot be made here."""

    def __init__(self, kind: str, public_id: int) -> None:
        super().__init__(
            "This case is temporarily unavailable; the team running it has been notified. "
            "Please try again later: anything you have already uploaded is kept."
        )
        log.error(
            "the seed key of this process is not the one %s seed %s was issued under: give every "
            "machine the same SEED_KEY (or instance/seed.key)",
            kind,
            public_id,
        )


@dataclass(frozen=True)
class IssuedSeed:
    """A new row's seed fields: the public id it shows, the scheme and the fingerprint of the key."""

    public_id: int
    scheme: int
    key_id: str


def deployment_key() -> bytes:
    """The deployment's seed key (SEED_KEY, or instance/seed.key), as read when the app started."""
    return current_app.extensions[EXTENSION]


def issue_seed(public_id: int | None = None) -> IssuedSeed:
    """Seed fields for a new invitation or practice: a random public id (or the one given), current scheme."""
    return IssuedSeed(
        public_id=new_public_id() if public_id is None else public_id,
        scheme=int(CURRENT_SCHEME),
        key_id=key_id(deployment_key()),
    )


def data_seed_of(kind: SeedKind, public_id: int, scheme: int, issued_key_id: str | None) -> int:
    """The data seed of a row's public id under its scheme.

    :raises SeedKeyMismatch: when the row was issued under another key than this process holds.
    """
    if scheme == SeedScheme.IDENTITY:
        return derive_data_seed(b"", scheme, kind, public_id)
    key = deployment_key()
    if issued_key_id != key_id(key):
        raise SeedKeyMismatch(kind, public_id)
    return derive_data_seed(key, scheme, kind, public_id)


def author_data_seed(public_id: int, kind: SeedKind = SeedKind.INVITATION) -> int:
    """The data seed a row issued now with this public id gets: what an author reproduces from the CLI."""
    return derive_data_seed(deployment_key(), CURRENT_SCHEME, kind, public_id)


def newest_issued_under_another_key() -> str | None:
    """The kind ("invitation", "practice") whose newest derived row was issued under another key than this
    process holds, or None. Only the newest counts: rows after a (discouraged) key change use the new key.
    """
    mine = key_id(deployment_key())
    for model, kind in ((Invitation, SeedKind.INVITATION), (Practice, SeedKind.PRACTICE)):
        newest = db.session.scalar(
            select(model.seed_key_id).where(model.seed_scheme != SeedScheme.IDENTITY).order_by(model.id.desc()).limit(1)
        )
        if newest is not None and newest != mine:
            return kind.value
    return None
