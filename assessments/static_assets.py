"""Static files with content-hashed names, cached for a year, sent gzip-compressed when the client accepts it.

`url_for("static", filename="style.css")` builds `/static/style.<digest>.css`; any endpoint
registered with `hashed_endpoint` (plotly.js) gets a `digest` argument the same way. A request
naming the current digest is answered `immutable` for a year, since a new file gets a new name;
one without a digest or with an old one gets the current file, revalidated each time.
Compressible files are gzipped once per process per file version and kept in memory (plotly.js:
4.8 MB to 1.4 MB). Hand-written because Flask-Compress compresses each response and names
nothing, and whitenoise's hashed names come from Django's manifest storage.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request, send_file
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

DIGEST_LENGTH = 12
YEAR = 365 * 24 * 3600
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".html", ".txt", ".map"}
MIN_COMPRESS = 1024
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[A-Za-z0-9]+)$")
_HASHED_ENDPOINTS = "assessments.static_assets.endpoints"


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:DIGEST_LENGTH]


def file_digest(path: Path) -> str:
    """The first characters of the file's sha256, recomputed only when the file changes."""
    stat = path.stat()
    return _digest(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _gzipped(path: str, mtime_ns: int, size: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


def hashed_name(filename: str, digest: str) -> str:
    """`style.css` → `style.<digest>.css` (the digest before the last suffix)."""
    stem, dot, suffix = filename.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{filename}.{digest}"


def send_asset(path: Path, requested_digest: str | None, mimetype: str | None = None) -> Response:
    """The file, immutable when `requested_digest` is its current digest, gzipped when the client accepts it.

    :raises NotFound: when there is no such file.
    """
    if not path.is_file():
        raise NotFound()
    stat = path.stat()
    digest = _digest(str(path), stat.st_mtime_ns, stat.st_size)
    accepts_gzip = "gzip" in request.accept_encodings
    if accepts_gzip and path.suffix in COMPRESSIBLE and stat.st_size >= MIN_COMPRESS:
        guessed = mimetype or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        response = Response(_gzipped(str(path), stat.st_mtime_ns, stat.st_size), mimetype=guessed)
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(f"{digest}-gz")
        response.make_conditional(request)
    else:
        response = send_file(str(path), mimetype=mimetype, etag=digest, conditional=True, max_age=None)
    response.headers["Vary"] = "Accept-Encoding"
    if requested_digest == digest:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response


def _serve_static(filename: str) -> Response:
    folder = Path(current_app.static_folder or "")
    match = _HASHED.match(filename)
    if match and (folder / f"{match['stem']}{match['suffix']}").is_file():
        filename, digest = f"{match['stem']}{match['suffix']}", match["digest"]
    else:
        digest = None
    joined = safe_join(str(folder), filename)
    if joined is None:
        raise NotFound()
    return send_asset(Path(joined), digest)


def hashed_endpoint(app: Flask, endpoint: str, path: Path) -> None:
    """Give `url_for(endpoint)` a `digest` argument naming `path`'s current content."""
    app.extensions.setdefault(_HASHED_ENDPOINTS, {})[endpoint] = path


def _add_digest(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "static" and "filename" in values and not _HASHED.match(values["filename"]):
        folder = Path(current_app.static_folder or "")
        path = folder / values["filename"]
        if path.is_file():
            values["filename"] = hashed_name(values["filename"], file_digest(path))
        return
    path = current_app.extensions.get(_HASHED_ENDPOINTS, {}).get(endpoint)
    if path is not None:
        values.setdefault("digest", file_digest(path))


def init_app(app: Flask) -> None:
    """Serve `static/` through `send_asset` and hash the names `url_for` builds."""
    app.view_functions["static"] = _serve_static
    app.url_defaults(_add_digest)
