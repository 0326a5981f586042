"""Instrumentation of the ``cohere`` library (5.16 and later): the v2 client's (``ClientV2`` /
``AsyncClientV2``) ``chat``, ``chat_stream``, ``embed`` and ``rerank``, and the same calls of the v1
client (``Client`` / ``AsyncClient``), each as one LLM span.

Cohere's clients bind ``chat`` and ``chat_stream`` to each client when it is built, so the public
methods are not where a client built before ``instrument()`` can be reached. Every public call ends
in the client's raw client (``with_raw_response``), looked up when called: those methods are the ones
traced, for clients built before or after. One exception: the v1 client's ``embed`` splits its texts
into batches sent from a thread pool, and merges the answers; it is traced as one call, where it merges.

Usage is what Cohere bills, ``usage.billed_units`` (``meta.billed_units`` for embed, rerank and every
v1 answer), which the library hands over as floats: kept as integers. Cohere also reports
``usage.tokens``, the model's own counts including its prompt template; they are not what is billed
and are left out. A rerank bills search units, not tokens: its span has none.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _content as content
from agentops_otel.instrumentation._call import (
    Attributes,
    Endpoint,
    LLMCall,
    StreamRecorder,
    field,
    put,
    token_count,
    usage_attributes,
)
from agentops_otel.instrumentation._library import Method, MethodInstrumentor, session_patches
from agentops_otel.instrumentation._patching import Patch
from agentops_otel.instrumentation._streams import StreamManagerProxy

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


def _billed(attrs: Attributes, billed: Any) -> None:
    if billed is not None:
        usage_attributes(
            attrs,
            input_tokens=token_count(field(billed, "input_tokens")),  # floats, as Cohere sends them
            output_tokens=token_count(field(billed, "output_tokens")),
        )


def _request(body: Mapping[str, Any]) -> Attributes:
    attrs: Attributes = {}
    for key, name in _PARAMS.items():
        put(attrs, name, body.get(key))
    return attrs


def _parts(message: Any) -> list[content.Part]:
    return content.parts_of(field(message, "content")) + content.tool_calls(message)


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
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(content.chat_input(body.get("messages"), _parts))
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


# --- the v1 API ---------------------------------------------------------------------------------
_V1_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


def _v1_tool_calls(calls: Any) -> list[content.Part]:
    return [content.tool_call(None, field(c, "name"), field(c, "parameters")) for c in calls or ()]


def _v1_tool_results(results: Any) -> dict[str, Any]:
    parts = [content.tool_response(None, field(r, "outputs")) for r in results or ()]
    return content.message("tool", parts)


def _v1_input(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``chat_history``, then the tool results and the ``message`` of this turn."""
    result = []
    for turn in body.get("chat_history") or ():
        role = field(turn, "role")
        role = _V1_ROLES.get(role, role)
        if role == "tool":
            result.append(_v1_tool_results(field(turn, "tool_results")))
            continue
        parts = content.parts_of(field(turn, "message")) + _v1_tool_calls(field(turn, "tool_calls"))
        result.append(content.message(role, parts))
    if body.get("tool_results"):
        result.append(_v1_tool_results(body["tool_results"]))
    if body.get("message"):
        result.append(content.message("user", [content.text(body["message"])]))
    return result


def _v1_output(text: Any, tool_calls: Any, reason: Any) -> str:
    parts = [content.text(text)] if text else []
    return content.to_json([content.message("assistant", parts + _v1_tool_calls(tool_calls), reason)])


def _v1_response(attrs: Attributes, response: Any) -> None:
    """The id (``response_id``; ``generation_id`` without it), finish reason and ``meta.billed_units``."""
    put(attrs, sc.GEN_AI_RESPONSE_ID, field(response, "response_id") or field(response, "generation_id"))
    _finish(attrs, field(response, "finish_reason"))
    meta = field(response, "meta")
    _billed(attrs, field(meta, "billed_units") if meta is not None else None)


class _ChatV1Stream(StreamRecorder):
    """``stream-start`` names the generation, ``text-generation`` / ``tool-calls-generation`` carry the
    answer, ``stream-end`` the finish reason and the whole response with its ``meta``."""

    __slots__ = ("capture", "end", "id", "text", "tool_calls")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: Any = None
        self.end: Any = None
        self.text: list[str] = []
        self.tool_calls: Any = None

    def add(self, event: Any) -> None:
        kind = field(event, "event_type")
        if kind == "stream-start":
            self.id = field(event, "generation_id")
        elif kind == "stream-end":
            self.end = event
        elif self.capture:
            if kind == "text-generation":
                piece = field(event, "text")
                if piece:
                    self.text.append(piece)
            elif kind == "tool-calls-generation":
                self.tool_calls = field(event, "tool_calls")

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, self.id)
        reason = None
        if self.end is not None:
            response = field(self.end, "response")
            if response is not None:
                _v1_response(attrs, response)
            reason = field(self.end, "finish_reason")
            _finish(attrs, reason)
        if self.capture:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = _v1_output("".join(self.text), self.tool_calls, reason)
        return attrs


class ChatV1(Endpoint):
    """The v1 chat: one ``message`` on top of a ``chat_history``, the system prompt as ``preamble``."""

    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = _request(body)
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_v1_input(body))
            if body.get("preamble"):
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json([content.text(body["preamble"])])
            if body.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(body["tools"])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        _v1_response(attrs, response)
        if capture:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = _v1_output(
                field(response, "text"), field(response, "tool_calls"), field(response, "finish_reason")
            )
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _ChatV1Stream(capture)


_CHAT, _CHAT_V1, _EMBED, _RERANK = Chat(), ChatV1(), Embed(), Rerank()
_OMIT = ...  # the library's value of an argument left out


def _methods() -> tuple[Method, ...]:
    found = [
        Method(module, f"{owner}.{name}", endpoint, stream=name == "chat_stream")
        for module, owners, chat in (
            ("cohere.v2.raw_client", ("RawV2Client", "AsyncRawV2Client"), _CHAT),
            ("cohere.raw_base_client", ("RawBaseCohere", "AsyncRawBaseCohere"), _CHAT_V1),
        )
        for owner in owners
        for name, endpoint in (("chat", chat), ("chat_stream", chat), ("embed", _EMBED), ("rerank", _RERANK))
        if not (name == "embed" and chat is _CHAT_V1)
    ]
    # v1's embed sends its batches from a thread pool (no context there) and merges their billed units
    found += [Method("cohere.client", f"{owner}.embed", _EMBED, stream=False) for owner in ("Client", "AsyncClient")]
    return tuple(found)


class CohereInstrumentor(MethodInstrumentor):
    """``BaseInstrumentor`` for ``cohere``; the ``agentops_cohere`` ``opentelemetry_instrumentor`` entry point."""

    package = "cohere"
    requirement = "cohere >= 5.16"
    provider = sc.PROVIDER_COHERE
    methods = _methods()
    # The public methods, where the application may pass session= (they call the raw ones traced)
    session_methods = (
        ("cohere.v2.client", ("V2Client", "AsyncV2Client"), ("chat", "chat_stream", "embed", "rerank")),
        ("cohere.base_client", ("BaseCohere", "AsyncBaseCohere"), ("chat", "chat_stream", "rerank")),
    )

    _responses: tuple[type, ...] = ()  # the raw clients' HttpResponse / AsyncHttpResponse

    def _patch(self, patches: list[Patch]) -> None:
        http = importlib.import_module("cohere.core.http_response")
        self._responses = (http.HttpResponse, http.AsyncHttpResponse)
        super()._patch(patches)
        patches.extend(session_patches(self.session_methods))

    def _request(self, method: Method, body: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in body.items() if value is not _OMIT}

    def _finish(self, call: LLMCall, result: Any, *, asynchronous: bool) -> Any:
        if call.recorder is None and isinstance(result, self._responses):
            call.complete(result.data)
            return result
        if call.recorder is not None and (hasattr(result, "__enter__") or hasattr(result, "__aenter__")):
            return StreamManagerProxy(result, call)  # the request is sent when the stream is entered
        return super()._finish(call, result, asynchronous=asynchronous)  # v1's embed: merged, answered at once

    def _client_attributes(self, instance: Any, body: Mapping[str, Any]) -> Attributes:
        url = instance._client_wrapper.get_base_url()
        return self._server_attributes(url, url)
