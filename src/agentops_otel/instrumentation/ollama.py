"""Instrumentation of the ``ollama`` library (0.4 and later): ``chat``, ``generate``, ``embed`` and
``embeddings`` of ``Client`` and ``AsyncClient`` (and the module-level ``ollama.chat(...)`` forms),
streamed or not, each as one LLM span.

Ollama runs models locally: its counts are ``prompt_eval_count`` (input) and ``eval_count`` (output,
thinking included), in the response or in a stream's last part (``done``). Its calls cost nothing;
the collector says so (``agentops.cost.source = "local"``) instead of calling the model unknown.
Ollama leaves ``prompt_eval_count`` out when the whole prompt came from its cache.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _content as content
from agentops_otel.instrumentation._call import Attributes, Endpoint, StreamRecorder, field, put, usage_attributes
from agentops_otel.instrumentation._library import Method, MethodInstrumentor

# Ollama's options -> request attributes
_OPTIONS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "top_k": sc.GEN_AI_REQUEST_TOP_K,
    "num_predict": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
}


def _request(body: Mapping[str, Any]) -> Attributes:
    attrs: Attributes = {}
    put(attrs, sc.GEN_AI_REQUEST_MODEL, body.get("model"))
    options = body.get("options")
    if options:
        for key, name in _OPTIONS.items():
            put(attrs, name, field(options, key))
    output_format = body.get("format")
    if output_format:
        attrs[sc.GEN_AI_OUTPUT_TYPE] = "json"
    return attrs


def _response(response: Any, attrs: Attributes) -> None:
    put(attrs, sc.GEN_AI_RESPONSE_MODEL, field(response, "model"))
    reason = field(response, "done_reason")
    put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [reason] if isinstance(reason, str) and reason else None)
    usage_attributes(
        attrs, input_tokens=field(response, "prompt_eval_count"), output_tokens=field(response, "eval_count")
    )


def _message_parts(message: Any) -> list[content.Part]:
    parts = [content.reasoning(field(message, "thinking"))] if field(message, "thinking") else []
    parts.extend(content.parts_of(field(message, "content") or None))
    parts.extend(content.tool_calls(message))
    return parts


class _Stream(StreamRecorder):
    """Each part carries the model and a piece of text; the last (``done``) the reason and counts."""

    __slots__ = ("capture", "last", "text", "text_key", "thinking", "tools")

    def __init__(self, capture: bool, text_key: str | None) -> None:
        self.capture = capture
        self.text_key = text_key  # "response" for generate; chat parts carry a message
        self.last: Any = None
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.tools: list[content.Part] = []

    def add(self, event: Any) -> None:
        self.last = event
        if self.capture:
            source = event if self.text_key else field(event, "message")
            piece = field(source, self.text_key or "content")
            if piece:
                self.text.append(piece)
            thought = field(source, "thinking")
            if thought:
                self.thinking.append(thought)
            if not self.text_key:
                self.tools.extend(content.tool_calls(source))

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        if self.last is not None:
            _response(self.last, attrs)
        if self.capture:
            parts = [content.reasoning("".join(self.thinking))] if self.thinking else []
            parts += [content.text("".join(self.text))] if self.text else []
            message = content.message("assistant", parts + self.tools, field(self.last, "done_reason"))
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs


class Chat(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = _request(body)
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(content.chat_input(body.get("messages"), _message_parts))
            if body.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(
                    [t for t in body["tools"] if not callable(t)]  # Python functions given as tools: not JSON
                )
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        _response(response, attrs)
        if capture:
            message = content.message(
                "assistant", _message_parts(field(response, "message")), field(response, "done_reason")
            )
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _Stream(capture, None)


class Generate(Endpoint):
    operation = sc.OP_TEXT_COMPLETION

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = _request(body)
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(
                [content.message("user", [content.text(body.get("prompt"))])]
            )
            if body.get("system"):
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json([content.text(body["system"])])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        _response(response, attrs)
        if capture:
            parts = [content.reasoning(field(response, "thinking"))] if field(response, "thinking") else []
            parts.append(content.text(field(response, "response")))
            message = content.message("assistant", parts, field(response, "done_reason"))
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _Stream(capture, "response")


class Embed(Endpoint):
    operation = sc.OP_EMBEDDINGS

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = _request(body)
        put(attrs, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, body.get("dimensions"))
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, field(response, "model"))  # embeddings() answers the vector only
        usage_attributes(attrs, input_tokens=field(response, "prompt_eval_count"))
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:  # pragma: no cover - embeddings never stream
        raise NotImplementedError("embeddings are not streamed")


_CHAT, _GENERATE, _EMBED = Chat(), Generate(), Embed()


def _methods() -> tuple[Method, ...]:
    found: list[Method] = []
    for owner in ("Client", "AsyncClient"):
        found += [
            Method("ollama._client", f"{owner}.chat", _CHAT),
            Method("ollama._client", f"{owner}.generate", _GENERATE),
            Method("ollama._client", f"{owner}.embed", _EMBED, stream=False, optional=True),
            Method("ollama._client", f"{owner}.embeddings", _EMBED, stream=False, optional=True),
        ]
    # ollama.chat(...) and the others are methods of a default client, bound when ollama was imported
    found += [
        Method("ollama", "chat", _CHAT),
        Method("ollama", "generate", _GENERATE),
        Method("ollama", "embed", _EMBED, stream=False, optional=True),
        Method("ollama", "embeddings", _EMBED, stream=False, optional=True),
    ]
    return tuple(found)


class OllamaInstrumentor(MethodInstrumentor):
    """``BaseInstrumentor`` for ``ollama``; the ``agentops_ollama`` ``opentelemetry_instrumentor`` entry point."""

    package = "ollama"
    requirement = "ollama >= 0.4"
    provider = sc.PROVIDER_OLLAMA
    methods = _methods()

    def _client_attributes(self, instance: Any, body: Mapping[str, Any]) -> Attributes:
        if instance is None:  # a module-level function: the default client's
            instance = getattr(sys.modules.get("ollama"), "_client", None)
        url = instance._client.base_url  # the client's httpx client
        return self._server_attributes(url, url)
