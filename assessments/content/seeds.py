"""Secret seeds: the seed a candidate's data comes from, derived from a public id and a deployment key.

Every case's generator is public, so a seed a candidate can read (a bundle's name, a page) must not
be the one their data, answer key and holdout come from. Each invitation and practice keeps a
public seed id and a *scheme*; the scheme says how its data seed follows from that id:

- scheme 0 (identity): the data seed is the public id. Rows made before secret seeds keep it, so
  their candidates' data does not change under them.
- scheme 1 (HMAC): the data seed is the first 8 bytes of HMAC-SHA256(key, "1:<kind>:<public id>"),
  below 2**63. Without the key the public code cannot get from the id to the data; 63 bits also
  keep a search over every seed for one that reproduces the candidate's data out of reach (31 bits
  would not be: a generator's first draws take microseconds).

The kind (invitation or practice) is part of the message, so the same public number never gives a
mentee a hiring candidate's data. Pure functions only: the key comes from the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from enum import IntEnum, StrEnum
from pathlib import Path

KEY_BYTES = 32
# Public seed ids fit the database's 32-bit integer column.
PUBLIC_ID_LIMIT = 2**31 - 1
DATA_SEED_LIMIT = 2**63


class SeedScheme(IntEnum):
    """How a row's data seed follows from its public seed id (stored per row, never changed)."""

    IDENTITY = 0
    HMAC_SHA256 = 1


CURRENT_SCHEME = SeedScheme.HMAC_SHA256


class SeedKind(StrEnum):
    """Whose seed: part of the derived message, so an invitation and a practice never share data."""

    INVITATION = "invitation"
    PRACTICE = "practice"


class SeedKeyError(Exception):
    """The deployment's seed key is missing, unreadable or malformed (the message says which and what to do)."""


def new_public_id() -> int:
    """A fresh random public seed id."""
    return secrets.randbelow(PUBLIC_ID_LIMIT)


def derive_data_seed(key: bytes, scheme: int, kind: str, public_id: int) -> int:
    """The data seed of a public id under a scheme.

    :raises ValueError: for an unknown scheme or a key of the wrong length.
    """
    if scheme == SeedScheme.IDENTITY:
        return int(public_id)
    if scheme != SeedScheme.HMAC_SHA256:
        raise ValueError(f"unknown seed scheme {scheme}")
    if len(key) != KEY_BYTES:
        raise ValueError(f"a seed key is {KEY_BYTES} bytes, not {len(key)}")
    message = f"{int(scheme)}:{SeedKind(kind).value}:{int(public_id)}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % DATA_SEED_LIMIT


def key_id(key: bytes) -> str:
    """A short fingerprint of the key, stored on each row, so a process holding another key notices.

    It is an HMAC of a fixed label, so it tells nothing about the key or any data seed.
    """
    return hmac.new(key, b"seed-key-id", hashlib.sha256).hexdigest()[:16]


def parse_key(text: str, source: str) -> bytes:
    """A key written as hex (64 digits, as `instance/seed.key` holds it).

    :raises SeedKeyError: naming ``source`` when the text is not a 32-byte hex key.
    """
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise SeedKeyError(f"{source} is not hex: it must hold {KEY_BYTES * 2} hex digits.") from None
    if len(key) != KEY_BYTES:
        raise SeedKeyError(
            f"{source} holds {len(key)} bytes; a seed key is {KEY_BYTES} bytes ({KEY_BYTES * 2} hex digits)."
        )
    return key


def load_key(setting: str | None, path: Path) -> bytes:
    """The deployment's seed key: the SEED_KEY setting when given, else the key file (made on first use).

    The file is created 0600 with a random key, atomically (written aside, then linked into place,
    so two processes starting at once agree on one key and never read half of it).

    :raises SeedKeyError: when the setting or the file is malformed, or the file cannot be read or made.
    """
    if setting:
        return parse_key(setting, "The SEED_KEY setting")
    try:
        return parse_key(path.read_text(), str(path))
    except FileNotFoundError:
        pass
    except OSError as error:
        raise SeedKeyError(f"cannot read the seed key {path}: {error.strerror}. Fix its permissions.") from None
    try:
        _create_key_file(path)
        return parse_key(path.read_text(), str(path))
    except OSError as error:
        raise SeedKeyError(f"cannot create the seed key {path}: {error.strerror}.") from None


def _create_key_file(path: Path) -> None:
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first: theirs is the key
    finally:
        aside.unlink()
