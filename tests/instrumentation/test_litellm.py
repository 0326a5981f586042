"""LiteLLM: each call through ``litellm`` is one LLM span naming the provider and model LiteLLM routed
to, with the provider's usage, whether LiteLLM called the provider through its own library (``openai``,
itself instrumented: no second span) or over plain HTTP (Gemini, Anthropic); streams and async calls too.

Every call goes to the local replay server through ``api_base``. LiteLLM reads its model price list
from the package (``LITELLM_LOCAL_MODEL_COST_MAP``), never from the network.
"""

from __future__ import annotations

import copy
import gc
import json
import os
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before the import: LiteLLM fetches prices at import
litellm = pytest.importorskip("litellm")

from agentops_otel import semconv as sc  # noqa: E402
from tests.conftest import fixture_path, recorded_path  # noqa: E402
from tests.instrumentation import expected  # noqa: E402
from tests.support.replay import ReplayServer, load_interactions  # noqa: E402

GREETING = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a short greeting."},
]
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


def only_span(tracing: Any) -> Any:
    """The call's one span: no second LLM span, and no other span at all, from the library underneath."""
    spans = tracing.spans()
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    assert tracing.counter.ends[spans[0].context.span_id] == 1
    return spans[0]


def check(span: Any, provider: str, model: str, usage: dict[str, Any], *, stream: bool = False) -> None:
    attrs = dict(span.attributes)
    assert attrs[sc.SPAN_KIND] == sc.KIND_LLM
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == provider
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == model
    assert span.name == f"{attrs[sc.GEN_AI_OPERATION_NAME]} {model}"
    assert attrs.get(sc.GEN_AI_REQUEST_STREAM) is (True if stream else None)
    assert {k: v for k, v in attrs.items() if k.startswith("gen_ai.usage.")} == usage
    assert all(type(v) is int for k, v in attrs.items() if k.startswith("gen_ai.usage."))
    assert span.status.status_code is StatusCode.UNSET


def openai_usage(body: str, stream: bool) -> dict[str, Any]:
    attrs = expected.expected_attributes("openai", "chat/completions", body, stream)
    return {k: v for k, v in attrs.items() if k.startswith("gen_ai.usage.")}


# --- ../shared/recorded/litellm: one test per recording -----------------------------------------------


@pytest.mark.recorded
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_gemini(stream: bool, tracing: Any, replay_server: ReplayServer) -> None:
    name = "completion_gemini_streaming" if stream else "completion_gemini"
    (interaction,) = replay_server.load(recorded_path(f"litellm/{name}.json"))
    result = litellm.completion(
        model="gemini/gemini-2.5-flash-lite",
        messages=FRANCE,
        stream=stream,
        api_base=f"{replay_server.base_url}/v1beta",
        api_key="test-key",
    )
    if stream:
        assert "Paris" in "".join(c.choices[0].delta.content or "" for c in result if c.choices)
    span = only_span(tracing)
    usage = expected.gemini_usage(interaction["response"]["body"], stream)
    check(span, "gcp.gemini", "gemini-2.5-flash-lite", usage, stream=stream)
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


@pytest.mark.recorded
def test_gemini_tool_call(tracing: Any, replay_server: ReplayServer) -> None:
    (interaction,) = replay_server.load(recorded_path("litellm/completion_gemini_tool_call.json"))
    tracing.instrument(capture_message_content=True)
    response = litellm.completion(
        model="gemini/gemini-2.5-flash-lite",
        messages=[{"role": "user", "content": "What is the weather in Tokyo?"}],
        tools=[WEATHER_TOOL],
        api_base=f"{replay_server.base_url}/v1beta",
        api_key="test-key",
    )
    assert response.choices[0].message.tool_calls[0].function.name == "get_weather"
    span = only_span(tracing)
    check(span, "gcp.gemini", "gemini-2.5-flash-lite", expected.gemini_usage(interaction["response"]["body"], False))
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert [p["type"] for p in message["parts"]] == ["tool_call"]
    assert message["parts"][0]["arguments"] == {"location": "Tokyo"}


@pytest.mark.recorded
def test_openai_streamed_tool_call_one_span_with_openai_instrumented(tracing: Any, replay_server: ReplayServer) -> None:
    (interaction,) = replay_server.load(recorded_path("litellm/completion_openai_streaming_tool_call.json"))
    body = json.loads(interaction["request"]["body"])
    stream = litellm.completion(**body, api_base=replay_server.openai_base_url, api_key="test-key")
    assert list(stream)
    span = only_span(tracing)  # openai's instrumentor saw the request too, and stood aside
    check(span, sc.PROVIDER_OPENAI, "gpt-4.1-nano", openai_usage(interaction["response"]["body"], True), stream=True)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == expected.sse_data(interaction["response"]["body"])[0]["id"]


@pytest.mark.recorded
def test_openai_tool_history_then_rejected(tracing: Any, replay_server: ReplayServer) -> None:
    first, second = replay_server.load(recorded_path("litellm/completion_openai_tool_history_error.json"))
    litellm.completion(**json.loads(first["request"]["body"]), api_base=replay_server.openai_base_url, api_key="k")
    check(only_span(tracing), sc.PROVIDER_OPENAI, "gpt-4.1-nano", openai_usage(first["response"]["body"], False))
    tracing.exporter.clear()
    with pytest.raises(litellm.exceptions.BadRequestError) as raised:
        litellm.completion(**json.loads(second["request"]["body"]), api_base=replay_server.openai_base_url, api_key="k")
    span = only_span(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert [e.name for e in span.events] == ["exception"]


@pytest.mark.recorded
def test_three_providers(tracing: Any, replay_server: ReplayServer) -> None:
    openai_call, anthropic_call, openrouter_call = replay_server.load(
        recorded_path("litellm/completion_three_providers.json")
    )
    litellm.completion(model="gpt-4o-mini", messages=GREETING, api_base=replay_server.openai_base_url, api_key="k")
    check(only_span(tracing), sc.PROVIDER_OPENAI, "gpt-4o-mini", openai_usage(openai_call["response"]["body"], False))

    tracing.exporter.clear()
    stream = litellm.completion(
        model="anthropic/claude-3-5-sonnet-latest",
        messages=GREETING,
        max_tokens=4096,
        stream=True,
        api_base=replay_server.base_url,
        api_key="k",
    )
    assert list(stream)
    want = expected.expected_attributes("anthropic", "messages", anthropic_call["response"]["body"], True)
    usage = {k: v for k, v in want.items() if k.startswith("gen_ai.usage.")}
    usage[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = 0  # LiteLLM's usage names it, as 0
    check(only_span(tracing), sc.PROVIDER_ANTHROPIC, "claude-3-5-sonnet-latest", usage, stream=True)

    tracing.exporter.clear()
    litellm.completion(
        model="openrouter/deepseek/deepseek-chat",
        messages=GREETING,
        api_base=f"{replay_server.base_url}/api/v1",
        api_key="k",
    )
    body = openrouter_call["response"]["body"]
    check(only_span(tracing), "openrouter", "deepseek/deepseek-chat", openai_usage(body.strip(), False))


@pytest.mark.recorded
@pytest.mark.parametrize("name", ["responses_openai", "responses_openai_reasoning"])
def test_responses(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    if not hasattr(litellm, "responses"):
        pytest.skip("this LiteLLM has no responses()")
    for interaction in replay_server.load(recorded_path(f"litellm/{name}.json")):
        tracing.exporter.clear()
        body = json.loads(interaction["request"]["body"])
        litellm.responses(**body, api_base=replay_server.openai_base_url, api_key="k")
        want = expected.expected_attributes("openai", "responses", interaction["response"]["body"], False)
        usage = {k: v for k, v in want.items() if k.startswith("gen_ai.usage.")}
        check(only_span(tracing), sc.PROVIDER_OPENAI, body["model"], usage)


@pytest.mark.recorded
def test_every_litellm_recording_is_replayed() -> None:
    names = {p.stem for p in recorded_path("litellm").glob("*.json")}
    assert names == {
        "completion_gemini",
        "completion_gemini_streaming",
        "completion_gemini_tool_call",
        "completion_openai_streaming_tool_call",
        "completion_openai_tool_history_error",
        "completion_three_providers",
        "responses_openai",
        "responses_openai_reasoning",
    }


# --- the project's own fixtures ----------------------------------------------------------------------


def test_cache_and_reasoning_tokens(tracing: Any, replay_server: ReplayServer) -> None:
    (interaction,) = replay_server.load(fixture_path("litellm/openai_chat_cached.json"))
    body = json.loads(interaction["request"]["body"])
    response = litellm.completion(**body, api_base=replay_server.openai_base_url, api_key="k")
    assert response.usage.prompt_tokens == 2100  # returned untouched
    span = only_span(tracing)
    check(
        span,
        sc.PROVIDER_OPENAI,
        "gpt-4o-mini",
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: 2100,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1920,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 12,
        },
    )
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-own-litellm-1"
    assert sc.GEN_AI_USAGE_COST not in span.attributes  # LiteLLM's own cost figure is not taken


def test_anthropic_stream_over_http_with_cache(tracing: Any, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("litellm/anthropic_stream_cache.json"))
    stream = litellm.completion(
        model="anthropic/claude-sonnet-4-5",
        messages=[{"role": "user", "content": "Greet me."}],
        max_tokens=64,
        stream=True,
        api_base=replay_server.base_url,
        api_key="k",
    )
    assert "Hello there." in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    usage = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1505,  # Anthropic's 5 plus the cache reads and writes
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 6,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1200,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 300,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
    }
    check(only_span(tracing), sc.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", usage, stream=True)


def test_error_span(tracing: Any, replay_server: ReplayServer) -> None:
    (interaction,) = replay_server.load(fixture_path("litellm/openai_chat_400.json"))
    with pytest.raises(litellm.exceptions.BadRequestError) as raised:
        litellm.completion(
            **json.loads(interaction["request"]["body"]), api_base=replay_server.openai_base_url, api_key="k"
        )
    span = only_span(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == sc.PROVIDER_OPENAI


def test_embedding(tracing: Any, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("litellm/embeddings.json"))
    response = litellm.embedding(
        model="text-embedding-3-small", input=["first", "second"], api_base=replay_server.openai_base_url, api_key="k"
    )
    assert len(response.data) == 2
    span = only_span(tracing)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2


async def test_async_completion_and_stream(tracing: Any, replay_server: ReplayServer) -> None:
    (interaction,) = replay_server.load(fixture_path("litellm/openai_chat_cached.json"))
    body = json.loads(interaction["request"]["body"])
    await litellm.acompletion(**body, api_base=replay_server.openai_base_url, api_key="k")
    assert only_span(tracing).attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1920
    tracing.exporter.clear()
    replay_server.load(fixture_path("litellm/anthropic_stream_cache.json"))
    stream = await litellm.acompletion(
        model="anthropic/claude-sonnet-4-5",
        messages=[{"role": "user", "content": "Greet me."}],
        max_tokens=64,
        stream=True,
        api_base=replay_server.base_url,
        api_key="k",
    )
    assert [chunk async for chunk in stream]
    span = only_span(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1505
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True


async def test_async_embedding(tracing: Any, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("litellm/embeddings.json"))
    await litellm.aembedding(
        model="text-embedding-3-small", input=["first", "second"], api_base=replay_server.openai_base_url, api_key="k"
    )
    assert only_span(tracing).attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2


def test_stream_left_early_then_dropped(tracing: Any, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("litellm/anthropic_stream_cache.json"))
    stream = litellm.completion(
        model="anthropic/claude-sonnet-4-5",
        messages=[{"role": "user", "content": "Greet me."}],
        max_tokens=64,
        stream=True,
        api_base=replay_server.base_url,
        api_key="k",
    )
    next(iter(stream))
    assert tracing.llm_spans() == []
    del stream
    gc.collect()
    assert only_span(tracing).status.status_code is StatusCode.UNSET


def test_stream_connection_lost(tracing: Any, replay_server: ReplayServer) -> None:
    interactions = copy.deepcopy(load_interactions(fixture_path("litellm/anthropic_stream_cache.json")))
    interactions[0]["response"]["truncate_at"] = len(interactions[0]["response"]["body"].encode()) // 2
    replay_server.load(interactions)
    with pytest.raises(Exception) as raised:
        for _ in litellm.completion(
            model="anthropic/claude-sonnet-4-5",
            messages=[{"role": "user", "content": "Greet me."}],
            max_tokens=64,
            stream=True,
            api_base=replay_server.base_url,
            api_key="k",
        ):
            pass
    span = only_span(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__


def test_routes_are_kept_per_model_name_and_bounded() -> None:
    from agentops_otel.instrumentation import litellm as traced

    assert traced._route("groq/llama3-8b-8192", None) == (sc.PROVIDER_GROQ, "llama3-8b-8192")
    assert traced._route("llama3", "ollama") == (sc.PROVIDER_OLLAMA, "llama3")
    assert traced._route("no-such-provider-xyz/m", None)[0] in ("litellm", "no-such-provider-xyz")
    for index in range(traced._ROUTES_KEPT + 10):  # made-up names cost lookups, not memory
        traced._route(f"openai/model-{index}", None)
    assert len(traced._routes) <= traced._ROUTES_KEPT


# --- text_completion: one text_completion span, whichever way LiteLLM sends the prompt ---------------------
TEXT_USAGE = {sc.GEN_AI_USAGE_INPUT_TOKENS: 4, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3}
TEXT_STREAM_USAGE = {**TEXT_USAGE, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0}  # a stream's usage as LiteLLM totals it


def text_completion_request(fixture: str, server: ReplayServer) -> dict[str, Any]:
    (interaction,) = server.load(fixture_path(f"litellm/{fixture}"))
    return {**json.loads(interaction["request"]["body"]), "api_base": server.openai_base_url, "api_key": "k"}


def test_text_completion(tracing: Any, replay_server: ReplayServer) -> None:
    response = litellm.text_completion(**text_completion_request("openai_text_completion.json", replay_server))
    assert response.choices[0].text == " Hello there!" and response.usage.prompt_tokens == 4  # untouched
    span = only_span(tracing)  # no second span from the openai library underneath
    check(span, sc.PROVIDER_OPENAI, "gpt-3.5-turbo-instruct", TEXT_USAGE)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "cmpl-own-litellm-text-1"
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.1


def test_text_completion_stream(tracing: Any, replay_server: ReplayServer) -> None:
    stream = litellm.text_completion(**text_completion_request("openai_text_completion_stream.json", replay_server))
    assert tracing.spans() == []  # the request goes out when the stream is first read
    assert "".join(c.choices[0].text or "" for c in stream if c.choices) == " Hello there!"
    span = only_span(tracing)
    check(span, sc.PROVIDER_OPENAI, "gpt-3.5-turbo-instruct", TEXT_STREAM_USAGE, stream=True)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"


def test_text_completion_stream_left_early_then_dropped(tracing: Any, replay_server: ReplayServer) -> None:
    stream = litellm.text_completion(**text_completion_request("openai_text_completion_stream.json", replay_server))
    next(iter(stream))
    assert tracing.llm_spans() == []
    del stream
    gc.collect()
    assert only_span(tracing).status.status_code is StatusCode.UNSET


async def test_async_text_completion_and_stream(tracing: Any, replay_server: ReplayServer) -> None:
    await litellm.atext_completion(**text_completion_request("openai_text_completion.json", replay_server))
    check(only_span(tracing), sc.PROVIDER_OPENAI, "gpt-3.5-turbo-instruct", TEXT_USAGE)
    tracing.exporter.clear()
    request = text_completion_request("openai_text_completion_stream.json", replay_server)
    stream = await litellm.atext_completion(**request)
    assert [chunk async for chunk in stream]
    span = only_span(tracing)
    check(span, sc.PROVIDER_OPENAI, "gpt-3.5-turbo-instruct", TEXT_STREAM_USAGE, stream=True)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"


def test_text_completion_of_a_chat_provider(tracing: Any, replay_server: ReplayServer) -> None:
    """Anthropic over HTTP: LiteLLM sends the prompt as a chat message; the span is still text_completion."""
    replay_server.load(fixture_path("litellm/anthropic_stream_cache.json"))
    stream = litellm.text_completion(
        model="anthropic/claude-sonnet-4-5",
        prompt="Greet me.",
        max_tokens=64,
        stream=True,
        api_base=replay_server.base_url,
        api_key="k",
    )
    assert "Hello there." in "".join(c.choices[0].text or "" for c in stream if c.choices)
    usage = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1505,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 6,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1200,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 300,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
    }
    span = only_span(tracing)
    check(span, sc.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", usage, stream=True)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"


@pytest.mark.recorded
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_text_completion_recorded(stream: bool, tracing: Any, replay_server: ReplayServer) -> None:
    """OpenAI's recorded legacy completions, asked for through LiteLLM: tokens as OpenAI counted them."""
    name = "completions_legacy_streaming" if stream else "completions_legacy"
    interaction = replay_server.load(recorded_path(f"openai/{name}.json"))[0]
    body = json.loads(interaction["request"]["body"])
    result = litellm.text_completion(**body, api_base=replay_server.openai_base_url, api_key="k")
    if stream:
        assert list(result)
    span = only_span(tracing)
    usage = openai_usage(interaction["response"]["body"], stream)
    check(span, sc.PROVIDER_OPENAI, body["model"], usage, stream=stream)
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"
