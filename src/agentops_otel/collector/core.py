"""What both OTLP receivers (HTTP and gRPC) share: auth, prepare, store, forward, counters."""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentops_otel.collector.admission import Admission, Busy, Ticket
from agentops_otel.collector.auth import (
    PARENT_KEY_HEADER,
    KeyRing,
    ParentHeaderLog,
    RefusedKeyLog,
    key_from_headers,
    key_hint,
)
from agentops_otel.collector.forward import Forwarder
from agentops_otel.collector.ingest import PreparedBatch
from agentops_otel.collector.store.base import Store, WriteResult
from agentops_otel.collector.workers import IngestWorkers

__all__ = ["Busy", "Collector", "IngestCounters"]


@dataclass
class IngestCounters:
    requests: int = 0
    spans_stored: int = 0  # stored for the first time
    spans_duplicate: int = 0  # re-sent (same trace and span id as one stored): acknowledged, stored once
    spans_rejected: int = 0
    requests_refused: int = 0
    log_records_stored: int = 0  # attached to their span (signals.py)
    log_records_dropped: int = 0  # without a trace and span id
    metric_points_dropped: int = 0  # accepted and counted, not kept


class Collector:
    def __init__(
        self,
        store: Store,
        keyring: KeyRing,
        forwarder: Forwarder | None = None,
        workers: IngestWorkers | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.forwarder = forwarder
        # prepare OTLP request bodies in worker processes (default: one thread of this process)
        self.workers = workers if workers is not None else IngestWorkers(0)
        self.admission = admission or Admission()
        self._counters: dict[str, IngestCounters] = {}  # per project: each key sees only its own
        self._lock = threading.Lock()
        self.refused_keys = RefusedKeyLog()
        self.ungranted_parents = ParentHeaderLog()
        # With no key registered (loopback only) every key is its own project: the hint of each
        # project's key, so a dashboard opened with a mistyped key can name the keys that have spans.
        self._key_hints: OrderedDict[str, str] = OrderedDict()

    MAX_KEY_HINTS = 256

    def ingest_project(self, headers: Mapping[str, str]) -> str | None:
        """The project whose spans a request sends (None: answer 401). A parent key header the keys
        entries do not grant is said once in a while (it grants nothing either way)."""
        key = key_from_headers(headers)
        project_id = self.project_for(key)
        parent_key = (headers.get(PARENT_KEY_HEADER) or "").strip()
        if project_id is not None and key and parent_key and not self.keyring.parent_granted(key, parent_key):
            self.ungranted_parents.ungranted(project_id, key, parent_key)
        return project_id

    def scope_for(self, key: str | None) -> tuple[str, ...]:
        """The projects a key may read (store.base.ProjectScope); empty (answer 401) is logged like a refusal."""
        if self.keyring.read_only(key):
            return self.keyring.scope_for(key)
        return () if self.project_for(key) is None else self.keyring.scope_for(key)

    def project_for(self, key: str | None) -> str | None:
        """The project of an API key; None (the caller answers 401) is logged, rate-limited per key."""
        project_id = self.keyring.project_for(key)
        if project_id is None:
            self.refused_keys.refused(key, read_only=self.keyring.read_only(key))
        elif self.keyring.open and key and project_id not in self._key_hints:
            with self._lock:
                self._key_hints[project_id] = key_hint(key)
                while len(self._key_hints) > self.MAX_KEY_HINTS:
                    self._key_hints.popitem(last=False)
        return project_id

    def admit(self, project_id: str, size: int) -> Ticket:
        """A place for a request whose body holds ``size`` bytes; raises (and counts) :class:`Busy`."""
        try:
            return self.admission.enter(size)
        except Busy:
            self._refused(project_id)
            raise

    def hold(self, project_id: str, ticket: Ticket, size: int) -> None:
        """The admitted request now holds ``size`` bytes; raises (and counts) :class:`Busy` past the limit."""
        try:
            self.admission.hold(ticket, size)
        except Busy:
            self._refused(project_id)
            raise

    def _refused(self, project_id: str) -> None:
        with self._lock:
            self._counters_of(project_id).requests_refused += 1

    def count(self, project_id: str, **added: int) -> None:
        """Add to the project's counters (``log_records_stored=3``, ...)."""
        with self._lock:
            counters = self._counters_of(project_id)
            for name, value in added.items():
                setattr(counters, name, getattr(counters, name) + value)

    def store_batch(self, batch: PreparedBatch) -> Future[WriteResult]:
        """Queue a prepared batch; the future resolves when it is committed. Raises :class:`Busy`."""
        if not batch.spans:
            done: Future[WriteResult] = Future()
            done.set_result(WriteResult(0, 0))
            return done
        try:
            return self.store.write(batch)
        except queue.Full:
            self._refused(batch.project_id)
            raise Busy("the collector is busy storing earlier requests; retry later") from None

    def committed(
        self, request: ExportTraceServiceRequest | bytes | None, batch: PreparedBatch, result: WriteResult
    ) -> ExportTraceServiceResponse:
        """After the commit: count, forward the enriched ``request`` (a message, or serialized as an
        ingest worker returns it), and build the OTLP response."""
        with self._lock:
            counters = self._counters_of(batch.project_id)
            counters.requests += 1
            counters.spans_stored += result.new
            counters.spans_duplicate += result.accepted - result.new
            counters.spans_rejected += batch.rejected
        if self.forwarder is not None and batch.spans and request is not None:
            body = request if isinstance(request, bytes) else request.SerializeToString()
            self.forwarder.submit(body, len(batch.spans), batch.project_id)
        response = ExportTraceServiceResponse()
        if batch.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=batch.rejected, error_message=batch.error_message)
            )
        return response

    def _counters_of(self, project_id: str) -> IngestCounters:
        counters = self._counters.get(project_id)
        if counters is None:
            counters = self._counters[project_id] = IngestCounters()
        return counters

    def status(self, project_id: str | None, projects: tuple[str, ...] = ()) -> dict:
        """The key's project's ingest counters since start (none for a read-only parent key), what became
        of its spans at each forward target, and the projects the key reads."""
        with self._lock:
            ingest = dict(self._counters.get(project_id, IngestCounters()).__dict__)
        forward = self.forwarder.stats(project_id) if self.forwarder is not None and project_id else []
        status = {"project_id": project_id, "projects": list(projects or (project_id,)), "ingest": ingest}
        status["forward"] = forward
        status["keys_registered"] = not self.keyring.open
        status["projects_with_spans"] = self._projects_with_spans() if self.keyring.open else []
        return status

    def _projects_with_spans(self) -> list[dict]:
        """Every key's project that stored spans since start, by its key's hint (keyless loopback mode only)."""
        with self._lock:
            stored = {project: counters.spans_stored for project, counters in self._counters.items()}
            return [
                {"key_hint": hint, "spans_stored": stored[project]}
                for project, hint in self._key_hints.items()
                if stored.get(project, 0) > 0
            ]
