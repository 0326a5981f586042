"""The dashboard's files, served from memory and revalidated by ETag.

Every page load revalidates about fifteen small files (``Cache-Control: no-cache``), and they are
on the critical path of every page. Serving them from memory answers each in a fraction of a
millisecond, where reading the file again per request cost several. A file edited on disk is
picked up on its next request: each request compares the file's size and modification time.
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str
    media_type: str
    stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file it was read from


def make_asset(body: bytes, media_type: str, stamp: tuple[int, int] | None = None) -> Asset:
    return Asset(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', media_type, stamp)


def _media_type(path: Path) -> str:
    return _MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


class Assets:
    """Files under ``directory`` (plus ``generated`` ones, by relative path) with ``headers`` on every answer."""

    def __init__(self, directory: Path, headers: dict[str, str], generated: dict[str, Asset] | None = None) -> None:
        self.directory = directory.resolve()
        self.headers = headers
        self.generated = dict(generated or {})
        self._cache: dict[str, Asset] = {}

    def find(self, relative: str) -> Asset | None:
        # One name per file before any lookup: the cache holds the real files, however many spellings
        # of them ("css/1/../app.css", "css//app.css", ...) are asked for.
        name = posixpath.normpath(relative)
        if name.startswith(("/", "../")) or name in ("..", ".") or "\0" in name:  # never leaves the directory
            return None
        found = self.generated.get(name)
        if found is not None:
            return found
        path = (self.directory / name).resolve()
        if not path.is_relative_to(self.directory):  # nor through a symbolic link
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        key = path.relative_to(self.directory).as_posix()
        cached = self._cache.get(key)
        if cached is None or cached.stamp != stamp:
            cached = self._cache[key] = make_asset(path.read_bytes(), _media_type(path), stamp)
        return cached

    @property
    def cached(self) -> frozenset[str]:
        """Names of the files held in memory (each real file once)."""
        return frozenset(self._cache)

    def response(self, request: Request, relative: str) -> Response:
        asset = self.find(relative)
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404, headers=self.headers)
        headers = {**self.headers, "ETag": asset.etag}
        if _matches(request.headers.get("if-none-match"), asset.etag):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)
