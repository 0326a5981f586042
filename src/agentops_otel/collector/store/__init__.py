"""Session stores behind one interface (:class:`Store`), chosen by a URL (:func:`open_store`).

| URL                                          | store                                           |
|----------------------------------------------|-------------------------------------------------|
| ``sqlite:///abs/path.sqlite3``, ``sqlite:rel`` | SQLite, embedded (the default, no extra needed) |
| ``chdb:///abs/dir``                          | ClickHouse's engine in-process (chDB)           |
| ``clickhouse://user:password@host:8123/db``  | a ClickHouse server over HTTP                   |
| ``clickhouses://user:password@host:8443/db`` | the same over HTTPS                             |

The ClickHouse stores need the ``clickhouse`` extra; their module is imported only when one is opened.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from agentops_otel.collector.store.base import ListQuery, Store, WriteResult
from agentops_otel.collector.store.sqlite import SQLiteStore

__all__ = [
    "ListQuery",
    "SQLiteStore",
    "Store",
    "StoreURLError",
    "WriteResult",
    "open_store",
    "redact_url",
    "sqlite_url",
]

CLICKHOUSE_SCHEMES = ("chdb", "clickhouse", "clickhouses")
SCHEMES = ("sqlite", *CLICKHOUSE_SCHEMES)
EXTRA_HINT = "pip install 'agentops-otel[clickhouse]'"
_PASSWORD = re.compile(r"(//[^/@:?#]*:).*@")  # up to the last @: more hidden rather than less


class StoreURLError(ValueError):
    """A store URL that names no store this installation can open (never quotes a password)."""


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***`` (for logs and errors)."""
    return _PASSWORD.sub(r"\1***@", url)


def sqlite_url(path: str | Path) -> str:
    """The store URL of a SQLite database file."""
    return "sqlite:///" + str(Path(path).expanduser().absolute()).lstrip("/")


def sqlite_path(url: str) -> Path:
    """The database file of a ``sqlite:`` URL: ``sqlite:///abs/path`` or ``sqlite:relative/path``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise StoreURLError(
            f"a SQLite store URL names a file, not a host: sqlite:///absolute/path or sqlite:relative/path"
            f" (got {redact_url(url)})"
        )
    path = unquote(parts.path)
    if not path or path == "/":
        raise StoreURLError("a SQLite store URL needs a file path: sqlite:///absolute/path or sqlite:relative/path")
    return Path(path).expanduser()


def scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower() if "://" in url or url.startswith("sqlite:") else ""
    if scheme not in SCHEMES:
        shown = f"'{scheme}://'" if scheme else "no scheme"
        raise StoreURLError(
            f"unknown store URL ({shown}): use sqlite:///path/to/file.sqlite3, chdb:///path/to/dir,"
            " clickhouse://user:password@host:8123/database or clickhouses://... (HTTPS)"
        )
    return scheme


def open_store(url: str, *, synchronous: str = "NORMAL", retention_days: int | None = None, **options: Any) -> Store:
    """Open the store ``url`` names. ``synchronous`` applies to SQLite, ``retention_days`` (a TTL:
    sessions older than that are dropped; None keeps them) and ``options`` to ClickHouse.

    Raises :class:`StoreURLError` for a URL naming no store, or a ClickHouse URL when the
    ``clickhouse`` extra is not installed; whatever the store raises when it cannot open.
    """
    scheme = scheme_of(url)
    if scheme == "sqlite":
        return SQLiteStore(sqlite_path(url), synchronous=synchronous)
    for name in ("clickhouse_connect", "chdb") if scheme == "chdb" else ("clickhouse_connect",):
        try:
            importlib.import_module(name)
        except ImportError:
            raise StoreURLError(
                f"the {scheme}:// store needs the 'clickhouse' extra ({name} is not installed): {EXTRA_HINT}"
            ) from None
    from agentops_otel.collector.store.clickhouse import ClickHouseStore

    return ClickHouseStore.from_url(url, retention_days=retention_days, **options)
