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
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _content as content
from agentops_otel.instrumentation._call import Attributes, Endpoint, LLMCall, StreamRecorder, getter, put
from agentops_otel.instrumentation._library import _IN_TRACED_CALL, LibraryInstrumentor
from agentops_otel.instrumentation._patching import Patch, accept_session, report_bug, wrap_method
from agentops_otel.instrumentation._streams import AsyncGeneratorProxy, SyncStreamProxy

_DEFAULT_PORTS = {"https": 443, "http": 80}


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
        if not self.id:
            self.id = event.response_id
            self.model = event.model_version
        usage = event.usage_metadata
        if usage is not None:
            self.usage = usage
        for position, candidate in enumerate(event.candidates or ()):
            index = candidate.index if type(candidate.index) is int else position
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


_GENERATE = GenerateContent()
_EMBED = EmbedContent()


class GoogleGenAIInstrumentor(LibraryInstrumentor):
    """``BaseInstrumentor`` for ``google-genai``; the ``agentops_google_genai`` ``opentelemetry_instrumentor``
    entry point."""

    package = "google.genai"
    requirement = "google-genai >= 1.0"
    extra = "gemini"
    provider = sc.PROVIDER_GCP_GEMINI  # sc.PROVIDER_GCP_VERTEX_AI for a client on Vertex AI

    _client_cache: tuple[Any, Attributes] = (None, {})  # (the library's API client, its attributes)

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

    def _client_attributes(self, module: Any) -> Attributes:
        client = module._api_client
        cached = self._client_cache
        if cached[0] is client:
            return cached[1]
        provider = sc.PROVIDER_GCP_VERTEX_AI if client.vertexai else sc.PROVIDER_GCP_GEMINI
        attrs: Attributes = {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_PROVIDER_NAME: provider}
        base_url = getattr(getattr(client, "_http_options", None), "base_url", None)
        if isinstance(base_url, str):
            url = urlsplit(base_url)
            put(attrs, sc.SERVER_ADDRESS, url.hostname)
            put(attrs, sc.SERVER_PORT, url.port or _DEFAULT_PORTS.get(url.scheme))
        type(self)._client_cache = (client, attrs)  # one tuple: threads see old or new, never half
        return attrs

    def _start(self, instance: Any, endpoint: Endpoint, kwargs: dict[str, Any], stream: bool) -> LLMCall | None:
        settings = self._settings
        if settings is None or _IN_TRACED_CALL.get():  # inside a call another instrumentor traces
            return None
        try:
            return LLMCall(
                settings.tracer,
                self._client_attributes(instance),
                endpoint,
                kwargs,
                capture=settings.capture_content,
                stream=stream,
                parent=self._parent(settings),
            )
        except Exception as exc:
            report_bug(f"{type(self).__name__}.start", exc)
            return None

    def _wrapper(self, endpoint: Endpoint, *, stream: bool) -> Callable[..., Any]:
        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = self._start(instance, endpoint, kwargs, stream)
            if call is None:
                return wrapped(*args, **kwargs)
            token = otel_context.attach(trace.set_span_in_context(call.span))
            mark = _IN_TRACED_CALL.set(True)
            try:
                result = wrapped(*args, **kwargs)  # a stream is a generator: its request is sent on first read
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _IN_TRACED_CALL.reset(mark)
                otel_context.detach(token)
            return _finish(call, result, SyncStreamProxy)

        return wrapper

    def _async_wrapper(self, endpoint: Endpoint, *, stream: bool) -> Callable[..., Any]:
        async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = self._start(instance, endpoint, kwargs, stream)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = otel_context.attach(trace.set_span_in_context(call.span))
            mark = _IN_TRACED_CALL.set(True)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _IN_TRACED_CALL.reset(mark)
                otel_context.detach(token)
            return _finish(call, result, AsyncGeneratorProxy)

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
