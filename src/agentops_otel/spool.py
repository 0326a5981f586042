"""The spool: OTLP export requests that could not be delivered yet, kept until they are.

Each entry is one serialized ``ExportTraceServiceRequest`` (the exact bytes that were to be sent)
with its target: where it goes (URL, protocol) and the export headers (the API key). On disk
(the default, in the user's cache directory) an entry is one file, written under a temporary name
and renamed into place, so a reader never sees half of one::

    <created_ns:020>-<target key>-<spans>-<pid>-<random>.v1.otlp
    AOSPOOL 1\\n  {"target": {...}, "spans": n, "size": bytes, "sha256": hex}\\n  <request bytes>

The name alone gives age, target and span count, so bounds and order need no read. Files are
``0600`` in a ``0700`` directory: they hold the API key, which ``agentops-otel spool flush``
needs to deliver them without the program that wrote them.

Several processes may share one directory. A sender claims a file with an exclusive, non-blocking
``flock`` and checks that the path still names the file it opened (another sender may have
delivered and deleted it in between); it deletes the file only after the collector accepted it
(2xx), while still holding the lock. A sender that dies mid-send releases the lock with its
process; the file is sent again later, and the collector's de-duplication (same trace and span
id stored once) makes that at-least-once delivery exactly-once in the store.

A file another version wrote is left for that version; a corrupt one is renamed ``*.corrupt``
(out of the way, removed with age); each is named in one warning, never an exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

try:
    import fcntl
except ImportError:  # Windows: no flock; the spool is kept in memory there
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("agentops_otel")

MEMORY = ":memory:"  # spool_dir value: keep undelivered requests in memory only
VERSION = 1
_MAGIC = b"AOSPOOL"
_SUFFIX = f".v{VERSION}.otlp"
_CORRUPT = ".corrupt"
_STALE_TMP_S = 3600  # a temporary file this old was left by a writer that died


@dataclass(frozen=True)
class Target:
    """Where a request goes: the traces URL (OTLP/HTTP) or endpoint (gRPC), protocol and headers."""

    url: str
    protocol: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Short stable id of the target (in file names: the headers themselves stay inside)."""
        raw = json.dumps([self.url, self.protocol, sorted(self.headers)]).encode()
        return hashlib.sha256(raw).hexdigest()[:12]

    def describe(self) -> str:
        """The URL without credentials, for logs and status."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def as_json(self) -> dict[str, object]:
        return {"url": self.url, "protocol": self.protocol, "headers": [list(h) for h in self.headers]}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Target:
        headers = data.get("headers") or []
        assert isinstance(headers, list)
        return cls(str(data["url"]), str(data["protocol"]), tuple((str(k), str(v)) for k, v in headers))


@dataclass
class Entry:
    """One spooled request as listed (not read): enough to order, bound and route it."""

    name: str
    created_ns: int
    target_key: str
    spans: int
    size: int


@dataclass
class Request:
    """A claimed entry's content."""

    target: Target
    data: bytes
    spans: int


class Unreadable(Exception):
    """A spool entry that cannot be delivered: corrupt, or written by another version."""


class Claim(Protocol):
    entry: Entry

    def read(self) -> Request: ...

    def done(self) -> None:
        """Delivered (or given up for good): remove it."""

    def release(self) -> None:
        """Not delivered now: leave it for a later attempt."""


@dataclass
class Drops:
    """Spans dropped by the bounds, by reason; one warning summarises them (:meth:`Spool.report_drops`)."""

    spans: Counter[str] = field(default_factory=Counter)
    reported: Counter[str] = field(default_factory=Counter)


class Spool:
    """Bounded store of undelivered requests, oldest first. Subclasses: disk and memory."""

    location: str

    def __init__(self, max_bytes: int, max_age_s: float) -> None:
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.drops = Drops()
        self._drops_lock = threading.Lock()

    def put(self, target: Target, data: bytes, spans: int) -> str | None:
        """Store a request; returns its name (None if it could not be kept: counted as dropped)."""
        raise NotImplementedError

    def entries(self) -> list[Entry]:
        """Entries, oldest first (after removing those past the age bound)."""
        raise NotImplementedError

    def claim(self, entry: Entry) -> Claim | None:
        """Exclusive hold on ``entry``; None if another sender has it or it is gone."""
        raise NotImplementedError

    def discard(self, name: str) -> None:
        """Remove an entry this process wrote, if no one is sending it (its copy was delivered)."""
        raise NotImplementedError

    def _dropped(self, spans: int, reason: str) -> None:
        with self._drops_lock:
            self.drops.spans[reason] += spans
        logger.debug("agentops-otel: spool dropped %d spans (%s)", spans, reason)

    def report_drops(self) -> None:
        """One warning for the spans dropped since the last report, saying how many and why."""
        with self._drops_lock:
            new = self.drops.spans - self.drops.reported
            self.drops.reported = Counter(self.drops.spans)
        if new:
            reasons = "; ".join(f"{count} {reason}" for reason, count in sorted(new.items()))
            logger.warning(
                "agentops-otel: dropped %d undelivered spans from the spool at %s, oldest first (%s)",
                sum(new.values()),
                self.location,
                reasons,
            )

    def _over_age(self, created_ns: int) -> bool:
        return created_ns < time.time_ns() - int(self.max_age_s * 1e9)

    def _age_reason(self) -> str:
        return f"older than the spool's max age of {self.max_age_s:g} s"

    def _full_reason(self) -> str:
        return f"over the spool's size bound of {self.max_bytes} bytes"


# --- memory ---------------------------------------------------------------------------------------
class _MemoryClaim:
    def __init__(self, spool: MemorySpool, entry: Entry, request: Request) -> None:
        self.entry, self._spool, self._request = entry, spool, request

    def read(self) -> Request:
        return self._request

    def done(self) -> None:
        self._spool._finish(self.entry.name, keep=False)

    def release(self) -> None:
        self._spool._finish(self.entry.name, keep=True)


class MemorySpool(Spool):
    """In this process's memory only: survives an outage, not the process."""

    location = "memory"

    def __init__(self, max_bytes: int, max_age_s: float) -> None:
        super().__init__(max_bytes, max_age_s)
        self._items: dict[str, tuple[Entry, Request]] = {}
        self._claimed: set[str] = set()
        self._lock = threading.Lock()
        self._seq = 0

    def put(self, target: Target, data: bytes, spans: int) -> str | None:
        if len(data) > self.max_bytes:
            self._dropped(spans, self._full_reason())
            return None
        with self._lock:
            self._seq += 1
            now = time.time_ns()
            name = f"{now:020d}-{self._seq:012d}"
            self._items[name] = (Entry(name, now, target.key, spans, len(data)), Request(target, data, spans))
            dropped = self._shrink(self.max_bytes)
        for spans_dropped in dropped:
            self._dropped(spans_dropped, self._full_reason())
        return name

    def _shrink(self, limit: int) -> list[int]:
        total = sum(e.size for e, _ in self._items.values())
        dropped = []
        for name in sorted(self._items):
            if total <= limit:
                break
            if name in self._claimed:
                continue
            entry, _ = self._items.pop(name)
            total -= entry.size
            dropped.append(entry.spans)
        return dropped

    def entries(self) -> list[Entry]:
        with self._lock:
            old = [n for n, (e, _) in self._items.items() if n not in self._claimed and self._over_age(e.created_ns)]
            aged = [self._items.pop(n)[0].spans for n in old]
            listed = [self._items[n][0] for n in sorted(self._items)]
        for spans in aged:
            self._dropped(spans, self._age_reason())
        return listed

    def claim(self, entry: Entry) -> Claim | None:
        with self._lock:
            item = self._items.get(entry.name)
            if item is None or entry.name in self._claimed:
                return None
            self._claimed.add(entry.name)
            return _MemoryClaim(self, item[0], item[1])

    def _finish(self, name: str, keep: bool) -> None:
        with self._lock:
            self._claimed.discard(name)
            if not keep:
                self._items.pop(name, None)

    def discard(self, name: str) -> None:
        with self._lock:
            if name not in self._claimed:
                self._items.pop(name, None)

    def undelivered_spans(self) -> int:
        with self._lock:
            return sum(e.spans for e, _ in self._items.values())


# --- disk -----------------------------------------------------------------------------------------
def parse_name(name: str) -> Entry | None:
    """The entry a file name describes; None for a name that is not a spool file of this version."""
    if not name.endswith(_SUFFIX):
        return None
    parts = name[: -len(_SUFFIX)].split("-")
    if len(parts) != 5:
        return None
    try:
        return Entry(name, int(parts[0]), parts[1], int(parts[2]), 0)
    except ValueError:
        return None


def encode_file(target: Target, data: bytes, spans: int) -> bytes:
    header = {"target": target.as_json(), "spans": spans, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return b"%s %d\n%s\n%s" % (_MAGIC, VERSION, json.dumps(header, separators=(",", ":")).encode(), data)


def decode_file(raw: bytes) -> Request:
    """A spool file's content; :class:`Unreadable` when it is not a valid one of this version."""
    first, sep, rest = raw.partition(b"\n")
    if not sep or not first.startswith(_MAGIC + b" "):
        raise Unreadable("not a spool file")
    if first != b"%s %d" % (_MAGIC, VERSION):
        raise Unreadable(f"written by another version ({first.decode(errors='replace')})")
    line, sep, data = rest.partition(b"\n")
    try:
        header = json.loads(line)
        target = Target.from_json(header["target"])
        spans, size, digest = int(header["spans"]), int(header["size"]), str(header["sha256"])
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise Unreadable(f"bad header: {error}") from None
    if not sep or len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise Unreadable("truncated or altered content")
    return Request(target, data, spans)


class _DiskClaim:
    def __init__(self, spool: DiskSpool, entry: Entry, fd: int) -> None:
        self.entry, self._spool, self._fd = entry, spool, fd

    def read(self) -> Request:
        with os.fdopen(os.dup(self._fd), "rb") as file:
            file.seek(0)
            raw = file.read()
        return decode_file(raw)

    def done(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._spool.path / self.entry.name)  # still holding the lock: no one else sends it
        self.release()

    def quarantine(self) -> None:
        with contextlib.suppress(OSError):
            os.replace(self._spool.path / self.entry.name, self._spool.path / (self.entry.name + _CORRUPT))
        self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the flock
            self._fd = -1


class DiskSpool(Spool):
    """A directory of spool files shared by every process configured with it."""

    def __init__(self, path: Path, max_bytes: int, max_age_s: float) -> None:
        super().__init__(max_bytes, max_age_s)
        self.path = path
        self.location = str(path)
        self._put_lock = threading.Lock()
        self._warned: set[str] = set()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def put(self, target: Target, data: bytes, spans: int) -> str | None:
        raw = encode_file(target, data, spans)
        if len(raw) > self.max_bytes:
            self._dropped(spans, self._full_reason())
            return None
        name = f"{time.time_ns():020d}-{target.key}-{spans}-{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
        with self._put_lock:
            self._make_room(len(raw))
            tmp = self.path / f".{name}.tmp"
            try:
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                    file.write(raw)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, self.path / name)
            except OSError as error:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                self._dropped(spans, f"could not be written to the spool ({error.strerror or error})")
                return None
        return name

    def _scan(self) -> tuple[list[Entry], int]:
        """This version's entries (oldest first, sizes filled in) and the bytes of all spool files."""
        entries: list[Entry] = []
        total = 0
        now = time.time()
        try:
            listing = list(os.scandir(self.path))
        except OSError:
            return [], 0
        for item in listing:
            name = item.name
            try:
                stat = item.stat()
            except OSError:
                continue
            if name.startswith(".") and name.endswith(".tmp"):
                if now - stat.st_mtime > _STALE_TMP_S:
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
                continue
            if name.endswith(_CORRUPT):
                if now - stat.st_mtime > self.max_age_s:
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
                continue
            if not name.endswith(".otlp"):
                continue
            total += stat.st_size
            entry = parse_name(name)
            if entry is None:
                self._warn_once(name, "written by another version of agentops-otel (or not a spool file); left as is")
                continue
            entry.size = stat.st_size
            entries.append(entry)
        entries.sort(key=lambda e: e.name)
        return entries, total

    def _make_room(self, size: int) -> None:
        entries, total = self._scan()
        for entry in entries:
            if total + size <= self.max_bytes:
                return
            if self._remove_unclaimed(entry):
                total -= entry.size
                self._dropped(entry.spans, self._full_reason())

    def _remove_unclaimed(self, entry: Entry) -> bool:
        claim = self.claim(entry)
        if claim is None:
            return False  # being sent by someone: not ours to drop
        claim.done()
        return True

    def entries(self) -> list[Entry]:
        entries, _ = self._scan()
        kept = []
        for entry in entries:
            if self._over_age(entry.created_ns) and self._remove_unclaimed(entry):
                self._dropped(entry.spans, self._age_reason())
            else:
                kept.append(entry)
        return kept

    def claim(self, entry: Entry) -> _DiskClaim | None:
        assert fcntl is not None
        path = self.path / entry.name
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise FileNotFoundError(path)
        except OSError:  # held by another sender, or delivered and removed since we opened it
            os.close(fd)
            return None
        return _DiskClaim(self, entry, fd)

    def discard(self, name: str) -> None:
        entry = parse_name(name)
        if entry is not None:
            self._remove_unclaimed(entry)

    def quarantine(self, claim: _DiskClaim, reason: str) -> None:
        self._warn_once(claim.entry.name, f"{reason}; moved aside as {claim.entry.name}{_CORRUPT}")
        claim.quarantine()

    def _warn_once(self, name: str, why: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning("agentops-otel: skipping spool file %s in %s: %s", name, self.path, why)


def default_spool_dir() -> str:
    """The user's cache directory (``$XDG_CACHE_HOME/agentops-otel/spool`` on Linux)."""
    import platformdirs

    return str(Path(platformdirs.user_cache_dir("agentops-otel", appauthor=False)) / "spool")


def open_spool(location: str, max_bytes: int, max_age_s: float) -> Spool:
    """The spool at ``location`` (a directory, or :data:`MEMORY`); memory with a warning when the
    directory cannot be used (or the platform has no ``flock``)."""
    if location != MEMORY:
        if fcntl is None:
            logger.warning("agentops-otel: no file locking on this platform; keeping the spool in memory only")
        else:
            try:
                return DiskSpool(Path(location).expanduser(), max_bytes, max_age_s)
            except OSError as error:
                logger.warning(
                    "agentops-otel: cannot use the spool directory %s (%s); keeping the spool in memory only",
                    location,
                    error,
                )
    return MemorySpool(max_bytes, max_age_s)


def summarise(spool: Spool) -> dict[str, object]:
    """Entries, spans and bytes in the spool, per target (URLs without credentials), and the oldest."""
    targets: dict[str, dict[str, object]] = {}
    entries = spool.entries()
    for entry in entries:
        row = targets.setdefault(entry.target_key, {"files": 0, "spans": 0, "bytes": 0})
        row["files"] = int(row["files"]) + 1  # type: ignore[call-overload]
        row["spans"] = int(row["spans"]) + entry.spans  # type: ignore[call-overload]
        row["bytes"] = int(row["bytes"]) + entry.size  # type: ignore[call-overload]
    for key, row in targets.items():
        claim = next((spool.claim(e) for e in entries if e.target_key == key), None)
        if claim is not None:
            try:
                target = claim.read().target
                row["url"], row["protocol"] = target.describe(), target.protocol
            except Unreadable:
                pass
            finally:
                claim.release()
    return {
        "location": spool.location,
        "files": len(entries),
        "spans": sum(e.spans for e in entries),
        "bytes": sum(e.size for e in entries),
        "oldest_ns": entries[0].created_ns if entries else None,
        "targets": targets,
    }
