"""One LLM API call as one span: request attributes, response or streamed events, usage, errors.

Each provider module describes its endpoints with an :class:`Endpoint` (what to read from a request
body and from a response) and a :class:`StreamRecorder` (what to keep from streamed events);
:class:`LLMCall` owns the span and ends it exactly once.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._patching import report_bug

Attributes = dict[str, Any]

# A framework step that calls a model (a LangChain chat model run) puts a list under this context key
# while the model runs; each LLM span an instrumentor starts below it is appended, so the step knows
# the call was recorded by the provider's instrumentor and records none of its own.
LLM_CALLS_KEY = otel_context.create_key("agentops-llm-calls")


def field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``: responses are pydantic models, raw responses and request bodies dicts."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def getter(obj: Any) -> Callable[[Any, str, Any], Any]:
    """How to read ``obj`` and its nested fields, chosen once per response: ``getter(r)(r, "id", None)``.

    ``getattr`` for the libraries' model objects, ``dict.get`` for JSON bodies (``with_raw_response``).
    Cheaper than :func:`field` on a hot path: no Python frame per field. A nested ``None`` must be
    checked by the caller (``dict.get`` does not accept it).
    """
    return dict.get if isinstance(obj, dict) else getattr


def put(attrs: Attributes, key: str, value: Any) -> None:
    """Set an attribute only when the value is one OpenTelemetry accepts.

    ``None``, the libraries' ``NotGiven``/``Omit`` sentinels and other odd types are left out.
    """
    if isinstance(value, _SCALARS):
        attrs[key] = value
    elif isinstance(value, (list, tuple)) and value and all(isinstance(item, _SCALARS) for item in value):
        attrs[key] = list(value)


_SCALARS = (str, bool, int, float)


def usage_attributes(
    attrs: Attributes,
    *,
    input_tokens: Any = None,
    output_tokens: Any = None,
    cache_read: Any = None,
    cache_creation: Any = None,
    reasoning: Any = None,
) -> None:
    """The span contract's usage counts; ``input_tokens`` must already include cached tokens.

    Only plain ``int`` counts are kept (``type(x) is int`` also rules out ``bool``).
    """
    if type(input_tokens) is int:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
    if type(output_tokens) is int:
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
    if type(cache_read) is int:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if type(cache_creation) is int:
        attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_creation
    if type(reasoning) is int:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning


def token_count(value: Any) -> int | None:
    """A count handed over as an int or as a whole float (``7.0``: Cohere's, some of LiteLLM's), as an int."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    return None


class StreamRecorder(ABC):
    """Keeps what a span needs from the events of one streamed response."""

    @abstractmethod
    def add(self, event: Any) -> None: ...

    @abstractmethod
    def attributes(self) -> Attributes: ...


class Endpoint(ABC):
    """What an LLM endpoint's request body and response mean in GenAI terms."""

    operation: str

    @abstractmethod
    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes: ...

    @abstractmethod
    def response_attributes(self, response: Any, capture: bool) -> Attributes: ...

    @abstractmethod
    def stream_recorder(self, capture: bool) -> StreamRecorder: ...


class LLMCall:
    """The span of one call, from the request to the end of its response or stream.

    ``client_attributes`` are the attributes every call of the same client shares (span kind,
    provider, server), prepared once by the instrumentor; all request attributes go to
    ``start_span`` in one mapping, all response attributes to one ``set_attributes``.
    """

    __slots__ = ("_ended", "_first_chunk", "_last_ns", "_start", "capture", "endpoint", "recorder", "span")

    def __init__(
        self,
        tracer: Tracer,
        client_attributes: Attributes,
        endpoint: Endpoint,
        body: Mapping[str, Any],
        *,
        capture: bool,
        stream: bool,
        parent: Context | None = None,
    ) -> None:
        attrs: Attributes = {**client_attributes, sc.GEN_AI_OPERATION_NAME: endpoint.operation}
        attrs.update(endpoint.request_attributes(body, capture))
        self.endpoint = endpoint
        self.capture = capture
        self._ended = False
        self._first_chunk = False
        self._last_ns = 0
        self.recorder: StreamRecorder | None = None
        if stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
            self.recorder = endpoint.stream_recorder(capture)
        model = attrs.get(sc.GEN_AI_REQUEST_MODEL)
        name = f"{endpoint.operation} {model}" if model else endpoint.operation
        self.span: Span = tracer.start_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attrs)
        self._start = time.perf_counter()  # after the span's start: the first chunk's time is within the span
        calls = otel_context.get_value(LLM_CALLS_KEY)
        if calls is not None:
            calls.append(self.span)  # type: ignore[attr-defined]

    # --- non-streamed responses -----------------------------------------------------------------
    def complete(self, response: Any) -> None:
        """End with a parsed response (model object or JSON dict)."""
        if self._ended:
            return
        self._ended = True
        span = self.span
        try:
            span.set_attributes(self.endpoint.response_attributes(response, self.capture))
        except Exception as exc:
            report_bug(f"{type(self.endpoint).__name__}.response_attributes", exc)
        try:
            span.end()
        except Exception as exc:
            report_bug("LLMCall.end", exc)

    def fail(self, error: BaseException) -> None:
        """End with the error the call raised (the caller re-raises it unchanged)."""
        if self._ended:
            return
        try:
            span = self.span
            span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        except Exception as exc:
            report_bug("LLMCall.fail", exc)
        self._end()

    def end_without_response(self) -> None:
        """End with the request side only (the response could not be read)."""
        self._end()

    # --- streamed responses ---------------------------------------------------------------------
    def add_event(self, event: Any) -> None:
        if self._ended:
            return
        try:
            if not self._first_chunk:
                self._first_chunk = True
                self.span.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, time.perf_counter() - self._start)
            self._last_ns = time.time_ns()
            self.recorder.add(event)  # type: ignore[union-attr]
        except Exception as exc:
            report_bug(f"{type(self.recorder).__name__}.add", exc)

    def finish_stream(self, error: BaseException | None = None, *, abandoned: bool = False) -> None:
        """End a stream: read to the end, closed, failed, or dropped by the application (``abandoned``)."""
        if self._ended:
            return
        try:
            if self.recorder is not None:
                self.span.set_attributes(self.recorder.attributes())
        except Exception as exc:
            report_bug(f"{type(self.recorder).__name__}.attributes", exc)
        if error is not None:
            self.fail(error)
            return
        # A stream dropped without close() ends when its last event arrived, not when it was collected.
        self._end(self._last_ns if abandoned and self._last_ns else None)

    def _end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.span.end(end_time=end_time)
        except Exception as exc:
            report_bug("LLMCall.end", exc)
