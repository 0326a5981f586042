"""The span attributes a recorded response should produce, read straight from its wire format.

Written independently of the instrumentation (plain JSON and SSE parsing), so a test comparing the two
checks the instrumentation against what the provider really sent.
"""

from __future__ import annotations

import base64
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
    """What Cohere billed (``billed_units``; its ``tokens`` counts are not billed), the id, finish reason.

    v2 streams are SSE (billed units in ``message-end``); v1 streams are JSON lines, whose ``stream-end``
    carries the whole response. A v1 response is named by its ``response_id``."""
    attrs: dict[str, Any] = {}
    if stream and not endpoint.startswith("v2/"):
        events = [json.loads(line) for line in body.splitlines() if line.strip()]
        end = next(e for e in events if e["event_type"] == "stream-end")
        response = end["response"]
        attrs[sc.GEN_AI_RESPONSE_ID] = response.get("response_id") or response["generation_id"]
        reason, billed = end.get("finish_reason"), (response.get("meta") or {}).get("billed_units") or {}
    elif stream:
        events = sse_data(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = next(e["id"] for e in events if e["type"] == "message-start")
        end = next(e["delta"] for e in events if e["type"] == "message-end")
        reason, billed = end.get("finish_reason"), (end.get("usage") or {}).get("billed_units") or {}
    else:
        response = json.loads(body)
        attrs[sc.GEN_AI_RESPONSE_ID] = response.get("id") or response.get("response_id") or response["generation_id"]
        reason = response.get("finish_reason")
        billed = (response.get("usage") or response.get("meta") or {}).get("billed_units") or {}
    if reason:
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    for key, name in (("input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS), ("output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS)):
        if key in billed:
            attrs[name] = int(billed[key])
    return attrs


# --- Google Gen AI (Gemini API and Vertex AI) -----------------------------------------------------------
def gemini_chunks(body: str) -> list[dict[str, Any]]:
    """The response objects of a generateContent body: one JSON object, SSE ``data:`` lines or a JSON array."""
    if body.lstrip().startswith("data:"):
        return sse_data(body)
    parsed = json.loads(body)
    return parsed if isinstance(parsed, list) else [parsed]


def expected_gemini(body: str) -> dict[str, Any]:
    """Gemini counts thoughts apart from candidates and tool-use prompt tokens apart from the prompt: the
    span adds them (input + output = totalTokenCount). Each streamed chunk carries the usage so far."""
    chunks = gemini_chunks(body)
    attrs: dict[str, Any] = {}
    first = chunks[0]
    if "predictions" in first:  # Vertex AI embeddings: tokens counted per text (as floats)
        counts = [p["embeddings"]["statistics"]["token_count"] for p in first["predictions"]]
        return {sc.GEN_AI_USAGE_INPUT_TOKENS: int(sum(counts))}
    _set(attrs, sc.GEN_AI_RESPONSE_ID, first.get("responseId"))
    model = first.get("modelVersion")
    _set(attrs, sc.GEN_AI_RESPONSE_MODEL, model.removeprefix("models/") if model else None)
    reasons: dict[int, str] = {}
    usage: dict[str, Any] = {}
    for chunk in chunks:
        for position, candidate in enumerate(chunk.get("candidates") or ()):
            if candidate.get("finishReason"):
                reasons[candidate.get("index", position)] = candidate["finishReason"].lower()
        usage = chunk.get("usageMetadata") or usage
    if reasons:
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(reasons[i] for i in sorted(reasons))
    if "promptTokenCount" in usage:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage["promptTokenCount"] + usage.get("toolUsePromptTokenCount", 0)
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
    _set(attrs, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.get("thoughtsTokenCount"))
    _set(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.get("cachedContentTokenCount"))
    return attrs


# --- AWS Bedrock Runtime --------------------------------------------------------------------------------
def bedrock_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The (event type, JSON payload) of each frame of an AWS event stream, decoded by hand."""
    events = []
    while raw:
        total, headers_length = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big")
        headers, at = {}, 12
        while at < 12 + headers_length:
            name_length = raw[at]
            name = raw[at + 1 : at + 1 + name_length].decode()
            at += 1 + name_length + 1  # name, then its type (7: string)
            value_length = int.from_bytes(raw[at : at + 2], "big")
            headers[name] = raw[at + 2 : at + 2 + value_length].decode()
            at += 2 + value_length
        events.append((headers[":event-type"], json.loads(raw[12 + headers_length : total - 4])))
        raw = raw[total:]
    return events


def _bedrock_usage(attrs: dict[str, Any], inputs: Any, outputs: Any, read: Any, written: Any) -> None:
    """Bedrock's input count leaves the cache reads and writes out; the span's includes them."""
    if inputs is not None:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = int(inputs) + int(read or 0) + int(written or 0)
    _set(attrs, sc.GEN_AI_USAGE_OUTPUT_TOKENS, None if outputs is None else int(outputs))
    _set(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, None if read is None else int(read))
    _set(attrs, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, None if written is None else int(written))


def expected_bedrock(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """``operation``: the last segment of the request path (converse, converse-stream, invoke,
    invoke-with-response-stream); ``response``: the recorded response."""
    attrs: dict[str, Any] = {}
    if operation == "converse":
        body = json.loads(response["body"])
        usage, stop = body["usage"], body.get("stopReason")
    elif operation == "converse-stream":
        usage, stop = {}, None
        for kind, payload in bedrock_events(base64.b64decode(response["body"])):
            if kind == "messageStop":
                stop = payload["stopReason"]
            elif kind == "metadata":
                usage = payload["usage"]
    if operation.startswith("converse"):
        if stop:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (stop,)
        _bedrock_usage(
            attrs,
            usage.get("inputTokens"),
            usage.get("outputTokens"),
            usage.get("cacheReadInputTokens"),
            usage.get("cacheWriteInputTokens"),
        )
        return attrs
    if operation == "invoke":  # what Bedrock bills is in its headers; id, model and stop reason in the model's body
        headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response["headers"].items()}
        body = json.loads(response["body"])
        counts = [headers.get(f"x-amzn-bedrock-{name}-token-count") for name in ("input", "output")]
        caches = [headers.get(f"x-amzn-bedrock-cache-{name}-input-token-count") for name in ("read", "write")]
        _bedrock_usage(attrs, *counts, *caches)
        chunks = [body]
    else:  # the model's events in each chunk; Bedrock's billed counts in the last one
        chunks = [
            json.loads(base64.b64decode(payload["bytes"]))
            for _, payload in bedrock_events(base64.b64decode(response["body"]))
        ]
        billed = chunks[-1]["amazon-bedrock-invocationMetrics"]
        _bedrock_usage(
            attrs,
            billed["inputTokenCount"],
            billed["outputTokenCount"],
            billed.get("cacheReadInputTokenCount"),
            billed.get("cacheWriteInputTokenCount"),
        )
    stop = None
    for chunk in chunks:
        message = chunk.get("message") if chunk.get("type") == "message_start" else chunk
        if chunk.get("type") in ("message", "message_start"):
            attrs[sc.GEN_AI_RESPONSE_ID] = message["id"]
            attrs[sc.GEN_AI_RESPONSE_MODEL] = message["model"]
        stop = (
            chunk.get("stop_reason")
            or (chunk.get("delta") or {}).get("stop_reason")
            or chunk.get("stopReason")
            or chunk.get("completionReason")
            or ((chunk.get("results") or [{}])[0]).get("completionReason")
            or stop
        )
    if stop:
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (stop,)
    return attrs
