"""The span attributes a recorded response should produce, read straight from its wire format.

Written independently of the instrumentation (plain JSON and SSE parsing), so a test comparing the two
checks the instrumentation against what the provider really sent.
"""

from __future__ import annotations

import json
from typing import Any

from agentops_otel import semconv as sc


def sse_data(body: str) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body's ``data:`` lines (``[DONE]`` left out)."""
    events = []
    for line in body.splitlines():
        if line.startswith("data:"):
            payload = line[len("data:") :].strip()
            if payload and payload != "[DONE]":
                events.append(json.loads(payload))
    return events


def _set(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def _openai_usage(attrs: dict[str, Any], usage: dict[str, Any] | None) -> None:
    if not usage:
        return
    _set(attrs, sc.GEN_AI_USAGE_INPUT_TOKENS, usage.get("prompt_tokens"))
    _set(attrs, sc.GEN_AI_USAGE_OUTPUT_TOKENS, usage.get("completion_tokens"))
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    _set(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cached)
    _set(
        attrs,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        (usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
    )


def _responses_usage(attrs: dict[str, Any], usage: dict[str, Any] | None) -> None:
    if not usage:
        return
    _set(attrs, sc.GEN_AI_USAGE_INPUT_TOKENS, usage.get("input_tokens"))
    _set(attrs, sc.GEN_AI_USAGE_OUTPUT_TOKENS, usage.get("output_tokens"))
    _set(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, (usage.get("input_tokens_details") or {}).get("cached_tokens"))
    _set(
        attrs,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        (usage.get("output_tokens_details") or {}).get("reasoning_tokens"),
    )


def _anthropic_usage(attrs: dict[str, Any], usage: dict[str, Any]) -> None:
    read = usage.get("cache_read_input_tokens")
    created = usage.get("cache_creation_input_tokens")
    if usage.get("input_tokens") is not None:  # Anthropic's count excludes the cache; the span's includes it
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage["input_tokens"] + (read or 0) + (created or 0)
    _set(attrs, sc.GEN_AI_USAGE_OUTPUT_TOKENS, usage.get("output_tokens"))
    _set(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, read)
    _set(attrs, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, created)


def expected_attributes(provider: str, endpoint: str, body: str, stream: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if provider == "anthropic":
        if stream:
            usage: dict[str, Any] = {}
            stop = None
            for event in sse_data(body):
                if event["type"] == "message_start":
                    message = event["message"]
                    attrs[sc.GEN_AI_RESPONSE_ID] = message["id"]
                    attrs[sc.GEN_AI_RESPONSE_MODEL] = message["model"]
                    usage.update({k: v for k, v in message["usage"].items() if v is not None})
                elif event["type"] == "message_delta":
                    stop = event["delta"].get("stop_reason") or stop
                    usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        else:
            message = json.loads(body)
            attrs[sc.GEN_AI_RESPONSE_ID] = message["id"]
            attrs[sc.GEN_AI_RESPONSE_MODEL] = message["model"]
            usage, stop = message["usage"], message.get("stop_reason")
        if stop:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (stop,)
        _anthropic_usage(attrs, usage)
        return attrs

    if endpoint == "responses":
        # a stream's last lifecycle event carries the whole response
        response = [e["response"] for e in sse_data(body) if "response" in e][-1] if stream else json.loads(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = response["id"]
        attrs[sc.GEN_AI_RESPONSE_MODEL] = response["model"]
        _responses_usage(attrs, response.get("usage"))
        return attrs

    if endpoint == "embeddings":
        response = json.loads(body)
        attrs[sc.GEN_AI_RESPONSE_MODEL] = response["model"]
        _set(attrs, sc.GEN_AI_USAGE_INPUT_TOKENS, response["usage"].get("prompt_tokens"))
        return attrs

    # chat/completions and legacy completions
    if stream:
        chunks = sse_data(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = chunks[0]["id"]
        attrs[sc.GEN_AI_RESPONSE_MODEL] = chunks[0]["model"]
        reasons: dict[int, str] = {}
        for chunk in chunks:
            for choice in chunk.get("choices") or ():
                if choice.get("finish_reason"):
                    reasons[choice.get("index", 0)] = choice["finish_reason"]
            _openai_usage(attrs, chunk.get("usage"))
        if reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(reasons[i] for i in sorted(reasons))
    else:
        response = json.loads(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = response["id"]
        attrs[sc.GEN_AI_RESPONSE_MODEL] = response["model"]
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(c["finish_reason"] for c in response["choices"])
        _openai_usage(attrs, response.get("usage"))
    return attrs


def response_attributes(span: Any) -> dict[str, Any]:
    """A span's ``gen_ai.response.*`` and ``gen_ai.usage.*`` attributes, what :func:`expected_attributes`
    predicts; the time to the first chunk is left out (measured, not recorded)."""
    produced = {k: v for k, v in span.attributes.items() if k.startswith(("gen_ai.usage.", "gen_ai.response."))}
    produced.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, None)
    return produced


def groq_expected(endpoint: str, body: str, stream: bool) -> dict[str, Any]:
    """Groq's API is OpenAI's; a stream's usage comes in the last chunk's ``x_groq.usage``."""
    attrs = expected_attributes("openai", endpoint, body, stream)
    if stream:
        for chunk in sse_data(body):
            _openai_usage(attrs, (chunk.get("x_groq") or {}).get("usage"))
    return attrs


def mistral_expected(endpoint: str, body: str, stream: bool) -> dict[str, Any]:
    """Mistral's chat API is OpenAI's in shape; its embeddings response has an id the span leaves out."""
    return expected_attributes("openai", endpoint, body, stream)


def gemini_usage(body: str, stream: bool) -> dict[str, Any]:
    """Usage of a Gemini response (a stream's last ``usageMetadata`` is its total); thoughts are output."""
    metadata = (
        [e.get("usageMetadata") or {} for e in sse_data(body)][-1] if stream else json.loads(body)["usageMetadata"]
    )
    attrs: dict[str, Any] = {sc.GEN_AI_USAGE_INPUT_TOKENS: metadata["promptTokenCount"]}
    attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = metadata.get("candidatesTokenCount", 0) + metadata.get(
        "thoughtsTokenCount", 0
    )
    return attrs


def usage_of(attrs: dict[str, Any]) -> dict[str, Any]:
    """The input and output counts of an attribute mapping (what every provider reports)."""
    return {k: attrs[k] for k in (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS) if k in attrs}


def ollama_expected(endpoint: str, body: str, stream: bool) -> dict[str, Any]:
    """Ollama's counts: ``prompt_eval_count`` in, ``eval_count`` out; a stream's last line carries them."""
    response = json.loads(body.strip().splitlines()[-1]) if stream else json.loads(body)
    attrs: dict[str, Any] = {}
    _set(attrs, sc.GEN_AI_RESPONSE_MODEL, response.get("model"))
    if response.get("done_reason"):
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (response["done_reason"],)
    _set(attrs, sc.GEN_AI_USAGE_INPUT_TOKENS, response.get("prompt_eval_count"))
    _set(attrs, sc.GEN_AI_USAGE_OUTPUT_TOKENS, response.get("eval_count"))
    return attrs


def cohere_expected(endpoint: str, body: str, stream: bool) -> dict[str, Any]:
    """What Cohere billed (``billed_units``; its ``tokens`` counts are not billed), the id, finish reason."""
    attrs: dict[str, Any] = {}
    if stream:
        events = sse_data(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = next(e["id"] for e in events if e["type"] == "message-start")
        end = next(e["delta"] for e in events if e["type"] == "message-end")
        reason, billed = end.get("finish_reason"), (end.get("usage") or {}).get("billed_units") or {}
    else:
        response = json.loads(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = response["id"]
        reason = response.get("finish_reason")
        billed = (response.get("usage") or response.get("meta") or {}).get("billed_units") or {}
    if reason:
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    for key, name in (("input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS), ("output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS)):
        if key in billed:
            attrs[name] = int(billed[key])
    return attrs
