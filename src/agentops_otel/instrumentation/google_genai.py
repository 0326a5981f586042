"""Instrumentation of the ``google-genai`` library: ``models.generate_content``,
``generate_content_stream`` and ``embed_content``, sync and ``client.aio``, on the Gemini Developer API
(``gcp.gemini``) and on Vertex AI (``gcp.vertex_ai``); chats, automatic function calling and
automatic continuation are built on them.

The wrapped methods are the ones that send one request each (``Models._generate_content`` and its
stream and embedding siblings): a public call that makes several requests (a function-calling loop,
continuation hops) gives one span per request, each with the tokens that request was billed.
``count_tokens`` and the other methods are left alone.

Gemini counts ``candidatesTokenCount`` without the thinking tokens (``thoughtsTokenCount``) and
``promptTokenCount`` without the tokens of tool results it fed itself (``toolUsePromptTokenCount``):
the span's input and output add them, so input + output is ``totalTokenCount``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import wrapt

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _content as content
from agentops_otel.instrumentation._call import Attributes, Endpoint, LLMCall, StreamRecorder, getter, put
from agentops_otel.instrumentation._library import (
    LibraryInstrumentor,
    in_traced_call,
    run_traced,
    run_traced_async,
)
from agentops_otel.instrumentation._patching import Patch, accept_session, report_bug, wrap_method
from agentops_otel.instrumentation._streams import AsyncGeneratorProxy, AsyncStreamProxy, SyncStreamProxy


def model_name(model: Any) -> Any:
    """``models/gemini-2.5-flash`` or a Vertex resource path -> ``gemini-2.5-flash`` (what prices are known by)."""
    if isinstance(model, str):
        cut = model.rfind("models/")
        if cut >= 0:
            return model[cut + len("models/") :]
    return model


def _get(obj: Any, name: str, camel: str | None = None) -> Any:
    """A field of a library object or of a dict written with snake_case or camelCase keys."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        value = obj.get(name)
        if value is None and camel is not None:
            value = obj.get(camel)
        return value
    return getattr(obj, name, None)


def _reason(value: Any) -> str | None:
    """A finish reason as the provider names it, lower-cased (``STOP`` -> ``stop``)."""
    value = getattr(value, "value", value)  # the library's enums are str enums
    return value.lower() if isinstance(value, str) and value else None


# --- usage ----------------------------------------------------------------------------------------
def _usage(usage: Any, attrs: Attributes) -> None:
    if usage is None:
        return
    get = getter(usage)
    prompt = get(usage, "prompt_token_count", None)
    tool_prompt = get(usage, "tool_use_prompt_token_count", None)
    candidates = get(usage, "candidates_token_count", None)
    thoughts = get(usage, "thoughts_token_count", None)
    cached = get(usage, "cached_content_token_count", None)
    if type(prompt) is int:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = prompt + (tool_prompt if type(tool_prompt) is int else 0)
        # No candidates count (an empty answer) is none billed; thinking tokens are billed as output.
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = (candidates if type(candidates) is int else 0) + (
            thoughts if type(thoughts) is int else 0
        )
    if type(thoughts) is int:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts
    if type(cached) is int:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached


# --- message content (capture on only) ---------------------------------------------------------------
def _parts(parts: Any) -> list[content.Part]:
    result: list[content.Part] = []
    for part in parts or ():
        if isinstance(part, str):
            result.append(content.text(part))
            continue
        text = _get(part, "text")
        if text is not None:
            result.append(content.reasoning(text) if _get(part, "thought") else content.text(text))
            continue
        call = _get(part, "function_call", "functionCall")
        if call is not None:
            result.append(content.tool_call(_get(call, "id"), _get(call, "name"), _get(call, "args")))
            continue
        answer = _get(part, "function_response", "functionResponse")
        if answer is not None:
            result.append(content.tool_response(_get(answer, "id") or _get(answer, "name"), _get(answer, "response")))
            continue
        kind = next((k for k, v in (part.items() if isinstance(part, dict) else part) if v is not None), None)
        result.append({"type": kind or "unknown"})
    return result


def _role(role: Any, parts: list[content.Part]) -> Any:
    if role == "model":
        return "assistant"
    if parts and all(p["type"] == "tool_call_response" for p in parts):
        return "tool"
    return role or "user"


def _is_content(item: Any) -> bool:
    return not isinstance(item, str) and _get(item, "parts") is not None


def _input_messages(contents: Any) -> list[dict[str, Any]]:
    """``contents`` as messages: a string, a part, a Content, or a list of them (loose parts are the user's)."""
    items = contents if isinstance(contents, (list, tuple)) else [contents] if contents is not None else []
    messages: list[dict[str, Any]] = []
    loose: list[Any] = []
    for item in items:
        if _is_content(item):
            if loose:
                messages.append(content.message("user", _parts(loose)))
                loose = []
            parts = _parts(_get(item, "parts"))
            messages.append(content.message(_role(_get(item, "role"), parts), parts))
        else:
            loose.append(item)
    if loose:
        messages.append(content.message("user", _parts(loose)))
    return messages


def _instruction_parts(instruction: Any) -> list[content.Part]:
    if _is_content(instruction):
        return _parts(_get(instruction, "parts"))
    return _parts(instruction if isinstance(instruction, (list, tuple)) else [instruction])


# --- generate_content ---------------------------------------------------------------------------------
# config field (snake_case, camelCase) -> attribute
_CONFIG_PARAMS = (
    ("temperature", "temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", "topP", sc.GEN_AI_REQUEST_TOP_P),
    ("top_k", "topK", sc.GEN_AI_REQUEST_TOP_K),
    ("max_output_tokens", "maxOutputTokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("presence_penalty", "presencePenalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("frequency_penalty", "frequencyPenalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("seed", "seed", sc.GEN_AI_REQUEST_SEED),
    ("stop_sequences", "stopSequences", sc.GEN_AI_REQUEST_STOP_SEQUENCES),
)


class GenerateContent(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, model_name(body.get("model")))
        config = body.get("config")
        if config is not None:
            for name, camel, key in _CONFIG_PARAMS:
                put(attrs, key, _get(config, name, camel))
            count = _get(config, "candidate_count", "candidateCount")
            if type(count) is int and count != 1:
                attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] = count
            mime = _get(config, "response_mime_type", "responseMimeType")
            if isinstance(mime, str):
                attrs[sc.GEN_AI_OUTPUT_TYPE] = "text" if mime == "text/plain" else "json"
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_input_messages(body.get("contents")))
            instruction = _get(config, "system_instruction", "systemInstruction")
            if instruction is not None:
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(_instruction_parts(instruction))
            tools = _get(config, "tools")
            if tools:
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(tools)
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        get = getter(response)
        put(attrs, sc.GEN_AI_RESPONSE_ID, get(response, "response_id", None))
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, model_name(get(response, "model_version", None)))
        candidates = get(response, "candidates", None) or ()
        reasons = [_reason(getattr(c, "finish_reason", None)) for c in candidates]
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [r for r in reasons if r])
        _usage(get(response, "usage_metadata", None), attrs)
        if capture:
            messages = [
                content.message("assistant", _parts(_get(c.content, "parts")), reason)
                for c, reason in zip(candidates, reasons, strict=True)
            ]
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(messages)
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _GenerateContentStream(capture)


class _GenerateContentStream(StreamRecorder):
    """Each chunk carries the usage so far: the last one is kept; parts are gathered per candidate."""

    __slots__ = ("capture", "finish_reasons", "id", "model", "parts", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.finish_reasons: dict[int, str] = {}
        self.parts: dict[int, list[Any]] = {}

    def add(self, event: Any) -> None:
        if not self.id:  # (older versions have no response_id)
            self.id = getattr(event, "response_id", None)
            self.model = getattr(event, "model_version", None)
        usage = event.usage_metadata
        if usage is not None:
            self.usage = usage
        for position, candidate in enumerate(event.candidates or ()):
            index = getattr(candidate, "index", None)
            index = index if type(index) is int else position
            reason = _reason(candidate.finish_reason)
            if reason:
                self.finish_reasons[index] = reason
            if self.capture and candidate.content is not None:
                self.parts.setdefault(index, []).extend(candidate.content.parts or ())

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, self.id)
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, model_name(self.model))
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [self.finish_reasons[i] for i in sorted(self.finish_reasons)])
        _usage(self.usage, attrs)
        if self.capture:
            messages = []
            for index in sorted(self.parts):
                merged: list[content.Part] = []
                for part in _parts(self.parts[index]):  # streamed text arrives in pieces: joined again
                    if merged and part["type"] in ("text", "reasoning") and merged[-1]["type"] == part["type"]:
                        merged[-1] = {**merged[-1], "content": merged[-1]["content"] + part["content"]}
                    else:
                        merged.append(part)
                messages.append(content.message("assistant", merged, self.finish_reasons.get(index)))
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(messages)
        return attrs


# --- embed_content ----------------------------------------------------------------------------------
class EmbedContent(Endpoint):
    operation = sc.OP_EMBEDDINGS

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, model_name(body.get("model")))
        put(
            attrs,
            sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
            _get(body.get("config"), "output_dimensionality", "outputDimensionality"),
        )
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        """The Gemini API reports no tokens for embeddings; Vertex AI counts them per embedding."""
        attrs: Attributes = {}
        usage = getattr(response, "usage_metadata", None)
        if usage is not None and type(usage.prompt_token_count) is int:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.prompt_token_count
            return attrs
        counts = [getattr(e.statistics, "token_count", None) for e in getattr(response, "embeddings", None) or ()]
        if counts and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in counts):
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = int(sum(counts))  # sent as floats of whole numbers
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:  # pragma: no cover - embeddings never stream
        raise NotImplementedError("embeddings are not streamed")


# --- the Interactions API (google-genai 3.x's google.genai._gaos; 2.x's Stainless-based client is not traced)
def _interaction_usage(usage: Any, attrs: Attributes) -> None:
    """Counts as for generateContent: thoughts and tool-use tokens apart, added (input + output = total)."""
    if usage is None:
        return
    inputs, tools = usage.total_input_tokens, usage.total_tool_use_tokens
    outputs, thoughts = usage.total_output_tokens, usage.total_thought_tokens
    if type(inputs) is int:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = inputs + (tools if type(tools) is int else 0)
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = (outputs if type(outputs) is int else 0) + (
            thoughts if type(thoughts) is int else 0
        )
    if type(thoughts) is int:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts
    if type(usage.total_cached_tokens) is int:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.total_cached_tokens


def _interaction_content(items: Any) -> list[content.Part]:
    if isinstance(items, str):
        return [content.text(items)]
    parts: list[content.Part] = []
    for item in items or ():
        kind = _get(item, "type")
        if kind == "text":
            parts.append(content.text(_get(item, "text")))
        elif kind == "function_call":
            parts.append(content.tool_call(_get(item, "id"), _get(item, "name"), _get(item, "arguments")))
        elif kind == "function_result":
            parts.append(content.tool_response(_get(item, "call_id"), _get(item, "result")))
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def _interaction_input(value: Any) -> list[dict[str, Any]]:
    """A string, a list of contents (the user's), or a list of turns (``role`` and ``content``)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return [content.message("user", _interaction_content(value if isinstance(value, str) else [value]))]
    if value and all(_get(item, "role") is not None for item in value):
        return [content.message(_role(_get(t, "role"), []), _interaction_content(_get(t, "content"))) for t in value]
    return [content.message("user", _interaction_content(value))]


def _interaction_output(steps: Any, status: Any) -> list[dict[str, Any]]:
    parts: list[content.Part] = []
    for step in steps or ():
        kind = _get(step, "type")
        if kind == "model_output":
            parts.extend(_interaction_content(_get(step, "content")))
        elif kind == "thought":
            parts.append({"type": "reasoning"})  # only a signature: the thoughts themselves are not returned
        elif kind == "function_call":
            parts.append(content.tool_call(_get(step, "id"), _get(step, "name"), _get(step, "arguments")))
        else:
            parts.append({"type": kind or "unknown"})
    return [content.message("assistant", parts, status)]


class CreateInteraction(Endpoint):
    """``interactions.create``: the request as keyword arguments, or as ``request=`` holding its ``body``."""

    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        request = body.get("request")
        if request is not None:
            body = _get(request, "body") or {}
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, model_name(_get(body, "model") or _get(body, "agent")))
        config = _get(body, "generation_config")
        if config is not None:
            put(attrs, sc.GEN_AI_REQUEST_TEMPERATURE, _get(config, "temperature"))
            put(attrs, sc.GEN_AI_REQUEST_TOP_P, _get(config, "top_p"))
            put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, _get(config, "max_output_tokens"))
            put(attrs, sc.GEN_AI_REQUEST_STOP_SEQUENCES, _get(config, "stop_sequences"))
            put(attrs, sc.GEN_AI_REQUEST_SEED, _get(config, "seed"))
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_interaction_input(_get(body, "input")))
            instruction = _get(body, "system_instruction")
            if instruction is not None:
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(_interaction_content(instruction))
            tools = _get(body, "tools")
            if tools:
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(tools)
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, getattr(response, "id", None) or None)
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, model_name(getattr(response, "model", None)))
        status = _reason(getattr(response, "status", None))  # an interaction's status is its finish reason
        put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, [status] if status else None)
        _interaction_usage(getattr(response, "usage", None), attrs)
        if capture:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json(_interaction_output(response.steps, status))
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _InteractionStream(self, capture)


class _InteractionStream(StreamRecorder):
    """``interaction.created`` / ``interaction.completed`` carry the interaction (usage in the last);
    text arrives in ``step.delta`` events."""

    __slots__ = ("capture", "endpoint", "interaction", "text")

    def __init__(self, endpoint: CreateInteraction, capture: bool) -> None:
        self.endpoint = endpoint
        self.capture = capture
        self.interaction: Any = None
        self.text: list[str] = []

    def add(self, event: Any) -> None:
        interaction = getattr(event, "interaction", None)
        if interaction is not None:
            self.interaction = interaction
        elif self.capture:
            delta = getattr(event, "delta", None)
            if getattr(delta, "type", None) == "text":
                self.text.append(delta.text)

    def attributes(self) -> Attributes:
        if self.interaction is None:
            return {}
        attrs = self.endpoint.response_attributes(self.interaction, capture=False)
        if self.capture:
            message = content.message("assistant", [content.text("".join(self.text))], _reason(self.interaction.status))
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs


_GENERATE = GenerateContent()
_EMBED = EmbedContent()
_INTERACTION = CreateInteraction()
_INTERACTIONS_MODULE = "google.genai._gaos.interactions"


class GoogleGenAIInstrumentor(LibraryInstrumentor):
    """``BaseInstrumentor`` for ``google-genai``; the ``agentops_google_genai`` ``opentelemetry_instrumentor``
    entry point."""

    package = "google.genai"
    requirement = "google-genai >= 1.0"
    extra = "gemini"
    provider = sc.PROVIDER_GCP_GEMINI  # sc.PROVIDER_GCP_VERTEX_AI for a client on Vertex AI

    _interactions_hook: bool = False

    def _patch(self, patches: list[Patch]) -> None:
        models = importlib.import_module("google.genai.models")
        for cls, wrap in ((models.Models, self._wrapper), (models.AsyncModels, self._async_wrapper)):
            private = "_embed_content" in cls.__dict__  # older versions send the request from embed_content
            embed = "_embed_content" if private else "embed_content"
            patches.append(wrap_method(cls, "_generate_content", wrap(_GENERATE, stream=False), sessions=False))
            patches.append(wrap_method(cls, "_generate_content_stream", wrap(_GENERATE, stream=True), sessions=False))
            patches.append(wrap_method(cls, embed, wrap(_EMBED, stream=False), sessions=not private))
            # session= on the public calls (chats call them too)
            public = ("generate_content", "generate_content_stream", "embed_content" if private else "")
            patches.extend(accept_session(cls, name) for name in public if name in cls.__dict__)
        # The Interactions API's module is imported when the application first uses it: patched then.
        module = sys.modules.get(_INTERACTIONS_MODULE)
        if module is not None:
            patches.extend(self._interaction_patches(module))
        elif not self._interactions_hook:
            type(self)._interactions_hook = True
            wrapt.register_post_import_hook(self._on_interactions_import, _INTERACTIONS_MODULE)

    def _interaction_patches(self, module: ModuleType) -> list[Patch]:
        """Each hop of ``interactions.create`` (one request; continuation sends several) is one call."""
        return [
            wrap_method(module.Interactions, "create", self._wrapper(_INTERACTION, stream=None), sessions=False),
            wrap_method(
                module.AsyncInteractions, "create", self._async_wrapper(_INTERACTION, stream=None), sessions=False
            ),
        ]

    def _on_interactions_import(self, module: ModuleType) -> None:
        if self._settings is None or not self._patches:
            return  # off, or google.genai itself not patched (it is patched first: it is imported first)
        try:
            self._patches = (*self._patches, *self._interaction_patches(module))
        except Exception as exc:
            report_bug(f"{type(self).__name__}.interactions", exc)

    def _client_attributes(self, module: Any) -> Attributes:
        client = module._api_client
        if self._client_cache[0] is client:
            return self._client_cache[1]
        provider = sc.PROVIDER_GCP_VERTEX_AI if client.vertexai else sc.PROVIDER_GCP_GEMINI
        base_url = getattr(getattr(client, "_http_options", None), "base_url", None)
        return self._server_attributes(client, base_url if isinstance(base_url, str) else "", provider)

    def _start(self, instance: Any, endpoint: Endpoint, kwargs: dict[str, Any], stream: bool | None) -> LLMCall | None:
        settings = self._settings
        if settings is None or in_traced_call():  # inside a call another instrumentor traces
            return None
        try:
            if stream is None:  # interactions.create: streams when the request says so
                request = kwargs.get("request")
                stream = _get(_get(request, "body") if request is not None else kwargs, "stream") is True
            return self._new_call(settings, self._client_attributes(instance), endpoint, kwargs, stream=stream)
        except Exception as exc:
            report_bug(f"{type(self).__name__}.start", exc)
            return None

    def _wrapper(self, endpoint: Endpoint, *, stream: bool | None) -> Callable[..., Any]:
        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = self._start(instance, endpoint, kwargs, stream)
            if call is None:
                return wrapped(*args, **kwargs)
            # a stream is a generator: its request is sent on first read
            return _finish(call, run_traced(call, wrapped, args, kwargs), SyncStreamProxy)

        return wrapper

    def _async_wrapper(self, endpoint: Endpoint, *, stream: bool | None) -> Callable[..., Any]:
        async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = self._start(instance, endpoint, kwargs, stream)
            if call is None:
                return await wrapped(*args, **kwargs)
            result = await run_traced_async(call, wrapped, args, kwargs)
            return _finish(call, result, AsyncStreamProxy if endpoint is _INTERACTION else AsyncGeneratorProxy)

        return wrapper


def _finish(call: LLMCall, result: Any, proxy: Callable[[Any, LLMCall], Any]) -> Any:
    """Record the response and end the span, or hand back a stream proxy that will."""
    try:
        if call.recorder is not None:
            return proxy(result, call)
        call.complete(result)
    except Exception as exc:
        report_bug("GoogleGenAIInstrumentor.finish", exc)
        call.end_without_response()
    return result
