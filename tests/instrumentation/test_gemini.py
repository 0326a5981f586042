"""google-genai (Gemini Developer API and Vertex AI backends) against the replay server: every recording
gives one LLM span whose tokens are what the provider billed (input + output = totalTokenCount), streams
end exactly once on every exit path, async calls and errors are recorded, other methods pass through.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from google.genai import errors as genai_errors
from opentelemetry.trace import StatusCode

from agentops_otel import semconv as sc
from agentops_otel.instrumentation.google_genai import GoogleGenAIInstrumentor
from tests.conftest import fixture_path, recorded_path
from tests.instrumentation.conftest import gemini_client, vertex_client
from tests.instrumentation.expected import expected_gemini, gemini_chunks, response_attributes, sse_data
from tests.instrumentation.replaying import CAPTURE, check_outcome, check_request, replay_tests
from tests.support.replay import FIXTURES_DIR, ReplayServer, load_interactions

RECORDED = {
    "gemini": [
        "embed_content", "generate_content_basic", "generate_content_code_execution",
        "generate_content_error_invalid_key", "generate_content_include_thoughts",
        "generate_content_multiple_tool_calls", "generate_content_streaming", "generate_content_streaming_tool_call",
        "generate_content_tool_call", "generate_content_tool_call_history",
    ],
    "vertexai": [
        "error_invalid_temperature", "error_missing_model", "function_call", "function_response_history",
        "genai_sdk_generate_content", "genai_sdk_generate_content_async", "genai_sdk_streaming_async",
        "generate_content", "generate_content_extra_params", "stream_function_call",
    ],
}  # fmt: skip
# Tested on their own below: not a model call (no span), and the Interactions API.
OTHER_RECORDINGS = {"gemini/cached_content_create", "gemini/interactions_create"}
OWN = sorted(
    str(p.relative_to(FIXTURES_DIR))
    for d in ("gemini", "vertexai")
    for p in (FIXTURES_DIR / d).glob("*.json")
    if not p.name.startswith("interaction")  # the Interactions API: tested below
)
PROVIDERS = {"gemini": sc.PROVIDER_GCP_GEMINI, "vertexai": sc.PROVIDER_GCP_VERTEX_AI}
# generation config (REST names) -> attribute
REQUEST_PARAMS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "topP": sc.GEN_AI_REQUEST_TOP_P,
    "topK": sc.GEN_AI_REQUEST_TOP_K,
    "maxOutputTokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "stopSequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "presencePenalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequencyPenalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
}
# The older vertexai SDK asked for enums as numbers ($alt=json;enum-encoding=int) and streams as one JSON
# array; google-genai asks for names and SSE. Those recordings are replayed with the numbers named (the
# values of the google.cloud.aiplatform protos) and the array sent as SSE; every count is left as recorded.
ENUM_NAMES = {
    "finishReason": {1: "STOP", 2: "MAX_TOKENS", 3: "SAFETY"},
    "modality": {1: "TEXT"},
    "trafficType": {1: "ON_DEMAND"},
}


def _named(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ENUM_NAMES[k].get(v, v) if k in ENUM_NAMES else _named(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v) for v in value]
    return value


def as_google_genai_sends_it(interaction: dict[str, Any]) -> dict[str, Any]:
    interaction = copy.deepcopy(interaction)
    response = interaction["response"]
    if "enum-encoding%3Dint" in interaction["request"]["uri"] and response["status"] == 200:
        chunks = [_named(c) for c in gemini_chunks(response["body"])]
        if ":streamGenerateContent" in interaction["request"]["uri"]:
            response["body"] = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks)
        else:
            response["body"] = json.dumps(chunks[0])
    return interaction


def client_for(folder: str, uri: str, server: ReplayServer) -> Any:
    if folder == "gemini":
        return gemini_client(server)
    parts = urlsplit(uri).path.strip("/").split("/")  # v1/projects/P/locations/L/...
    return vertex_client(server, project=parts[2], location=parts[4], api_version=parts[0])


def call_arguments(request: dict[str, Any], legacy_vertex: bool) -> tuple[str, str, dict[str, Any]]:
    """(method, model, keyword arguments) that make google-genai send the recorded request."""
    path = urlsplit(request["uri"]).path
    model, operation = path.rsplit("/models/", 1)[1].split(":")
    body = json.loads(request["body"])
    if operation == "batchEmbedContents":
        contents = [part["text"] for r in body["requests"] for part in r["content"]["parts"]]
        return "embed_content", model, {"model": model, "contents": contents}
    if operation == "predict":
        return "embed_content", model, {"model": model, "contents": [i["content"] for i in body["instances"]]}
    config = dict(body.get("generationConfig") or {})
    for key in ("systemInstruction", "tools", "toolConfig"):
        if key in body and not (legacy_vertex and key == "tools"):  # numeric schema types google-genai rejects
            config[key] = body[key]
    method = "generate_content_stream" if operation == "streamGenerateContent" else "generate_content"
    return method, model, {"model": model, "contents": body["contents"], "config": config or None}


def replay_and_check(path: Path, folder: str, server: ReplayServer, tracing: Any, capture: bool) -> None:
    tracing.instrument(capture_message_content=capture)
    interactions = load_interactions(path)
    client = client_for(folder, interactions[0]["request"]["uri"], server)
    for recorded in interactions:
        tracing.exporter.clear()
        legacy_vertex = "enum-encoding%3Dint" in recorded["request"]["uri"]
        interaction = as_google_genai_sends_it(recorded)
        server.load([interaction])
        method, model, kwargs = call_arguments(interaction["request"], legacy_vertex)
        response = interaction["response"]
        error: Exception | None = None
        try:
            result = getattr(client.models, method)(**kwargs)
            if method == "generate_content_stream":
                assert list(result)
        except genai_errors.APIError as exc:
            error = exc
        span = tracing.only_llm_span()
        operation = "embeddings" if method == "embed_content" else "chat"
        attrs = check_request(
            span,
            operation=operation,
            provider=PROVIDERS[folder],
            model=model,
            server=server,
            stream=method == "generate_content_stream",
            input_messages=capture and operation == "chat",
        )
        config = kwargs.get("config") or {}
        for key, name in REQUEST_PARAMS.items():
            expected = config.get(key)
            assert attrs.get(name) == (tuple(expected) if isinstance(expected, list) else expected), name
        if check_outcome(span, error, response["status"]):
            assert error.code == response["status"]  # type: ignore[union-attr]
            continue
        assert response_attributes(span) == expected_gemini(response["body"])
        if operation == "embeddings":
            continue
        usage = gemini_chunks(response["body"])[-1]["usageMetadata"]
        # what the span counts is what Gemini billed: input + output is its total
        assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] + attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["totalTokenCount"]
        if capture:
            messages = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
            assert messages and all(m["role"] == "assistant" for m in messages)


test_own_fixture, test_recorded, test_every_recording_is_replayed = replay_tests(
    replay_and_check, OWN, RECORDED, frozenset(OTHER_RECORDINGS)
)


@pytest.fixture
def gemini(replay_server: ReplayServer) -> Any:
    """A Gemini API client kept for the whole test (google-genai closes its HTTP client when the Client goes)."""
    return gemini_client(replay_server)


# --- the tokens of a cached, tool-using, thinking answer --------------------------------------------------
def test_cached_tool_use_and_thought_tokens(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    response = gemini.models.generate_content(model="gemini-2.5-flash", contents="Weather?")
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1200 + 40  # cached tokens are part of the prompt's count
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 25 + 60
    assert attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 60
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "gemini-2.5-flash"  # "models/" left out, as prices know it
    assert response.usage_metadata.total_token_count == 1325  # the library's object is untouched


def test_content_capture(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    history = [
        {"role": "user", "parts": [{"text": "Weather in Oslo?"}]},
        {"role": "model", "parts": [{"function_call": {"name": "get_weather", "args": {"city": "Oslo"}}}]},
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"temp": 3}}}]},
    ]
    config = {"system_instruction": "Answer briefly.", "tools": [{"function_declarations": [{"name": "get_weather"}]}]}
    gemini.models.generate_content(model="models/gemini-2.5-flash", contents=history, config=config)
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gemini-2.5-flash"
    call = {"type": "tool_call", "id": None, "name": "get_weather", "arguments": {"city": "Oslo"}}
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]},
        {"role": "assistant", "parts": [call]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "get_weather", "response": {"temp": 3}}]},
    ]
    assert json.loads(attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Answer briefly."}]
    assert json.loads(attrs[sc.GEN_AI_TOOL_DEFINITIONS])[0]["function_declarations"][0]["name"] == "get_weather"
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "The user wants the weather; call the tool."},
                {"type": "text", "content": "Let me look that up."},
                {"type": "tool_call", "id": None, "name": "get_weather", "arguments": {"city": "Oslo"}},
            ],
            "finish_reason": "stop",
        }
    ]


def test_content_is_off_by_default(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    gemini.models.generate_content(model="gemini-2.5-flash", contents="secret", config={"system_instruction": "secret"})
    attrs = tracing.only_llm_span().attributes
    assert not any("secret" in str(v) for v in attrs.values())
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs and sc.GEN_AI_OUTPUT_MESSAGES not in attrs


def test_request_parameters_from_a_config_object(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    from google.genai import types

    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    config = types.GenerateContentConfig(
        temperature=0.3, top_p=0.9, top_k=20, max_output_tokens=256, stop_sequences=["END"], seed=7,
        candidate_count=2, response_mime_type="application/json",
    )  # fmt: skip
    gemini.models.generate_content(model="gemini-2.5-flash", contents="hi", config=config)
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[sc.GEN_AI_REQUEST_TOP_K] == 20
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[sc.GEN_AI_REQUEST_SEED] == 7
    assert attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert attrs[sc.GEN_AI_OUTPUT_TYPE] == "json"


# --- streams -------------------------------------------------------------------------------------------
def assert_ended_once(tracing: Any) -> Any:
    span = tracing.only_llm_span()
    assert tracing.counter.ends[span.context.span_id] == 1
    return span


def stream(client: Any) -> Any:
    return client.models.generate_content_stream(model="gemini-2.5-flash", contents="Count to three")


def test_stream_read_to_the_end(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    text = "".join(chunk.text or "" for chunk in stream(gemini))
    assert text == "One, two, three."
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 18  # the last chunk's counts, thoughts included
    assert span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [
        {"type": "reasoning", "content": "Counting"},
        {"type": "text", "content": "One, two, three."},
    ]


def test_stream_early_break_then_garbage_collection(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    chunks = stream(gemini)
    for _ in chunks:
        break
    assert tracing.llm_spans() == []  # the application may still read on
    time.sleep(0.01)
    before_drop = time.time_ns()
    del chunks
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.end_time < before_drop  # ended when the last chunk was read, not when collected
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "own-gemini-stream-2"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9  # the first chunk's usage so far
    assert span.status.status_code is StatusCode.UNSET


def test_stream_closed(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    chunks = stream(gemini)
    next(chunks)
    chunks.close()
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_stream_connection_lost(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    (interaction,) = copy.deepcopy(load_interactions(fixture_path("gemini/stream_thoughts.json")))
    first_chunk_end = interaction["response"]["body"].index("\r\n\r\n") + 4
    interaction["response"]["truncate_at"] = first_chunk_end + 10
    replay_server.load([interaction])
    received = []
    with pytest.raises(Exception) as raised:  # the HTTP library's own error, as google-genai lets it through
        received.extend(stream(gemini))
    assert len(received) == 1
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "own-gemini-stream-2"  # what arrived before the cut


def test_stream_refused(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    (interaction,) = load_interactions(fixture_path("gemini/generate_429.json"))
    interaction["request"]["uri"] = interaction["request"]["uri"].replace(":generateContent", ":streamGenerateContent")
    replay_server.load([interaction])
    with pytest.raises(genai_errors.ClientError) as raised:
        list(stream(gemini))
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ClientError"
    assert raised.value.code == 429


# --- async, chats, one span per request -------------------------------------------------------------------
async def test_async_generate_stream_and_embed(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    replay_server.load(fixture_path("gemini/embed_batch.json"))
    aio = gemini.aio
    tracer = tracing.provider.get_tracer("test")
    with tracer.start_as_current_span("parent") as parent:
        response = await aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        chunks = [c async for c in await aio.models.generate_content_stream(model="gemini-2.5-flash", contents="x")]
        embedded = await aio.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert response.response_id == "own-gemini-1" and len(chunks) == 3 and len(embedded.embeddings) == 2
    spans = tracing.llm_spans()
    assert [s.name for s in spans] == [
        "chat gemini-2.5-flash",
        "chat gemini-2.5-flash",
        "embeddings gemini-embedding-001",
    ]
    assert all(s.parent.span_id == parent.get_span_context().span_id for s in spans)
    assert spans[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1240
    assert spans[1].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 18
    assert all(tracing.counter.ends[s.context.span_id] == 1 for s in spans)


async def test_async_stream_left_early_and_closed(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    chunks = await gemini.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="x")
    async for _ in chunks:
        break
    assert tracing.llm_spans() == []
    await chunks.aclose()
    for _ in range(5):  # the library's inner generators are closed by the event loop's finalizer, in turn
        await asyncio.sleep(0)
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "own-gemini-stream-2"


@pytest.mark.recorded
async def test_async_vertex_recordings(tracing: Any, replay_server: ReplayServer) -> None:
    replay_server.load(recorded_path("vertexai/genai_sdk_generate_content_async.json"))
    replay_server.load(recorded_path("vertexai/genai_sdk_streaming_async.json"))
    client = vertex_client(replay_server)
    aio = client.aio
    response = await aio.models.generate_content(
        model="gemini-2.5-flash", contents="Create a poem about Open Telemetry."
    )
    chunks = [c async for c in await aio.models.generate_content_stream(model="gemini-2.5-flash", contents="poem")]
    plain, streamed = tracing.llm_spans()
    assert plain.attributes[sc.GEN_AI_PROVIDER_NAME] == streamed.attributes[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    usage = response.usage_metadata
    assert plain.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == usage.prompt_token_count == 8
    assert plain.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.candidates_token_count + usage.thoughts_token_count
    last = chunks[-1].usage_metadata
    assert streamed.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] + 8 == last.total_token_count == 2472


async def test_async_error(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/generate_429.json"))
    with pytest.raises(genai_errors.ClientError):
        await gemini.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR


def test_chat_one_span_per_message(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    chat = gemini.chats.create(model="gemini-2.5-flash")
    chat.send_message("Weather?")
    assert "".join(c.text or "" for c in chat.send_message_stream("Count")) == "One, two, three."
    first, second = tracing.llm_spans()
    assert first.attributes[sc.GEN_AI_RESPONSE_ID] == "own-gemini-1"
    assert second.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert second.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 18


def test_automatic_function_calling_is_one_span_per_request(
    tracing: Any, replay_server: ReplayServer, gemini: Any
) -> None:
    """The library calls the function itself and asks again: two billed requests, two spans."""
    interactions = load_interactions(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    answer = copy.deepcopy(load_interactions(fixture_path("vertexai/generate_content.json")))
    answer[0]["request"]["uri"] = interactions[0]["request"]["uri"]
    replay_server.load(interactions + answer)
    calls = []

    def get_weather(city: str) -> str:
        """Weather of a city."""
        calls.append(city)
        return "cold"

    response = gemini.models.generate_content(
        model="gemini-2.5-flash", contents="Weather in Oslo?", config={"tools": [get_weather]}
    )
    assert calls == ["Oslo"] and response.text == "Teal"
    first, second = tracing.llm_spans()
    assert first.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1240
    assert second.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 4


def test_vertex_embeddings_count_tokens(tracing: Any, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("vertexai/predict_embeddings.json"))
    client = vertex_client(replay_server, project="own-project", location="us-central1")
    client.models.embed_content(model="text-embedding-005", contents=["a", "bc"], config={"output_dimensionality": 2})
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 8 and type(attrs[sc.GEN_AI_USAGE_INPUT_TOKENS]) is int
    assert attrs[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 2


@pytest.mark.recorded
def test_other_methods_pass_through(tracing: Any, replay_server: ReplayServer) -> None:
    """count_tokens and cache creation are no model calls: no span, the call unchanged."""
    replay_server.load(recorded_path("gemini/cached_content_create.json"))
    body = json.loads(load_interactions(recorded_path("gemini/cached_content_create.json"))[0]["request"]["body"])
    replay_server.load(
        [{"request": {"method": "POST", "uri": "https://x/v1beta/models/gemini-2.5-flash:countTokens"},
          "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": '{"totalTokens": 7}'}}]
    )  # fmt: skip
    client = gemini_client(replay_server)
    cache = client.caches.create(
        model="gemini-2.5-flash",
        config={"contents": body["contents"], "ttl": "300s", "display_name": "test story cache"},
    )
    assert cache.usage_metadata.total_token_count == 1090
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="hi").total_tokens == 7
    assert tracing.llm_spans() == []


def test_bug_in_response_handling_is_swallowed(
    tracing: Any,
    replay_server: ReplayServer,
    gemini: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agentops_otel.instrumentation import google_genai

    def broken(self: Any, response: Any, capture: bool) -> dict[str, Any]:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(google_genai.GenerateContent, "response_attributes", broken)
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    response = gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert response.response_id == "own-gemini-1"
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert "instrumentation bug" in caplog.text


def test_uninstrument_restores_the_methods(tracing: Any) -> None:
    from google.genai import models

    from agentops_otel.instrumentation import uninstrument

    assert hasattr(models.Models.__dict__["_generate_content"], "__wrapped__")
    uninstrument()
    for cls in (models.Models, models.AsyncModels):
        for name in ("_generate_content", "_generate_content_stream", "_embed_content"):
            assert not hasattr(cls.__dict__[name], "__wrapped__"), name
    assert GoogleGenAIInstrumentor().is_instrumented_by_opentelemetry is False


def test_concurrent_streams_in_tasks(tracing: Any, replay_server: ReplayServer, gemini: Any) -> None:
    async def main() -> list[int]:
        aio = gemini.aio

        async def one() -> int:
            return len(
                [c async for c in await aio.models.generate_content_stream(model="gemini-2.5-flash", contents="x")]
            )

        return await asyncio.gather(one(), one())

    for _ in range(2):
        replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    assert asyncio.run(main()) == [3, 3]
    spans = tracing.llm_spans()
    assert len(spans) == 2 and all(s.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 18 for s in spans)


# --- the Interactions API ---------------------------------------------------------------------------------
def create_interaction(client: Any, request: dict[str, Any]) -> Any:
    """Send the recorded request through ``interactions.create`` (a stream read to the end)."""
    body = json.loads(request["body"])
    result = client.interactions.create(**body)
    return list(result) if body.get("stream") else result


def expected_interaction(body: str) -> dict[str, Any]:
    """An interaction's usage as Gemini's: thoughts and tool-use tokens apart, added; its status ends it."""
    if body.lstrip().startswith("{"):
        interaction = json.loads(body)
    else:  # a stream: the last event carrying the interaction
        interaction = next(e["interaction"] for e in reversed(sse_data(body)) if "interaction" in e)
    usage = interaction["usage"]
    return {
        sc.GEN_AI_RESPONSE_ID: interaction["id"],
        sc.GEN_AI_RESPONSE_MODEL: interaction["model"],
        sc.GEN_AI_RESPONSE_FINISH_REASONS: (interaction["status"],),
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage["total_input_tokens"] + usage.get("total_tool_use_tokens", 0),
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage["total_output_tokens"] + usage.get("total_thought_tokens", 0),
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usage["total_thought_tokens"],
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage["total_cached_tokens"],
    }


def total_tokens(interaction: dict[str, Any]) -> int:
    body = interaction["response"]["body"]
    if body.lstrip().startswith("{"):
        return json.loads(body)["usage"]["total_tokens"]
    return next(e["interaction"]["usage"]["total_tokens"] for e in reversed(sse_data(body)) if "interaction" in e)


def check_interaction(path: Path, server: ReplayServer, tracing: Any, client: Any, capture: bool) -> None:
    tracing.instrument(capture_message_content=capture)
    (interaction,) = server.load(path)
    create_interaction(client, interaction["request"])
    span = assert_ended_once(tracing)
    attrs = span.attributes
    body = json.loads(interaction["request"]["body"])
    assert span.name == f"chat {body['model']}"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert attrs.get(sc.GEN_AI_REQUEST_STREAM) is (True if body.get("stream") else None)
    assert attrs.get(sc.GEN_AI_REQUEST_TEMPERATURE) == (body.get("generation_config") or {}).get("temperature")
    assert response_attributes(span) == expected_interaction(interaction["response"]["body"])
    usage = expected_interaction(interaction["response"]["body"])
    # input + output is what the interaction counted in all
    assert usage[sc.GEN_AI_USAGE_INPUT_TOKENS] + usage[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == total_tokens(interaction)
    assert (sc.GEN_AI_OUTPUT_MESSAGES in attrs) is capture
    if capture:
        (message,) = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
        assert any(part["type"] == "text" and part["content"] for part in message["parts"])


@pytest.mark.recorded
@CAPTURE
def test_recorded_interaction(capture: bool, replay_server: ReplayServer, tracing: Any, gemini: Any) -> None:
    check_interaction(recorded_path("gemini/interactions_create.json"), replay_server, tracing, gemini, capture)


@CAPTURE
def test_streamed_interaction(capture: bool, replay_server: ReplayServer, tracing: Any, gemini: Any) -> None:
    check_interaction(fixture_path("gemini/interaction_stream.json"), replay_server, tracing, gemini, capture)


async def test_async_streamed_interaction_left_early(replay_server: ReplayServer, tracing: Any, gemini: Any) -> None:
    replay_server.load(fixture_path("gemini/interaction_stream.json"))
    stream = await gemini.aio.interactions.create(model="gemini-2.5-flash", input="Greet me", stream=True)
    async for _ in stream:
        break
    assert tracing.llm_spans() == []
    await stream.close()
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "own-interaction-2"  # from interaction.created
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # the completed event was never read


def test_refused_interaction(replay_server: ReplayServer, tracing: Any, gemini: Any) -> None:
    (interaction,) = copy.deepcopy(load_interactions(fixture_path("gemini/generate_429.json")))
    interaction["request"]["uri"] = "https://generativelanguage.googleapis.com/v1beta/interactions"
    replay_server.load([interaction])
    with pytest.raises(Exception) as raised:
        gemini.interactions.create(model="gemini-2.5-flash", input="Hi", automatic_continuation=False)
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
