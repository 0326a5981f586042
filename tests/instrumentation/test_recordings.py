"""Every recording, replayed through the real client libraries, gives one LLM span whose attributes
equal what the response says (usage, id, model, finish reasons) and what the request asked for, with
content capture off and on (capture adds the messages and must not lose anything else).

Runs over the project's own fixtures (tests/fixtures) always, and over ../shared/recorded when present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import openai

from agentops_otel import semconv as sc
from tests.instrumentation.expected import expected_attributes, response_attributes
from tests.instrumentation.replaying import check_outcome, check_request, replay_tests
from tests.support.replay import FIXTURES_DIR, ReplayServer, as_kwargs, endpoint_of, method_for

RECORDED = {
    "openai": [
        "chat_404_model_not_found", "chat_basic", "chat_extra_params", "chat_multiple_choices",
        "chat_multiple_choices_streaming", "chat_multiple_tools_streaming", "chat_prompt_caching", "chat_reasoning",
        "chat_streaming", "chat_streaming_not_complete", "chat_streaming_with_usage", "chat_tool_calls",
        "completions_legacy", "completions_legacy_streaming", "embeddings", "embeddings_model_not_found",
        "responses_api_error", "responses_basic", "responses_cache_tokens", "responses_reasoning_tokens",
        "responses_streaming", "responses_tool_call",
    ],
    "anthropic": [
        "messages_all_params", "messages_api_error", "messages_basic", "messages_cache_tokens",
        "messages_prompt_caching_stream", "messages_stream_closed_early", "messages_stream_helper",
        "messages_stream_interrupted", "messages_streaming", "messages_streaming_cache_tokens", "messages_thinking",
        "messages_thinking_streaming", "messages_tool_use", "messages_tools_history", "messages_tools_streaming",
    ],
}  # fmt: skip
# the OpenAI and Anthropic fixtures (other folders are other tests')
OWN = sorted(str(p.relative_to(FIXTURES_DIR)) for name in RECORDED for p in (FIXTURES_DIR / name).glob("*.json"))
OPERATIONS = {"chat/completions": "chat", "completions": "text_completion", "embeddings": "embeddings"}


def requested_max_tokens(body: dict[str, Any]) -> Any:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        if body.get(key) is not None:
            return body[key]
    return None


def requested_stop_sequences(body: dict[str, Any]) -> Any:
    stop = body.get("stop_sequences", body.get("stop"))
    return (stop,) if isinstance(stop, str) else tuple(stop) if stop else None


def replay_and_check(path: Path, provider: str, server: ReplayServer, tracing: Any, capture: bool) -> None:
    tracing.instrument(capture_message_content=capture)
    interactions = server.load(path)
    if provider == "openai":
        client: Any = openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0)
    else:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test-key", max_retries=0)
    with client:
        for interaction in interactions:
            tracing.exporter.clear()
            request, response = interaction["request"], interaction["response"]
            endpoint = endpoint_of(request["uri"])
            body = json.loads(request["body"])
            stream = bool(body.get("stream"))
            method = method_for(provider, endpoint, client)
            error: Exception | None = None
            try:
                result = method(**as_kwargs(method, body))
                if stream:
                    events = list(result)
                    assert events
            except (openai.APIStatusError, anthropic.APIStatusError) as exc:
                error = exc
            span = tracing.only_llm_span()
            has_messages = capture and endpoint != "embeddings"
            attrs = check_request(
                span,
                operation=OPERATIONS.get(endpoint, "chat"),
                provider=provider,
                model=body["model"],
                server=server,
                stream=stream,
                input_messages=has_messages,
            )
            assert attrs.get(sc.GEN_AI_REQUEST_MAX_TOKENS) == requested_max_tokens(body)
            assert attrs.get(sc.GEN_AI_REQUEST_TEMPERATURE) == body.get("temperature")
            assert attrs.get(sc.GEN_AI_REQUEST_SEED) == body.get("seed")
            assert attrs.get(sc.GEN_AI_REQUEST_TOP_P) == body.get("top_p")
            assert attrs.get(sc.GEN_AI_REQUEST_TOP_K) == body.get("top_k")
            assert attrs.get(sc.GEN_AI_REQUEST_STOP_SEQUENCES) == requested_stop_sequences(body)
            if check_outcome(span, error, response["status"]):
                assert error.status_code == response["status"]  # type: ignore[union-attr]
                continue
            expected = expected_attributes(provider, endpoint, response["body"], stream)
            assert expected[sc.GEN_AI_RESPONSE_MODEL]
            produced = response_attributes(span)
            if endpoint == "responses":  # finish reasons are derived from the status (tested separately)
                produced.pop(sc.GEN_AI_RESPONSE_FINISH_REASONS, None)
            assert produced == expected
            if stream:
                assert attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
            assert (sc.GEN_AI_OUTPUT_MESSAGES in attrs) is has_messages
            if has_messages:
                messages = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
                assert messages and all(m["role"] == "assistant" and m["parts"] for m in messages), messages


test_own_fixture, test_recorded, test_every_recording_is_replayed = replay_tests(replay_and_check, OWN, RECORDED)
