"""Instrumentation of the ``mistralai`` library (1.2 to 3.x): ``chat.complete`` / ``chat.stream`` and
their async forms, and ``embeddings.create``, each as one LLM span.

Mistral's chat API is OpenAI's in shape (``usage.prompt_tokens`` / ``completion_tokens``, choices
with finish reasons, tool calls), so the OpenAI endpoints read its responses; a stream's events wrap
each chunk in ``data``. mistralai 2.x and later start their own span for each request when a global
TracerProvider is set; inside a call we trace it is told tracing is off, so one call is one LLM span.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._call import Attributes, StreamRecorder, put
from agentops_otel.instrumentation._library import Method, MethodInstrumentor, in_traced_call
from agentops_otel.instrumentation._patching import Patch, replace_attribute
from agentops_otel.instrumentation.openai import ChatCompletions, Embeddings, _ChatStream


class _MistralChatStream(_ChatStream):
    __slots__ = ()

    def add(self, event: Any) -> None:
        super().add(getattr(event, "data", event))  # CompletionEvent(data=CompletionChunk)


class MistralChat(ChatCompletions):
    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = super().request_attributes(body, capture)
        put(attrs, sc.GEN_AI_REQUEST_SEED, body.get("random_seed"))
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _MistralChatStream(capture)


class MistralEmbeddings(Embeddings):
    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs = super().request_attributes(body, capture)
        put(attrs, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, body.get("output_dimension"))
        return attrs


_CHAT, _EMBEDDINGS = MistralChat(), MistralEmbeddings()


def _methods(prefix: str) -> tuple[Method, ...]:
    chat, embeddings = f"{prefix}.chat", f"{prefix}.embeddings"
    return (
        Method(chat, "Chat.complete", _CHAT, stream=False),
        Method(chat, "Chat.complete_async", _CHAT, stream=False),
        Method(chat, "Chat.stream", _CHAT, stream=True),
        Method(chat, "Chat.stream_async", _CHAT, stream=True),
        Method(embeddings, "Embeddings.create", _EMBEDDINGS, stream=False),
        Method(embeddings, "Embeddings.create_async", _EMBEDDINGS, stream=False),
    )


def _untraced_inside_ours(start: Any) -> Any:
    def get_traced_request_and_span(tracing_enabled: bool, tracer: Any, span: Any, *args: Any, **kwargs: Any) -> Any:
        return start(tracing_enabled and not in_traced_call(), tracer, span, *args, **kwargs)

    return get_traced_request_and_span


class MistralInstrumentor(MethodInstrumentor):
    """``BaseInstrumentor`` for ``mistralai``; the ``agentops_mistralai`` ``opentelemetry_instrumentor`` entry point."""

    package = "mistralai"
    requirement = "mistralai >= 1.2"
    provider = sc.PROVIDER_MISTRAL
    methods = _methods("mistralai.client")  # 3.x; 1.x and 2.x keep them under mistralai itself

    def _patch(self, patches: list[Patch]) -> None:
        try:
            importlib.import_module("mistralai.client.chat")
        except ImportError:
            type(self).methods = _methods("mistralai")
        super()._patch(patches)
        patches.extend(self._native_tracing_patches())

    def _native_tracing_patches(self) -> list[Patch]:
        """Turn the library's own request span off for the calls we trace (its hook sees no span to start)."""
        for name in ("mistralai.client._hooks.tracing", "mistralai._hooks.tracing"):
            try:
                hooks = importlib.import_module(name)
            except ImportError:
                continue
            start = hooks.__dict__.get("get_traced_request_and_span")
            return [] if start is None else [replace_attribute(hooks, start.__name__, _untraced_inside_ours(start))]  # type: ignore[arg-type]
        return []

    def _client_attributes(self, instance: Any, body: Mapping[str, Any]) -> Attributes:
        url = body.get("server_url")
        if not isinstance(url, str):
            url = instance.sdk_configuration.get_server_details()[0]
        return self._server_attributes(url, url)
