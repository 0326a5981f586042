"""Forward enriched spans to other OTLP/HTTP backends without ever slowing ingestion.

Each target has a bounded queue and one sender thread. ``submit`` never blocks: when a queue is
full the request is dropped, counted and logged (at most once every few seconds). The sender
merges queued requests into one export, and retries retryable failures (connection errors, 429,
502, 503, 504) with exponential backoff before giving up, counting the spans it dropped.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import queue
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 502, 503, 504})
_STOP = object()


@dataclass
class ForwardStats:
    sent_spans: int = 0
    dropped_spans: int = 0
    failed_requests: int = 0


def traces_url(url: str) -> str:
    """``http://host:4318`` -> ``http://host:4318/v1/traces`` (a full path is kept as given)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"forward target must be an http(s) URL, got {url!r}")
    if parts.path in ("", "/"):
        return urllib.parse.urlunsplit(parts._replace(path="/v1/traces"))
    return url


class ForwardTarget:
    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        max_queue: int = 1024,
        max_batch_spans: int = 8192,
        retries: int = 5,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = traces_url(url)
        self.stats = ForwardStats()
        self._parts = urllib.parse.urlsplit(self.url)
        self._headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **(headers or {})}
        self._queue: queue.Queue = queue.Queue(max_queue)
        self._max_batch_spans = max_batch_spans
        self._retries = retries
        self._timeout = timeout_s
        self._last_warning = 0.0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"agentops-forward {self.url}", daemon=True)
        self._thread.start()

    def submit(self, request: ExportTraceServiceRequest, spans: int) -> None:
        try:
            self._queue.put_nowait((request, spans))
        except queue.Full:
            self._dropped(spans, "queue full")

    def _dropped(self, spans: int, why: str) -> None:
        with self._lock:
            self.stats.dropped_spans += spans
            total = self.stats.dropped_spans
        now = time.monotonic()
        if now - self._last_warning > 5:
            self._last_warning = now
            logger.warning(
                "agentops-otel collector: dropped %d spans forwarding to %s (%s); %d dropped so far",
                spans,
                self.url,
                why,
                total,
            )

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            merged = ExportTraceServiceRequest()
            merged.resource_spans.extend(item[0].resource_spans)
            spans = item[1]
            while spans < self._max_batch_spans:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._send(merged, spans)
                    return
                merged.resource_spans.extend(more[0].resource_spans)
                spans += more[1]
            self._send(merged, spans)

    def _send(self, request: ExportTraceServiceRequest, spans: int) -> None:
        body = gzip.compress(request.SerializeToString(), compresslevel=1)
        delay = 0.5
        problem = ""
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            try:
                status = self._post(body)
            except OSError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= status < 300:
                with self._lock:
                    self.stats.sent_spans += spans
                return
            problem = f"HTTP {status}"
            if status not in RETRYABLE:
                break
        with self._lock:
            self.stats.failed_requests += 1
        self._dropped(spans, problem)

    def _post(self, body: bytes) -> int:
        parts = self._parts
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=self._timeout)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=body, headers=self._headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)


class Forwarder:
    """All forward targets; ``submit`` hands the same enriched request to each."""

    def __init__(self, urls: list[str], headers: Mapping[str, str] | None = None, **options) -> None:
        self.targets = [ForwardTarget(url, headers, **options) for url in urls]

    def submit(self, request: ExportTraceServiceRequest, spans: int) -> None:
        for target in self.targets:
            target.submit(request, spans)

    def stats(self) -> list[dict]:
        return [{"url": t.url, **t.stats.__dict__} for t in self.targets]

    def close(self) -> None:
        for target in self.targets:
            target.close()
