"""The span of one event: an object that owns its start, stop and failure.

Modelled on opentelemetry-util-genai's handlers: ``EventSpan(...).start()`` opens the span,
then exactly one of ``stop()`` or ``fail()`` ends it. Decorators and ``record()`` both use it.
Every event span carries its session's id from the start (one attribute dict, set once: the
cheapest way through the OpenTelemetry SDK).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from agentops_otel import semconv as sc
from agentops_otel.events import AnyEvent, ErrorEvent, Event, iso_now, text_value, to_ns

_UNSET: Any = object()


def session_attributes(session_id: str) -> dict[str, str]:
    return {sc.SESSION_ID: session_id, sc.SESSION_ID_GENERIC: session_id}


class EventSpan:
    __slots__ = ("_attributes", "_kind", "_name", "_parent", "_tracer", "span")

    def __init__(
        self, tracer: Tracer, name: str, kind: SpanKind, attributes: dict[str, Any], parent: Context | None
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._parent = parent
        self.span: trace.Span = trace.INVALID_SPAN

    def start(self, start_time: int | None = None) -> EventSpan:
        self.span = self._tracer.start_span(
            self._name, context=self._parent, kind=self._kind, attributes=self._attributes, start_time=start_time
        )
        return self

    def context(self) -> Context:
        """A context in which this span is current (for code that runs inside the event)."""
        return trace.set_span_in_context(self.span, self._parent)

    def stop(self, returns: Any = _UNSET, end_time: int | None = None) -> None:
        if returns is not _UNSET and returns is not None:
            self.span.set_attribute(sc.EVENT_RETURNS, text_value(returns))
        self.span.end(end_time)

    def fail(self, exc: BaseException, end_time: int | None = None) -> None:
        """End the span as an error caused by ``exc`` (status ERROR, ``error.type``, exception event)."""
        error_type = type(exc).__qualname__
        self.span.record_exception(exc, escaped=True)
        self.span.set_attribute(sc.ERROR_TYPE, error_type)
        self.span.set_status(Status(StatusCode.ERROR, f"{error_type}: {exc}"))
        self.span.end(end_time)


def record_event(
    tracer: Tracer, event: AnyEvent, parent: Context | None, capture_content: bool, session_id: str
) -> None:
    """Emit a finished event as a span whose start and end are the event's timestamps."""
    if event.end_timestamp is None:
        event.end_timestamp = event.timestamp if isinstance(event, ErrorEvent) else iso_now()
    if isinstance(event, Event):
        event.recorded = True
    attributes = event.attributes(capture_content)
    attributes.update(session_attributes(session_id))
    recording = EventSpan(tracer, event.span_name(), event.otel_kind(), attributes, parent)
    recording.start(to_ns(event.init_timestamp))
    end = to_ns(event.end_timestamp)
    if not isinstance(event, ErrorEvent):
        recording.stop(end_time=end)
        return
    span = recording.span
    if event.exception is not None:
        span.record_exception(event.exception, timestamp=end)
    else:
        exception_attrs = {sc.EXCEPTION_TYPE: event.error_type or "error", sc.EXCEPTION_MESSAGE: event.message()}
        if event.logs:
            exception_attrs[sc.EXCEPTION_STACKTRACE] = event.logs
        span.add_event(sc.EXCEPTION_EVENT, exception_attrs, timestamp=end)
    span.set_status(Status(StatusCode.ERROR, event.message()))
    span.end(end)
