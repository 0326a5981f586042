"""The span of one event: an object that owns its start, stop and failure.

Modelled on opentelemetry-util-genai's handlers: ``EventSpan(...).start()`` opens the span,
then exactly one of ``stop()`` or ``fail()`` ends it. Decorators and ``record()`` both use it.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode, Tracer

from agentops_otel import semconv as sc
from agentops_otel.events import AnyEvent, ErrorEvent, Event, iso_now, text_value, to_ns

_UNSET: Any = object()


class EventSpan:
    __slots__ = ("_capture", "_parent", "_tracer", "context", "event", "span")

    def __init__(self, tracer: Tracer, event: AnyEvent, parent: Context | None, capture_content: bool) -> None:
        self._tracer = tracer
        self._parent = parent
        self._capture = capture_content
        self.event = event
        self.span: trace.Span = trace.INVALID_SPAN
        self.context: Context | None = None

    def start(self, start_time: int | None = None) -> EventSpan:
        event = self.event
        self.span = self._tracer.start_span(
            event.span_name(),
            context=self._parent,
            kind=event.otel_kind(),
            attributes=event.attributes(self._capture),
            start_time=start_time,
        )
        self.context = trace.set_span_in_context(self.span, self._parent)
        return self

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)

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


def record_event(tracer: Tracer, event: AnyEvent, parent: Context | None, capture_content: bool) -> None:
    """Emit a finished event as a span whose start and end are the event's timestamps."""
    if isinstance(event, Event) and event.end_timestamp is None:
        event.end_timestamp = iso_now()
    recording = EventSpan(tracer, event, parent, capture_content).start(to_ns(event.init_timestamp))
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
