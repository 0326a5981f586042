"""Instrumentation of ``litellm``: ``completion`` / ``acompletion`` and ``text_completion`` /
``atext_completion`` (streamed or not), ``embedding`` / ``aembedding`` and ``responses`` / ``aresponses``,
each as one LLM span naming the real provider and model.

LiteLLM reaches some providers through their own libraries (``openai``, ``anthropic``, ...) and others
over plain HTTP. Whatever the route, a call is one span: the call is marked as traced while LiteLLM
runs, and our instrumentors of the libraries underneath pass through (no second span, no second cost).
The provider is LiteLLM's own routing of the model name (``gemini/gemini-2.5-flash`` is Gemini's
``gemini-2.5-flash``), named as the GenAI conventions name it. Usage is LiteLLM's OpenAI-shaped
``usage`` of the provider's counts (prompt tokens include cache reads and writes, completion tokens
include reasoning); LiteLLM's own cost figure is ignored: the collector prices the tokens.

Patched are the functions of the ``litellm`` module, which ``litellm.completion(...)`` calls (CrewAI's
route) and ``from litellm import completion`` copies once it has run.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._call import (
    Attributes,
    LLMCall,
    StreamRecorder,
    field,
    getter,
    put,
    token_count,
    usage_attributes,
)
from agentops_otel.instrumentation._library import _IN_TRACED_CALL, Method, MethodInstrumentor
from agentops_otel.instrumentation._patching import report_bug
from agentops_otel.instrumentation._streams import AsyncGeneratorProxy, SyncStreamProxy
from agentops_otel.instrumentation.openai import ChatCompletions, Embeddings, LegacyCompletions, Responses, _ChatStream

# LiteLLM's provider names -> gen_ai.provider.name (others are kept as LiteLLM names them)
PROVIDER_NAMES = {
    "openai": sc.PROVIDER_OPENAI,
    "text-completion-openai": sc.PROVIDER_OPENAI,
    "azure": sc.PROVIDER_AZURE_OPENAI,
    "azure_text": sc.PROVIDER_AZURE_OPENAI,
    "azure_ai": "azure.ai.inference",
    "anthropic": sc.PROVIDER_ANTHROPIC,
    "anthropic_text": sc.PROVIDER_ANTHROPIC,
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "mistral": sc.PROVIDER_MISTRAL,
    "codestral": sc.PROVIDER_MISTRAL,
    "groq": sc.PROVIDER_GROQ,
    "cohere": sc.PROVIDER_COHERE,
    "cohere_chat": sc.PROVIDER_COHERE,
    "ollama": sc.PROVIDER_OLLAMA,
    "ollama_chat": sc.PROVIDER_OLLAMA,
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
}
_SCOPE = "litellm"  # the provider named when LiteLLM cannot route the model


def _read(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)`` for LiteLLM's objects, without a failed attribute lookup.

    They are pydantic models keeping what they do not declare (a ``ModelResponse``'s ``usage``, Anthropic's
    cache counts in a ``Usage``) as extras, which an attribute lookup reaches only after failing: an
    ``AttributeError`` raised and caught inside pydantic, about 12 K instructions a read.
    """
    extras = getattr(obj, "__pydantic_extra__", None)
    if extras is None:  # a dict, or a model that keeps no extras
        return field(obj, name)
    if name in extras:
        return extras[name]
    if name in obj.__dict__ or _on_class(type(obj), name):  # a declared field, or a property: found at once
        return getattr(obj, name, None)
    return None  # neither given nor declared


@functools.lru_cache(maxsize=256)
def _on_class(cls: type, name: str) -> bool:
    return any(name in vars(base) for base in cls.__mro__)


def _usage(usage: Any, attrs: Attributes) -> None:
    """OpenAI's usage fields, declared by LiteLLM's ``Usage``; the others may be extras (:func:`_read`)."""
    if usage is None:
        return
    get = getter(usage)
    prompt_details = get(usage, "prompt_tokens_details", None)
    cache_read = token_count(field(prompt_details, "cached_tokens")) if prompt_details is not None else None
    if not cache_read:
        cache_read = token_count(_read(usage, "cache_read_input_tokens")) or cache_read
    cache_creation = token_count(_read(usage, "cache_creation_input_tokens"))
    if cache_creation is None and prompt_details is not None:
        cache_creation = token_count(_read(prompt_details, "cache_creation_tokens"))
    completion_details = get(usage, "completion_tokens_details", None)
    usage_attributes(
        attrs,
        input_tokens=token_count(get(usage, "prompt_tokens", None)),
        output_tokens=token_count(get(usage, "completion_tokens", None)),
        cache_read=cache_read,
        cache_creation=cache_creation,
        reasoning=None if completion_details is None else token_count(field(completion_details, "reasoning_tokens")),
    )


_ROUTES_KEPT = 1024
_routes: dict[tuple[str, Any], tuple[str, str]] = {}  # (model, custom_llm_provider) -> (provider, model)


def _route(model: str, custom_provider: Any) -> tuple[str, str]:
    """LiteLLM's routing of a model name, as (gen_ai.provider.name, model); kept per name.

    Asked without ``api_base``: LiteLLM then matches the base URL against every provider it knows,
    which costs hundreds of microseconds per call, and the model name alone routes a call.
    """
    key = (model, custom_provider if isinstance(custom_provider, str) else None)
    found = _routes.get(key)
    if found is not None:
        return found
    provider, name = _SCOPE, model
    try:
        name, routed, _, _ = sys.modules["litellm"].get_llm_provider(model=model, custom_llm_provider=key[1])
        provider = PROVIDER_NAMES.get(routed, routed) or _SCOPE
    except Exception:  # a model LiteLLM cannot route: the call fails by itself, the span says so
        pass
    if len(_routes) >= _ROUTES_KEPT:  # names come from the application: bounded
        _routes.clear()
    _routes[key] = (provider, name)
    return provider, name


class _Routed:
    """The provider and model LiteLLM routes a request to, written over the request's own attributes
    (a mixin put before the OpenAI endpoint whose request and response a LiteLLM call has)."""

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = super().request_attributes(body, capture)  # type: ignore[misc]
        model = body.get("model")
        if isinstance(model, str):
            attrs[sc.GEN_AI_PROVIDER_NAME], attrs[sc.GEN_AI_REQUEST_MODEL] = _route(
                model, body.get("custom_llm_provider")
            )
        return attrs


class _LiteLLMChatStream(_ChatStream):
    """Usage comes in a chunk's ``usage`` when the application asked for it (``stream_options``), else
    LiteLLM hands the provider's total over in the last chunk's hidden ``_hidden_params["usage"]``."""

    __slots__ = ("reported",)

    def __init__(self, capture: bool) -> None:
        super().__init__(capture)
        self.reported: Any = None

    def add(self, event: Any) -> None:
        super().add(event)
        hidden = getattr(event, "_hidden_params", None)
        if hidden:
            usage = hidden.get("usage")
            if usage is not None and type(usage).__name__ != "UnreportedUsage":  # zeros: the provider sent none
                self.reported = usage

    def attributes(self) -> Attributes:
        usage, self.usage = self.usage or self.reported, None
        attrs = super().attributes()
        _usage(usage, attrs)
        return attrs


class _ProviderUsage:
    """A completion's usage read the LiteLLM way (counts as ints, cache and reasoning details)."""

    def usage_attributes(self, response: Any, attrs: Attributes) -> None:
        _usage(_read(response, "usage"), attrs)

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _LiteLLMChatStream(capture)


class LiteLLMCompletion(_Routed, _ProviderUsage, ChatCompletions):
    pass


class LiteLLMTextCompletion(_Routed, _ProviderUsage, LegacyCompletions):
    """``text_completion``: LiteLLM sends the prompt as a completion (OpenAI's legacy endpoint) or as a
    chat message; a stream is traced on the chat chunks under LiteLLM's text chunks (they keep the usage)."""


class LiteLLMEmbedding(_Routed, Embeddings):
    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, field(response, "model"))
        usage_attributes(attrs, input_tokens=token_count(field(_read(response, "usage"), "prompt_tokens")))
        return attrs


class LiteLLMResponses(_Routed, Responses):
    pass


class _ReadInCall(SyncStreamProxy):
    """A text stream whose request, sent by the library underneath (``openai``), goes out when first
    read: each read is inside the traced call, so that library's instrumentor stands aside."""

    def __next__(self) -> Any:
        mark = _IN_TRACED_CALL.set(True)
        try:
            return super().__next__()
        finally:
            _IN_TRACED_CALL.reset(mark)


class _ReadInCallAsync(AsyncGeneratorProxy):
    async def __anext__(self) -> Any:
        mark = _IN_TRACED_CALL.set(True)
        try:
            return await super().__anext__()
        finally:
            _IN_TRACED_CALL.reset(mark)


_COMPLETION, _TEXT_COMPLETION = LiteLLMCompletion(), LiteLLMTextCompletion()
_EMBEDDING, _RESPONSES = LiteLLMEmbedding(), LiteLLMResponses()


class LiteLLMInstrumentor(MethodInstrumentor):
    """``BaseInstrumentor`` for ``litellm``; the ``agentops_litellm`` ``opentelemetry_instrumentor`` entry point."""

    package = "litellm"
    requirement = "litellm >= 1.60"
    provider = _SCOPE
    methods = (
        Method("litellm", "completion", _COMPLETION),
        Method("litellm", "acompletion", _COMPLETION),
        Method("litellm", "text_completion", _TEXT_COMPLETION),
        Method("litellm", "atext_completion", _TEXT_COMPLETION),
        Method("litellm", "embedding", _EMBEDDING, stream=False),
        Method("litellm", "aembedding", _EMBEDDING, stream=False),
        Method("litellm", "responses", _RESPONSES, optional=True),
        Method("litellm", "aresponses", _RESPONSES, optional=True),
    )

    def _client_attributes(self, instance: Any, body: Mapping[str, Any]) -> Attributes:
        return {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_PROVIDER_NAME: _SCOPE}

    def _finish(self, call: LLMCall, result: Any, *, asynchronous: bool) -> Any:
        if call.endpoint is _TEXT_COMPLETION and call.recorder is not None:
            chunks = getattr(result, "completion_stream", None)  # a TextCompletionStreamWrapper's chat chunks
            if chunks is not None:
                try:
                    proxy = _ReadInCallAsync if asynchronous else _ReadInCall
                    result.completion_stream = proxy(chunks, call)
                except Exception as exc:
                    report_bug(f"{type(self).__name__}.finish", exc)
                    call.end_without_response()
                return result
        return super()._finish(call, result, asynchronous=asynchronous)
