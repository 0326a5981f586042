"""Span processing: session bookkeeping on the TracerProvider, and export pipelines.

One :class:`SessionSpanProcessor` is added to the TracerProvider (ours, or the application's).
For every span of a session's trace it stamps the session id at start and, at end, updates the
session's analytics and hands the span to that session's export pipeline. Spans of other traces
(the application's own) are left alone. Sessions whose configurations export to the same place
share one pipeline: a BatchSpanProcessor with a queue sized for bursts, exporting through a
:class:`~agentops_otel.delivery.SpoolingExporter` (what the collector cannot take now waits in the
spool). Every synchronous wait (flush, shutdown) is bounded, because OpenTelemetry's own flush
ignores its timeout; what a flush could not deliver in time is left in the spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from agentops_otel import semconv as sc
from agentops_otel.config import Configuration
from agentops_otel.delivery import Delivery, SpoolingExporter, Transport, target_of
from agentops_otel.meaning import span_attributes
from agentops_otel.recording import session_attributes

if TYPE_CHECKING:
    from agentops_otel.session import Session

logger = logging.getLogger("agentops_otel")


class _HideHeaderEntries(logging.Filter):
    """OpenTelemetry's exporters parse OTEL_EXPORTER_OTLP_*HEADERS again themselves and log a malformed
    entry in full, API key included: its record is replaced by one that says what is wrong, not what."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "header" in str(record.msg).lower():
            record.msg = (
                "Header format invalid in OTEL_EXPORTER_OTLP_HEADERS or OTEL_EXPORTER_OTLP_TRACES_HEADERS: "
                "expected name=value entries (the entry is not shown, it may hold a secret)"
            )
            record.args = ()
        return True


logging.getLogger("opentelemetry.util.re").addFilter(_HideHeaderEntries())


def run_bounded(fn: Callable[[], object], timeout_s: float, what: str) -> bool:
    """Run ``fn`` in a daemon thread and wait at most ``timeout_s``; True if it finished in time."""
    done = threading.Event()

    def target() -> None:
        try:
            fn()
        except Exception:
            logger.exception("agentops-otel: %s failed", what)
        finally:
            done.set()

    threading.Thread(target=target, name=f"agentops-{what}", daemon=True).start()
    finished = done.wait(max(timeout_s, 0.0))
    if not finished:
        _warn_late(what, timeout_s)
    return finished


def _warn_late(what: str, timeout_s: float) -> None:
    logger.warning("agentops-otel: %s did not finish within %.1f s; continuing without waiting", what, timeout_s)


def make_exporter(config: Configuration, delivery: Delivery) -> SpoolingExporter:
    """OTLP exporter for ``config`` (HTTP/protobuf, or gRPC on request; API key in a header) that
    keeps what it cannot deliver in ``delivery``'s spool until the collector takes it."""
    return SpoolingExporter(target_of(config), delivery, transport=Transport.of(config))


class BatchHook(SpanExporter):
    """Runs ``before_export`` on each batch in the pipeline's worker thread, then exports it."""

    def __init__(self, exporter: SpanExporter, before_export: Callable[[Sequence[ReadableSpan]], None]) -> None:
        self.exporter = exporter
        self._before_export = before_export

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._before_export(spans)
        except Exception:
            logger.exception("agentops-otel: session bookkeeping of an export batch failed")
        return self.exporter.export(spans)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class Pipelines:
    """Export pipelines by :attr:`Configuration.export_key`; an injected exporter replaces them all.

    ``before_export`` sees every batch in the worker thread before it is exported. ``spool_config``
    (init()'s configuration) places the process's spool, whose delivery starts at once: it also
    sends what earlier processes left there.
    """

    def __init__(
        self,
        exporter: SpanExporter | None = None,
        before_export: Callable[[Sequence[ReadableSpan]], None] | None = None,
        spool_config: Configuration | None = None,
    ) -> None:
        self._exporter = exporter
        self.before_export = before_export
        self._by_key: dict[tuple[object, ...], BatchSpanProcessor] = {}
        self._targets: dict[BatchSpanProcessor, str] = {}  # where each pipeline sends, for warnings
        self._spooling: dict[BatchSpanProcessor, SpoolingExporter] = {}
        self._spool_config = spool_config
        self._delivery: Delivery | None = None
        if exporter is None and spool_config is not None:
            self._delivery = Delivery.open(spool_config).start()
        self._lock = threading.Lock()
        # True after a flush ran out of time: the backend is down or too slow; the exit flush skips it.
        self.last_flush_timed_out = False

    @property
    def injected(self) -> SpanExporter | None:
        return self._exporter

    def for_config(self, config: Configuration) -> BatchSpanProcessor:
        key = ("injected",) if self._exporter is not None else config.export_key
        with self._lock:
            pipeline = self._by_key.get(key)
            if pipeline is None:
                spooling = None
                if self._exporter is None:
                    spooling = make_exporter(config, self._delivery_for(config))
                exporter: SpanExporter = spooling or self._exporter  # type: ignore[assignment]
                if self.before_export is not None:
                    exporter = BatchHook(exporter, self.before_export)
                pipeline = BatchSpanProcessor(
                    exporter,
                    max_queue_size=config.max_queue_size,
                    schedule_delay_millis=config.export_interval,
                    max_export_batch_size=min(config.max_export_batch_size, config.max_queue_size),
                )
                self._by_key[key] = pipeline
                if spooling is not None:
                    self._spooling[pipeline] = spooling
                injected = self._exporter is not None
                self._targets[pipeline] = "an injected exporter" if injected else config.traces_endpoint
            return pipeline

    def all(self) -> list[BatchSpanProcessor]:
        with self._lock:
            return list(self._by_key.values())

    def _delivery_for(self, config: Configuration) -> Delivery:
        if self._delivery is None:
            self._delivery = Delivery.open(self._spool_config or config).start()
        return self._delivery

    def flush(self, pipelines: list[BatchSpanProcessor], timeout_s: float, deliver: bool = True) -> bool:
        """Export what the pipelines hold and wait (at most ``timeout_s``) until it is delivered or
        spooled; what is still on its way then waits in the spool. ``deliver=False`` only spools."""
        targets = ", ".join(sorted({self._targets.get(p, "?") for p in pipelines}))
        deadline = time.monotonic() + timeout_s
        with self._lock:
            spooling = [self._spooling[p] for p in pipelines if p in self._spooling]

        late: list[SpoolingExporter] = []  # still sending at the deadline

        def flush() -> None:
            for pipeline in pipelines:
                pipeline.force_flush()  # hands the queued spans to the exporters: local work
            for exporter in spooling:
                if deliver and exporter.wait_sent(deadline - time.monotonic()):
                    continue
                if deliver:
                    late.append(exporter)
                exporter.spill()

        what = f"flush to {targets}"
        flushed = run_bounded(flush, timeout_s, what)
        if not flushed:
            for exporter in spooling:
                exporter.spill()
        elif late:  # the wait for delivery ran out inside the bound: as much a timeout
            _warn_late(what, timeout_s)
            flushed = False
        self.last_flush_timed_out = not flushed
        return flushed

    def drain_spool(self, timeout_s: float) -> None:
        """At exit: give the spool's delivery (other processes' leftovers too) up to ``timeout_s``,
        then report what was dropped or is left."""
        if self._delivery is not None:
            self._delivery.wait_idle(timeout_s)
            self._delivery.report()

    def shutdown(self, timeout_s: float) -> bool:
        pipelines = self.all()
        # BatchSpanProcessor.shutdown() may wait 30 s on a dead collector; our wait is bounded.
        done = run_bounded(lambda: [p.shutdown() for p in pipelines], timeout_s, "shutdown")
        with self._lock:
            spooling = list(self._spooling.values())
        for exporter in spooling:
            exporter.spill()  # its shutdown did, unless the bound cut it short
        if self._delivery is not None:
            self._delivery.close()
        return done


class SessionSpanProcessor(SpanProcessor):
    """Routes each ended span of a session's trace to that session's analytics and pipeline.

    The sessions' LLM spans are priced in the pipelines' worker threads, as each batch is exported.
    """

    def __init__(self, lookup: Callable[[int], Session | None], pipelines: Pipelines, wait_s: float) -> None:
        self._lookup = lookup
        self._pipelines = pipelines
        self._wait_s = wait_s
        self.enabled = True
        pipelines.before_export = self.price_batch

    def price_batch(self, spans: Sequence[ReadableSpan]) -> None:
        for trace_id in {span.context.trace_id for span in spans}:
            session = self._lookup(trace_id)
            if session is not None:
                session.stats.price_pending()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        # Our own spans carry the session id from the start; stamp other instrumentations' spans.
        session = self._lookup(span.context.trace_id) if self.enabled else None
        if session is not None and sc.SESSION_ID not in span_attributes(span):
            span.set_attributes(session_attributes(session.session_id))

    def on_end(self, span: ReadableSpan) -> None:
        if not self.enabled:
            return
        session = self._lookup(span.context.trace_id)
        if session is None:
            return
        if span.context.span_id != session.root_span_id:
            session.stats.add(span)
        session.pipeline.on_end(span)

    def shutdown(self) -> None:
        # Called by the application's TracerProvider at its shutdown (e.g. its own atexit hook).
        self._pipelines.shutdown(self._wait_s)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._pipelines.flush(self._pipelines.all(), timeout_millis / 1000)
