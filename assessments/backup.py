"""Backup and restore of a SQLite instance: the database and the submission store, with a manifest.

The database is copied with SQLite's online backup API, which reads one consistent snapshot while
the app keeps running. Submission files are content-addressed and never change, so copying the
files the snapshot refers to, after the snapshot, gives a consistent pair. PostgreSQL is backed up
with its own tool, pg_dump; this module refuses it with that advice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

MANIFEST = "manifest.json"
DATABASE_FILE = "assessments.db"
SUBMISSIONS = "submissions"
FORMAT = 1
PG_DUMP_ADVICE = (
    "The database is PostgreSQL: back it up with pg_dump (for example "
    '`pg_dump --format=custom --file=assessments.dump "$DATABASE_URL"`, restored with '
    "pg_restore) and copy the submission directory after the dump. This command backs up "
    "the SQLite default only."
)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds, or what a restore put back."""

    tables: dict[str, int]
    files: int
    file_bytes: int
    missing_files: tuple[str, ...] = ()


def sqlite_path(database_uri: str) -> Path:
    """The file of a SQLite database URI.

    :raises BackupError: for any other database (PostgreSQL: use pg_dump).
    """
    url = make_url(database_uri)
    if url.get_backend_name() != "sqlite":
        if url.get_backend_name() == "postgresql":
            raise BackupError(PG_DUMP_ADVICE)
        raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported here.")
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory SQLite database has nothing to back up.")
    return Path(url.database)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _row_counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path, timeout=30)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    finally:
        connection.close()


def _referenced_files(path: Path) -> list[str]:
    connection = sqlite3.connect(path, timeout=30)
    try:
        has_table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='submission'"
        ).fetchone()
        if not has_table:
            return []
        return sorted({row[0] for row in connection.execute("SELECT sha256 FROM submission")})
    finally:
        connection.close()


def _store_path(root: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise BackupError(f"Not a submission fingerprint: {sha256[:80]!r}.")
    return root / sha256[:2] / sha256


def _copy_into_store(source: Path, root: Path, sha256: str) -> None:
    """Copy one file into a content-addressed store: temporary name, fsync, rename."""
    target = _store_path(root, sha256)
    if target.exists() and _sha256_file(target) == sha256:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a live database through SQLite itself: one consistent snapshot, WAL included."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _write_backup_dir(database: Path, store: Path, out: Path) -> BackupSummary:
    _sqlite_copy(database, out / DATABASE_FILE)
    files: dict[str, int] = {}
    missing = []
    for sha256 in _referenced_files(out / DATABASE_FILE):
        source = _store_path(store, sha256)
        if not source.is_file() or _sha256_file(source) != sha256:
            missing.append(sha256)
            continue
        _copy_into_store(source, out / SUBMISSIONS, sha256)
        files[sha256] = source.stat().st_size
    tables = _row_counts(out / DATABASE_FILE)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": {"file": DATABASE_FILE, "sha256": _sha256_file(out / DATABASE_FILE), "tables": tables},
        "submissions": {"count": len(files), "bytes": sum(files.values()), "files": files},
        "missing_files": missing,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return BackupSummary(tables, len(files), sum(files.values()), tuple(missing))


def is_archive(path: Path) -> bool:
    """Whether a backup path names a tar.gz archive rather than a directory."""
    return path.name.endswith((".tar.gz", ".tgz"))


def backup_instance(database_uri: str, submissions_dir: Path, destination: Path) -> BackupSummary:
    """Back up the database and the files it refers to into a new directory or a .tar.gz.

    :raises BackupError: for PostgreSQL, a missing database, or a destination that holds files.
    """
    database = sqlite_path(database_uri)
    if not database.is_file():
        raise BackupError("There is no database file to back up yet (run `flask init`).")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination} already exists and is not an empty directory; choose a new name.")
    if not is_archive(destination):
        destination.mkdir(parents=True, exist_ok=True)
        return _write_backup_dir(database, submissions_dir, destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".backup-") as work:
        summary = _write_backup_dir(database, submissions_dir, Path(work))
        partial = destination.with_name(destination.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            for entry in sorted(Path(work).iterdir()):
                archive.add(entry, arcname=entry.name)
        os.replace(partial, destination)
    return summary


def _verify(folder: Path) -> dict[str, Any]:
    """The manifest of an unpacked backup, after checking every file against it."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"This is not a backup made here: {MANIFEST} is missing or unreadable.") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r}.")
    database = folder / manifest["database"]["file"]
    if not database.is_file() or _sha256_file(database) != manifest["database"]["sha256"]:
        raise BackupError("The database in this backup does not match its manifest; it is damaged.")
    if _row_counts(database) != manifest["database"]["tables"]:
        raise BackupError("The database's row counts do not match the manifest; the backup is damaged.")
    files = manifest["submissions"]["files"]
    for sha256 in files:
        path = _store_path(folder / SUBMISSIONS, sha256)
        if not path.is_file() or _sha256_file(path) != sha256:
            raise BackupError(f"Submission file {sha256[:12]} is missing or damaged in this backup.")
    if len(files) != manifest["submissions"]["count"]:
        raise BackupError("The manifest's file count does not match its file list.")
    return manifest


def _target_holds_data(database: Path, store: Path) -> bool:
    if database.is_file() and database.stat().st_size > 0:
        return any(count for count in _row_counts(database).values())
    return store.is_dir() and any(p.is_file() for p in store.rglob("*"))


def restore_instance(source: Path, database_uri: str, submissions_dir: Path, *, force: bool = False) -> BackupSummary:
    """Check a backup against its manifest, then put its database and files in place.

    Stop the app and workers first: the database is replaced underneath any open connection.

    :raises BackupError: for PostgreSQL, a damaged backup, or a target holding data without `force`.
    """
    database = sqlite_path(database_uri)
    if not source.exists():
        raise BackupError(f"{source} does not exist.")
    if _target_holds_data(database, submissions_dir) and not force:
        raise BackupError("The target database or submission store already holds data; pass --force to overwrite it.")
    with tempfile.TemporaryDirectory(prefix="assess-restore-") as work:
        folder = source
        if source.is_file():
            with tarfile.open(source, "r:*") as archive:
                archive.extractall(work, filter="data")  # refuses absolute paths and links out
            folder = Path(work)
        manifest = _verify(folder)
        for sha256 in manifest["submissions"]["files"]:
            _copy_into_store(_store_path(folder / SUBMISSIONS, sha256), submissions_dir, sha256)
        database.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(folder / manifest["database"]["file"], database)
        tables = _row_counts(database)
    if tables != manifest["database"]["tables"]:
        raise BackupError("The restored database's row counts differ from the manifest.")
    files = manifest["submissions"]["files"]
    return BackupSummary(tables, len(files), sum(files.values()), tuple(manifest.get("missing_files", ())))
