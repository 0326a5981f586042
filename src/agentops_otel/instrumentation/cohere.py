"""Instrumentation of the ``cohere`` library's v2 client (``ClientV2`` / ``AsyncClientV2``, 5.10 and
later): ``chat``, ``chat_stream``, ``embed`` and ``rerank``, each as one LLM span.

Usage is what Cohere bills, ``usage.billed_units`` (``meta.billed_units`` for embed), which the
library hands over as floats: kept as integers. Cohere also reports ``usage.tokens``, the model's own
counts including its prompt template; they are not what is billed and are left out. A rerank bills
search units, not tokens: its span has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _content as content
from agentops_otel.instrumentation._call import Attributes, Endpoint, StreamRecorder, field, put, usage_attributes
from agentops_otel.instrumentation._library import Method, MethodInstrumentor

_PARAMS = {
    "model": sc.GEN_AI_REQUEST_MODEL,
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "p": sc.GEN_AI_REQUEST_TOP_P,
    "k": sc.GEN_AI_REQUEST_TOP_K,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop_sequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
}
OP_RERANK = "rerank"


def _count(value: Any) -> int | None:
    """Cohere's billed counts arrive as floats (``7.0``)."""
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    return value if type(value) is int else None


def _billed(attrs: Attributes, billed: Any) -> None:
    if billed is not None:
        usage_attributes(
            attrs,
            input_tokens=_count(field(billed, "input_tokens")),
            output_tokens=_count(field(billed, "output_tokens")),
        )


def _request(body: Mapping[str, Any]) -> Attributes:
    attrs: Attributes = {}
    for key, name in _PARAMS.items():
        put(attrs, name, body.get(key))
    return attrs


def _parts(message: Any) -> list[content.Part]:
    parts = content.parts_of(field(message, "content"))
    for call in field(message, "tool_calls") or ():
        function = field(call, "function")
        parts.append(content.tool_call(field(call, "id"), field(function, "name"), field(function, "arguments")))
    return parts


def _input(messages: Any) -> list[dict[str, Any]]:
    result = []
    for message in messages or ():
        role = field(message, "role")
        if role == "tool":
            parts = [content.tool_response(field(message, "tool_call_id"), field(message, "content"))]
        else:
            parts = _parts(message)
        result.append(content.message(role, parts))
    return result


def _finish(attrs: Attributes, reason: Any) -> None:
    put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [reason] if isinstance(reason, str) and reason else None)


class _ChatStream(StreamRecorder):
    __slots__ = ("calls", "capture", "finish_reason", "id", "text", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: Any = None
        self.finish_reason: Any = None
        self.usage: Any = None
        self.text: list[str] = []
        self.calls: list[list[Any]] = []  # [id, name, argument pieces]

    def add(self, event: Any) -> None:
        kind = field(event, "type")
        if kind == "message-start":
            self.id = field(event, "id")
        elif kind == "message-end":
            delta = field(event, "delta")
            self.finish_reason = field(delta, "finish_reason")
            self.usage = field(delta, "usage")
        elif self.capture:
            message = field(field(event, "delta"), "message")
            if kind == "content-delta":
                piece = field(field(message, "content"), "text")
                if piece:
                    self.text.append(piece)
            elif kind == "tool-call-start":
                call = field(message, "tool_calls")
                function = field(call, "function")
                self.calls.append([field(call, "id"), field(function, "name"), [field(function, "arguments") or ""]])
            elif kind == "tool-call-delta" and self.calls:
                piece = field(field(field(message, "tool_calls"), "function"), "arguments")
                if piece:
                    self.calls[-1][2].append(piece)

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, self.id)
        _finish(attrs, self.finish_reason)
        _billed(attrs, field(self.usage, "billed_units") if self.usage is not None else None)
        if self.capture:
            parts = [content.text("".join(self.text))] if self.text else []
            parts += [content.tool_call(i, name, "".join(args)) for i, name, args in self.calls]
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(
                [content.message("assistant", parts, self.finish_reason)]
            )
        return attrs


class Chat(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = _request(body)
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_input(body.get("messages")))
            if body.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(body["tools"])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, field(response, "id"))
        reason = field(response, "finish_reason")
        _finish(attrs, reason)
        usage = field(response, "usage")
        _billed(attrs, field(usage, "billed_units") if usage is not None else None)
        if capture:
            message = content.message("assistant", _parts(field(response, "message")), reason)
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _ChatStream(capture)


class _Metered(Endpoint):
    """Embed and rerank: the request's model, the response's id and ``meta.billed_units``."""

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = _request(body)
        put(attrs, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, body.get("output_dimension"))
        types = body.get("embedding_types")
        put(attrs, sc.GEN_AI_REQUEST_ENCODING_FORMATS, list(types) if isinstance(types, (list, tuple)) else None)
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, field(response, "id"))
        meta = field(response, "meta")
        _billed(attrs, field(meta, "billed_units") if meta is not None else None)
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:  # pragma: no cover - never streamed
        raise NotImplementedError(f"{self.operation} is not streamed")


class Embed(_Metered):
    operation = sc.OP_EMBEDDINGS


class Rerank(_Metered):
    operation = OP_RERANK


_CHAT, _EMBED, _RERANK = Chat(), Embed(), Rerank()
_DEFAULT_PORTS = {"https": 443, "http": 80}


class CohereInstrumentor(MethodInstrumentor):
    """``BaseInstrumentor`` for ``cohere``; the ``agentops_cohere`` ``opentelemetry_instrumentor`` entry point."""

    package = "cohere"
    requirement = "cohere >= 5.10"
    provider = sc.PROVIDER_COHERE
    methods = tuple(
        Method("cohere.v2.client", f"{owner}.{name}", endpoint, stream=stream)
        for owner in ("V2Client", "AsyncV2Client")
        for name, endpoint, stream in (
            ("chat", _CHAT, False),
            ("chat_stream", _CHAT, True),
            ("embed", _EMBED, False),
            ("rerank", _RERANK, False),
        )
    )

    _client_cache: tuple[Any, Attributes] = (None, {})

    def _client_attributes(self, instance: Any, body: Mapping[str, Any]) -> Attributes:
        url = instance._raw_client._client_wrapper.get_base_url()
        cached = self._client_cache
        if cached[0] == url:
            return cached[1]
        attrs: Attributes = {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_PROVIDER_NAME: self.provider}
        try:
            parts = urlsplit(url)
            put(attrs, sc.SERVER_ADDRESS, parts.hostname)
            put(attrs, sc.SERVER_PORT, parts.port or _DEFAULT_PORTS.get(parts.scheme))
        except ValueError:
            pass
        type(self)._client_cache = (url, attrs)
        return attrs
