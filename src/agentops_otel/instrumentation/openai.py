"""Instrumentation of the ``openai`` library (1.40 to 3.x): chat completions, legacy completions,
embeddings and the Responses API, each as one LLM span.

The library is never imported here: :class:`OpenAIInstrumentor` patches it once the application has.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
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
from agentops_otel.instrumentation._settings import Settings
from agentops_otel.instrumentation._stainless import StainlessInstrumentor

# request body key -> attribute, shared by chat and legacy completions
_SAMPLING_PARAMS = {
    "model": sc.GEN_AI_REQUEST_MODEL,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": sc.GEN_AI_REQUEST_SEED,
}
_SCALARS = (str, bool, int, float)


def _sampling_attributes(body: Mapping[str, Any], attrs: Attributes) -> None:
    # One pass over the keys the request has (usually two or three), not over every parameter known.
    for key, value in body.items():
        name = _SAMPLING_PARAMS.get(key)
        if name is not None and isinstance(value, _SCALARS):
            attrs[name] = value
    if "max_completion_tokens" in body and "max_tokens" in body:  # the newer one wins, whatever the key order
        put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, body["max_completion_tokens"])
    stop = body.get("stop")
    if stop is not None:
        put(attrs, sc.GEN_AI_REQUEST_STOP_SEQUENCES, [stop] if isinstance(stop, str) else stop)
    n = body.get("n")
    if isinstance(n, int) and n != 1:
        attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] = n


# usage field names: chat and legacy completions, and the Responses API
_COMPLETION_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
_RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


def _usage(usage: Any, names: tuple[str, str, str, str], attrs: Attributes) -> None:
    """Token counts; OpenAI's input count already includes the cached tokens, its output the reasoning.

    Written out rather than looped: it runs once per call, on the application's thread.
    """
    if usage is None:
        return
    get = getter(usage)
    input_key, output_key, input_details_key, output_details_key = names
    count = get(usage, input_key, None)
    if type(count) is int:  # a plain int: bool and None left out
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = count
    count = get(usage, output_key, None)
    if type(count) is int:
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = count
    details = get(usage, input_details_key, None)  # may be a dict in a model: older libraries keep unknown fields so
    if details is not None:
        count = field(details, "cached_tokens")
        if type(count) is int:
            attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = count
    details = get(usage, output_details_key, None)
    if details is not None:
        count = field(details, "reasoning_tokens")
        if type(count) is int:
            attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = count


def _identity(get: Callable[[Any, str, Any], Any], response: Any, attrs: Attributes) -> None:
    response_id = get(response, "id", None)
    if isinstance(response_id, str):
        attrs[sc.GEN_AI_RESPONSE_ID] = response_id
    model = get(response, "model", None)
    if isinstance(model, str):
        attrs[sc.GEN_AI_RESPONSE_MODEL] = model


def _completion_attributes(response: Any, attrs: Attributes) -> list[Any]:
    """Identity and finish reasons of a chat or legacy completion; returns its choices."""
    get = getter(response)
    _identity(get, response, attrs)
    choices = get(response, "choices", None) or []
    reasons = []
    for choice in choices:
        reason = get(choice, "finish_reason", None) or ""
        if not isinstance(reason, str):
            break  # not a value OpenTelemetry takes: no finish reasons at all rather than a partial list
        reasons.append(reason)
    else:
        if reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    return choices


def _completion_usage(endpoint: Endpoint, response: Any, attrs: Attributes) -> None:
    """Token counts of a chat or legacy completion (the endpoints' ``usage_attributes``)."""
    _usage(field(response, "usage"), _COMPLETION_USAGE, attrs)


# --- chat completions ---------------------------------------------------------------------------
def _message_parts(msg: Any) -> list[content.Part]:
    return content.parts_of(field(msg, "content")) + content.tool_calls(msg)


def _chat_output_message(msg: Any, finish_reason: Any) -> dict[str, Any]:
    return content.message(field(msg, "role") or "assistant", _message_parts(msg), finish_reason)


class _ChatStream(StreamRecorder):
    __slots__ = ("capture", "choices", "finish_reasons", "id", "model", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.finish_reasons: dict[int, str] = {}
        self.choices: dict[int, dict[str, Any]] = {}  # index -> {"text": [...], "tools": {i: [id, name, args]}}

    def add(self, event: Any) -> None:
        if not self.id:  # Azure's first chunk (prompt filter results) has an empty id and model
            self.id = event.id or None
            self.model = event.model or None
        usage = getattr(event, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in event.choices or ():
            if choice.finish_reason:  # some servers leave the index out of the last chunk (None): choice 0
                self.finish_reasons[getattr(choice, "index", None) or 0] = choice.finish_reason
            if self.capture:
                self._add_delta(choice)

    def _add_delta(self, choice: Any) -> None:
        acc = self.choices.setdefault(getattr(choice, "index", None) or 0, {"text": [], "tools": {}})
        text = getattr(choice, "text", None)  # legacy completions stream text, chat completions deltas
        calls = None
        delta = getattr(choice, "delta", None)
        if delta is not None:  # a model, or a plain dict where the library has no such field (legacy chunks)
            get = getter(delta)
            text = get(delta, "content", None) or text
            calls = get(delta, "tool_calls", None)
        if text:
            acc["text"].append(text)
        for call in calls or ():
            get = getter(call)
            slot = acc["tools"].setdefault(get(call, "index", None) or 0, [None, None, []])
            slot[0] = get(call, "id", None) or slot[0]
            function = get(call, "function", None)
            if function is not None:
                slot[1] = field(function, "name") or slot[1]
                arguments = field(function, "arguments")
                if arguments:  # JSON text pieces; a library may hand over the parsed object (mistralai)
                    slot[2].append(arguments if isinstance(arguments, str) else content.to_json(arguments))

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, self.id)
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, self.model)
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [self.finish_reasons[i] for i in sorted(self.finish_reasons)])
        _usage(self.usage, _COMPLETION_USAGE, attrs)
        if self.capture:
            messages = []
            for index in sorted(self.choices):
                acc = self.choices[index]
                parts = [content.text("".join(acc["text"]))] if acc["text"] else []
                for slot in (acc["tools"][i] for i in sorted(acc["tools"])):
                    parts.append(content.tool_call(slot[0], slot[1], "".join(slot[2])))
                messages.append(content.message("assistant", parts, self.finish_reasons.get(index)))
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(messages)
        return attrs


class ChatCompletions(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        _sampling_attributes(body, attrs)
        response_format = body.get("response_format")
        kind = field(response_format, "type") if response_format is not None else None
        if kind:
            attrs[sc.GEN_AI_OUTPUT_TYPE] = "text" if kind == "text" else "json"
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(content.chat_input(body.get("messages"), _message_parts))
            if body.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(body["tools"])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        choices = _completion_attributes(response, attrs)
        self.usage_attributes(response, attrs)
        if capture:
            messages = [_chat_output_message(field(c, "message"), field(c, "finish_reason")) for c in choices]
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(messages)
        return attrs

    usage_attributes = _completion_usage  # a library reaching other providers through this endpoint reads its own

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _ChatStream(capture)


# --- legacy completions -------------------------------------------------------------------------
class LegacyCompletions(Endpoint):
    operation = sc.OP_TEXT_COMPLETION

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        _sampling_attributes(body, attrs)
        if capture:
            prompt = body.get("prompt")
            prompts = [prompt] if isinstance(prompt, str) else list(prompt or ())
            messages = [content.message("user", [content.text(p)]) for p in prompts]
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(messages)
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        choices = _completion_attributes(response, attrs)
        self.usage_attributes(response, attrs)
        if capture:
            messages = [
                content.message("assistant", [content.text(field(c, "text"))], field(c, "finish_reason"))
                for c in choices
            ]
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(messages)
        return attrs

    usage_attributes = _completion_usage

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _ChatStream(capture)  # completion chunks carry id, model, choices[].text/finish_reason, usage


# --- embeddings ---------------------------------------------------------------------------------
class Embeddings(Endpoint):
    operation = sc.OP_EMBEDDINGS

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, body.get("model"))
        encoding = body.get("encoding_format")
        put(attrs, sc.GEN_AI_REQUEST_ENCODING_FORMATS, [encoding] if isinstance(encoding, str) else None)
        put(attrs, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, body.get("dimensions"))
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, field(response, "model"))
        usage = field(response, "usage")
        usage_attributes(attrs, input_tokens=field(usage, "prompt_tokens"))
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:  # pragma: no cover - embeddings never stream
        raise NotImplementedError("embeddings are not streamed")


# --- Responses API ------------------------------------------------------------------------------
def _responses_input(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [content.message("user", [content.text(value)])]
    result = []
    for item in value or ():
        kind = field(item, "type")
        if kind == "function_call_output":
            part = content.tool_response(field(item, "call_id"), field(item, "output"))
            result.append(content.message("tool", [part]))
        elif kind == "function_call":
            part = content.tool_call(field(item, "call_id"), field(item, "name"), field(item, "arguments"))
            result.append(content.message("assistant", [part]))
        else:
            result.append(content.message(field(item, "role") or "user", content.parts_of(field(item, "content"))))
    return result


def _responses_output(output: Any, finish_reason: str | None) -> list[dict[str, Any]]:
    parts: list[content.Part] = []
    for item in output or ():
        kind = field(item, "type")
        if kind == "message":
            parts.extend(content.parts_of(field(item, "content")))
        elif kind == "function_call":
            parts.append(content.tool_call(field(item, "call_id"), field(item, "name"), field(item, "arguments")))
        elif kind == "reasoning":
            summary = " ".join(str(field(s, "text") or "") for s in field(item, "summary") or ())
            parts.append(content.reasoning(summary))
        else:
            parts.append({"type": kind or "unknown"})
    return [content.message("assistant", parts, finish_reason)]


def _responses_finish_reason(response: Any) -> str | None:
    """Responses have a status, not a finish reason: name it like chat completions do."""
    status = field(response, "status")
    if status == "incomplete":
        return field(field(response, "incomplete_details"), "reason") or status
    if status == "completed":
        calls = any(field(item, "type") == "function_call" for item in field(response, "output") or ())
        return "tool_calls" if calls else "stop"
    return status


class Responses(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, body.get("model"))
        put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, body.get("max_output_tokens"))
        put(attrs, sc.GEN_AI_REQUEST_TEMPERATURE, body.get("temperature"))
        put(attrs, sc.GEN_AI_REQUEST_TOP_P, body.get("top_p"))
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_responses_input(body.get("input")))
            if body.get("instructions"):
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json([content.text(body["instructions"])])
            if body.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(body["tools"])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        _identity(getter(response), response, attrs)
        finish_reason = _responses_finish_reason(response)
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [finish_reason] if finish_reason else None)
        _usage(field(response, "usage"), _RESPONSES_USAGE, attrs)
        if capture:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(
                _responses_output(field(response, "output"), finish_reason)
            )
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _ResponsesStream(self, capture)


class _ResponsesStream(StreamRecorder):
    """Streamed Responses carry the whole response in their lifecycle events; the last one is kept."""

    __slots__ = ("capture", "endpoint", "response")

    def __init__(self, endpoint: Responses, capture: bool) -> None:
        self.endpoint = endpoint
        self.capture = capture
        self.response: Any = None

    def add(self, event: Any) -> None:
        response = getattr(event, "response", None)
        if response is not None:
            self.response = response

    def attributes(self) -> Attributes:
        if self.response is None:
            return {}
        if self.response.status == "in_progress":  # cut short: only what response.created said
            attrs: Attributes = {}
            _identity(getter(self.response), self.response, attrs)
            return attrs
        return self.endpoint.response_attributes(self.response, self.capture)


class OpenAIInstrumentor(StainlessInstrumentor):
    """``BaseInstrumentor`` for ``openai``; also the ``agentops_openai`` ``opentelemetry_instrumentor`` entry point."""

    package = "openai"
    extra = "openai"
    requirement = "openai >= 1.40"  # checked down to 1.40; 1.0's raw responses and async streams lose attributes
    provider = sc.PROVIDER_OPENAI
    endpoints: Mapping[str, Endpoint] = {
        "/chat/completions": ChatCompletions(),
        "/completions": LegacyCompletions(),
        "/embeddings": Embeddings(),
        "/responses": Responses(),
    }
    session_methods = (
        ("resources.chat.completions", ("Completions", "AsyncCompletions"), ("create", "parse", "stream")),
        ("resources.beta.chat.completions", ("Completions", "AsyncCompletions"), ("parse", "stream")),  # older versions
        ("resources.completions", ("Completions", "AsyncCompletions"), ("create",)),
        ("resources.embeddings", ("Embeddings", "AsyncEmbeddings"), ("create",)),
        ("resources.responses", ("Responses", "AsyncResponses"), ("create", "parse", "stream")),
    )

    def _provider_for(self, client: Any) -> str:
        azure = sys.modules.get("openai.lib.azure")  # imported by openai itself; never imported here
        base = getattr(azure, "BaseAzureClient", None)
        if base is not None and isinstance(client, base):
            return sc.PROVIDER_AZURE_OPENAI
        return self.provider

    def _adjust_request(self, options: Any, body: Mapping[str, Any], settings: Settings) -> Any:
        # Opt-in only: the extra usage chunk has no choices, which code indexing choices[0] trips over.
        if not settings.openai_stream_usage or "stream_options" in body:
            return options
        if options.url not in ("/chat/completions", "/completions"):
            return options
        adjusted = copy.copy(options)
        adjusted.json_data = {**body, "stream_options": {"include_usage": True}}
        return adjusted
