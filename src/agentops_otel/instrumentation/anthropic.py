"""Instrumentation of the ``anthropic`` library (0.43 to 2.x): ``messages.create`` (sync, async,
streamed), ``messages.stream(...)``, ``messages.parse`` and their beta variants, each as one LLM span.

Anthropic reports ``input_tokens`` *without* cache reads and writes; the span's
``gen_ai.usage.input_tokens`` adds them, as the GenAI conventions define it.
anthropic 2.x also starts its own span for each call when a global TracerProvider is set; inside a
call we trace, the client is told it has no tracer, so one call is one LLM span, never two.
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
    StreamRecorder,
    field,
    getter,
    put,
    usage_attributes,
)
from agentops_otel.instrumentation._library import in_traced_call
from agentops_otel.instrumentation._patching import Patch, replace_attribute
from agentops_otel.instrumentation._stainless import StainlessInstrumentor

_DELTA_FIELDS = ("text", "partial_json", "thinking")  # text, tool input and thinking deltas
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _usage_attrs(attrs: Attributes, counts: Mapping[str, Any], thinking_tokens: Any = None) -> None:
    raw_input = counts.get("input_tokens")
    cache_read = counts.get("cache_read_input_tokens")
    cache_creation = counts.get("cache_creation_input_tokens")
    total_input = None
    if isinstance(raw_input, int):
        total_input = raw_input + (cache_read or 0) + (cache_creation or 0)
    usage_attributes(
        attrs,
        input_tokens=total_input,
        output_tokens=counts.get("output_tokens"),
        cache_read=cache_read,
        cache_creation=cache_creation,
        reasoning=thinking_tokens,
    )


def _blocks_to_parts(blocks: Any) -> list[content.Part]:
    if isinstance(blocks, str):
        return [content.text(blocks)]
    parts: list[content.Part] = []
    for block in blocks or ():
        kind = field(block, "type")
        if kind == "text":
            parts.append(content.text(field(block, "text")))
        elif kind in ("tool_use", "server_tool_use"):
            parts.append(content.tool_call(field(block, "id"), field(block, "name"), field(block, "input")))
        elif kind == "tool_result":
            parts.append(content.tool_response(field(block, "tool_use_id"), field(block, "content")))
        elif kind == "thinking":
            parts.append(content.reasoning(field(block, "thinking")))
        else:
            parts.append({"type": kind or "unknown"})
    return parts


class Messages(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, body.get("model"))
        put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, body.get("max_tokens"))
        put(attrs, sc.GEN_AI_REQUEST_TEMPERATURE, body.get("temperature"))
        put(attrs, sc.GEN_AI_REQUEST_TOP_P, body.get("top_p"))
        put(attrs, sc.GEN_AI_REQUEST_TOP_K, body.get("top_k"))
        put(attrs, sc.GEN_AI_REQUEST_STOP_SEQUENCES, body.get("stop_sequences"))
        if capture:
            messages = [
                content.message(field(m, "role"), _blocks_to_parts(field(m, "content")))
                for m in body.get("messages") or ()
            ]
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(messages)
            if body.get("system"):
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(_blocks_to_parts(body["system"]))
            if body.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(body["tools"])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        get = getter(response)
        put(attrs, sc.GEN_AI_RESPONSE_ID, get(response, "id", None))
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, get(response, "model", None))
        stop_reason = get(response, "stop_reason", None)
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [stop_reason] if stop_reason else None)
        usage = get(response, "usage", None)
        if usage is not None:
            get = getter(usage)  # an older library keeps fields it does not know as dicts
            counts = {name: get(usage, name, None) for name in _USAGE_FIELDS}
            _usage_attrs(attrs, counts, field(get(usage, "output_tokens_details", None), "thinking_tokens"))
        if capture:
            message = content.message("assistant", _blocks_to_parts(field(response, "content")), stop_reason)
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _MessagesStream(capture)


class _MessagesStream(StreamRecorder):
    """``message_start`` gives id, model and input usage; ``message_delta`` the stop reason and output usage."""

    __slots__ = ("blocks", "capture", "counts", "id", "model", "stop_reason", "thinking_tokens")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.counts: dict[str, Any] = {}
        self.thinking_tokens: Any = None
        self.blocks: dict[int, dict[str, Any]] = {}

    def _take_usage(self, usage: Any) -> None:
        if usage is None:
            return
        counts = self.counts
        for name in _USAGE_FIELDS:
            value = getattr(usage, name, None)
            if value is not None:  # message_delta repeats counts, or leaves them out (older API versions)
                counts[name] = value
        details = getattr(usage, "output_tokens_details", None)
        if details is not None:
            self.thinking_tokens = getattr(details, "thinking_tokens", None)

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "message_start":
            message = event.message
            self.id = message.id
            self.model = message.model
            self._take_usage(message.usage)
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self._take_usage(event.usage)
        elif self.capture:
            self._add_content(kind, event)

    def _add_content(self, kind: str, event: Any) -> None:
        if kind == "content_block_start":
            block = event.content_block
            self.blocks[event.index] = {"block": block, "text": []}
        elif kind == "content_block_delta":
            acc = self.blocks.setdefault(event.index, {"block": None, "text": []})
            delta = event.delta
            piece = next((getattr(delta, name, None) for name in _DELTA_FIELDS if getattr(delta, name, None)), None)
            if piece:
                acc["text"].append(piece)

    def _output_parts(self) -> list[content.Part]:
        parts: list[content.Part] = []
        for index in sorted(self.blocks):
            acc = self.blocks[index]
            block, streamed = acc["block"], "".join(acc["text"])
            kind = field(block, "type") if block is not None else "text"
            if kind in ("tool_use", "server_tool_use"):  # a call without arguments streams no input: the start's {}
                arguments = streamed or field(block, "input")
                parts.append(content.tool_call(field(block, "id"), field(block, "name"), arguments))
            elif kind == "thinking":
                parts.append(content.reasoning(streamed))
            elif kind == "text":
                parts.append(content.text((field(block, "text") or "") + streamed if block is not None else streamed))
            else:
                parts.append({"type": kind or "unknown"})
        return parts

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, self.id)
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, self.model)
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [self.stop_reason] if self.stop_reason else None)
        _usage_attrs(attrs, self.counts, self.thinking_tokens)
        if self.capture:
            message = content.message("assistant", self._output_parts(), self.stop_reason)
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs


_MESSAGES = Messages()


class AnthropicInstrumentor(StainlessInstrumentor):
    """``BaseInstrumentor`` for ``anthropic``; the ``agentops_anthropic`` ``opentelemetry_instrumentor`` entry point."""

    package = "anthropic"
    extra = "anthropic"
    # Before 0.43, messages.stream() read a Stream of its own built from the response: no response attributes.
    requirement = "anthropic >= 0.43"
    provider = sc.PROVIDER_ANTHROPIC
    # Older versions post beta messages to the literal "/v1/messages?beta=true" (as the library's own
    # Bedrock and Vertex clients still match it): one more key, so the exact lookup stays the only one.
    endpoints: Mapping[str, Endpoint] = {"/v1/messages": _MESSAGES, "/v1/messages?beta=true": _MESSAGES}
    session_methods = (
        ("resources.messages", ("Messages", "AsyncMessages"), ("create", "parse", "stream")),
        ("resources.beta.messages", ("Messages", "AsyncMessages"), ("create", "parse", "stream")),
    )

    def _extra_patches(self) -> list[Patch]:
        base_client = importlib.import_module("anthropic._base_client").BaseClient
        native = base_client.__dict__.get("_tracer")
        if not isinstance(native, property) or native.fget is None:
            return []  # a version without its own spans
        get_native_tracer = native.fget

        def _tracer(client: Any) -> Any:
            return None if in_traced_call() else get_native_tracer(client)

        return [replace_attribute(base_client, "_tracer", property(_tracer, doc=native.__doc__))]
