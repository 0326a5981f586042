"""Forward enriched spans to other OTLP/HTTP backends without ever slowing ingestion.

Each target has a queue bounded in requests and in bytes, and one sender thread. ``submit`` never
blocks: when a queue is full the request is dropped, counted and logged (at most once every few
seconds). The sender merges queued requests into one export, and retries retryable failures
(connection errors, 429, 502, 503, 504) with exponential backoff before giving up, counting the
spans it dropped. At shutdown what is queued gets a few seconds to go out; whatever is left then
is dropped, counted and logged. Spans are counted per project (an export merges several), and a
target is only ever shown without the credentials or query its URL may hold.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import math
import queue
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 502, 503, 504})
DEFAULT_MAX_QUEUE = 1024
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
_STOP = object()


Spans = dict[str, int]  # project id -> spans


@dataclass
class ForwardStats:
    sent_spans: int = 0
    dropped_spans: int = 0
    failed_requests: int = 0  # exports given up on (retries spent, or shutdown) that held the project's spans


def public_url(url: str) -> str:
    """``url`` without user info and query, which may hold credentials: what logs and the API show."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def traces_url(url: str) -> str:
    """``http://host:4318`` -> ``http://host:4318/v1/traces`` (a full path is kept as given)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"forward target must be an http(s) URL, got {public_url(url)!r}")
    if parts.path in ("", "/"):
        return urllib.parse.urlunsplit(parts._replace(path="/v1/traces"))
    return url


class ForwardTarget:
    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        max_batch_spans: int = 8192,
        retries: int = 5,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = traces_url(url)
        self.public_url = public_url(self.url)
        self.stats = ForwardStats()  # every project's
        self._by_project: dict[str, ForwardStats] = {}
        self._parts = urllib.parse.urlsplit(self.url)
        self._headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **(headers or {})}
        self._queue: queue.Queue = queue.Queue(max_queue)
        self._max_queue_bytes = max_queue_bytes
        self._queued_bytes = 0
        self._max_batch_spans = max_batch_spans
        self._retries = retries
        self._timeout = timeout_s
        self._last_warning = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._deadline = math.inf  # set by close(): queued spans not sent by then are dropped
        self._dropped_at_shutdown = 0
        self._in_flight: Spans = {}  # spans of the export being sent; whoever counts them empties it
        self._conn: http.client.HTTPConnection | None = None  # the export's connection, for close() to cut
        self._thread = threading.Thread(target=self._run, name=f"agentops-forward {self.public_url}", daemon=True)
        self._thread.start()

    def project_stats(self, project_id: str) -> ForwardStats:
        with self._lock:
            return ForwardStats(**self._by_project.get(project_id, ForwardStats()).__dict__)

    def submit(self, body: bytes, spans: int, project_id: str) -> None:
        """Queue ``body`` (a serialized ExportTraceServiceRequest) holding ``spans`` of the project's spans."""
        size = len(body)
        with self._lock:
            # a request larger than the whole bound still goes when nothing else waits
            fits = not self._queued_bytes or self._queued_bytes + size <= self._max_queue_bytes
            if fits:
                self._queued_bytes += size
        if fits:
            try:
                self._queue.put_nowait((body, project_id, spans, size))
                return
            except queue.Full:
                with self._lock:
                    self._queued_bytes -= size
        self._dropped({project_id: spans}, "queue full")

    def _count(self, spans: Spans, field: str, failed: bool = False) -> None:
        """Add ``spans`` to ``field`` of the totals and of each project's stats (the lock held)."""
        for stats, count in ((self.stats, sum(spans.values())), *((self._project(p), n) for p, n in spans.items())):
            setattr(stats, field, getattr(stats, field) + count)
            stats.failed_requests += failed

    def _project(self, project_id: str) -> ForwardStats:
        stats = self._by_project.get(project_id)
        if stats is None:
            stats = self._by_project[project_id] = ForwardStats()
        return stats

    def _dropped(self, spans: Spans, why: str, failed: bool = False) -> None:
        count = sum(spans.values())
        with self._lock:
            self._count(spans, "dropped_spans", failed)
            total = self.stats.dropped_spans
            if self._closing.is_set():
                self._dropped_at_shutdown += count
        now = time.monotonic()
        if now - self._last_warning > 5:
            self._last_warning = now
            logger.warning(
                "agentops-otel collector: dropped %d spans forwarding to %s (%s); %d dropped so far",
                count,
                self.public_url,
                why,
                total,
            )

    def _next(self) -> object:
        """The next queued item; _STOP once closing with nothing left (close() may find the queue full)."""
        if not self._closing.is_set():
            return self._queue.get()
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return _STOP

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._next()
            if item is _STOP:
                return
            bodies: list[bytes] = []
            spans: Spans = {}
            total = 0
            while True:
                body, project_id, count, size = item  # type: ignore[misc]
                with self._lock:
                    self._queued_bytes -= size
                bodies.append(body)
                spans[project_id] = spans.get(project_id, 0) + count
                total += count
                if total >= self._max_batch_spans:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
            with self._lock:
                self._in_flight = spans
            # serialized messages one after the other parse as one: their resource_spans in order
            problem = self._send(b"".join(bodies))
            with self._lock:
                ours, self._in_flight = bool(self._in_flight), {}  # empty: close() gave up on them and counted them
                if ours and problem is None:
                    self._count(spans, "sent_spans")
            if ours and problem is not None:
                self._dropped(spans, problem, failed=True)

    def _send(self, request: bytes) -> str | None:
        """Export ``request`` (serialized) with retries; None once delivered, else why it was not."""
        body = gzip.compress(request, compresslevel=1)
        delay = 0.5
        problem = ""
        for attempt in range(self._retries + 1):
            if attempt:
                if self._closing.wait(delay) and time.monotonic() >= self._deadline:  # close() cuts the wait
                    break
                delay = min(delay * 2, 10.0)
            timeout = min(self._timeout, self._deadline - time.monotonic())
            if timeout <= 0:
                problem = "collector shutting down"
                break
            try:
                status = self._post(body, max(timeout, 0.05))
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= status < 300:
                return None
            problem = f"HTTP {status}"
            if status not in RETRYABLE:
                break
        return problem or "collector shutting down"

    def _post(self, body: bytes, timeout: float) -> int:
        parts = self._parts
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=timeout)
        with self._lock:
            self._conn = conn
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=body, headers=self._headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            with self._lock:
                self._conn = None
            conn.close()

    def _cut_in_flight(self) -> None:
        """Make a send stuck on an unresponsive backend fail now."""
        with self._lock:
            conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued within ``timeout``; what is left then is dropped, counted and logged."""
        self.start_closing(time.monotonic() + timeout)
        self.finish_closing()

    def start_closing(self, deadline: float) -> None:
        self._deadline = deadline
        self._closing.set()
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass  # the sender stops once it has emptied the queue

    def finish_closing(self) -> None:
        self._thread.join(max(0.0, self._deadline - time.monotonic()))
        if self._thread.is_alive():
            self._cut_in_flight()
            self._thread.join(1.0)
        with self._lock:
            left, self._in_flight = self._in_flight, {}
        while True:  # only if the sender is stuck: what it never took
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                _, project_id, count, _ = item
                left[project_id] = left.get(project_id, 0) + count
        if left:
            self._dropped(left, "collector shutting down", failed=True)
        with self._lock:
            at_shutdown, total = self._dropped_at_shutdown, self.stats.dropped_spans
        if total:
            logger.warning(
                "agentops-otel collector: forwarding to %s dropped %d spans in all, %d of them at shutdown",
                self.public_url,
                total,
                at_shutdown,
            )


class Forwarder:
    """All forward targets; ``submit`` hands the same enriched request to each."""

    def __init__(self, urls: list[str], headers: Mapping[str, str] | None = None, **options) -> None:
        self.targets = [ForwardTarget(url, headers, **options) for url in urls]

    def submit(self, body: bytes, spans: int, project_id: str) -> None:
        for target in self.targets:
            target.submit(body, spans, project_id)

    def stats(self, project_id: str) -> list[dict]:
        """Each target (its public URL) and what happened to the project's spans there."""
        return [{"url": t.public_url, **t.project_stats(project_id).__dict__} for t in self.targets]

    def close(self, timeout: float = 5.0) -> None:
        """Give every target the same ``timeout`` to send what is queued (not one after the other)."""
        deadline = time.monotonic() + timeout
        for target in self.targets:
            target.start_closing(deadline)
        for target in self.targets:
            target.finish_closing()
