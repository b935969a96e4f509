"""The submission store: uploaded bytes kept by sha256, behind a small interface.

A directory is the default; an object store can replace it by implementing `SubmissionStore`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app


class SubmissionStore(Protocol):
    """Content-addressed storage of submitted files."""

    def put(self, data: bytes) -> str:
        """Store bytes durably and return their sha256 (storing the same bytes twice is a no-op)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under a sha256.

        :raises FileNotFoundError: when nothing is stored under it.
        """
        ...


class DirectoryStore:
    """Files under `root/ab/abcdef…`, written to a temporary file and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise FileNotFoundError(sha256)
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes durably and return their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        """The bytes stored under a sha256."""
        return self._path(sha256).read_bytes()


def submission_store() -> SubmissionStore:
    """The app's configured store."""
    return DirectoryStore(Path(current_app.config["SUBMISSIONS_DIR"]))
