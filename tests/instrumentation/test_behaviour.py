"""What the application gets back is unchanged; errors, raw responses, content capture, opt-ins,
anthropic's own spans, and bugs of the instrumentation itself."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import anthropic
import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletion
from opentelemetry.trace import StatusCode

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _patching, uninstrument
from agentops_otel.instrumentation.openai import ChatCompletions
from agentops_otel.meaning import is_llm_span
from tests.conftest import fixture_path
from tests.support.replay import ReplayServer, load_interactions

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name a prime."}]}
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(autouse=True)
def _fresh_bug_reports() -> None:
    _patching._reported.clear()


def assert_ended_once(tracing: Any) -> Any:
    span = tracing.only_llm_span()
    assert tracing.counter.ends[span.context.span_id] == 1
    return span


def recorded_body(name: str) -> str:
    return load_interactions(fixture_path(name))[0]["response"]["body"]


def test_return_value_is_unchanged(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    result = openai_client.chat.completions.create(**CHAT)
    assert type(result) is ChatCompletion
    assert result == ChatCompletion.model_validate_json(recorded_body("openai/chat_cached_reasoning.json"))
    span = tracing.only_llm_span()
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006  # cached tokens are part of prompt_tokens
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1920
    assert span.attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 192


def test_request_parameters(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_tools_n2.json"))
    openai_client.chat.completions.create(
        **CHAT, n=2, max_tokens=50, top_p=0.5, stop="END", response_format={"type": "json_object"}
    )
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.5
    assert attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert attrs[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls", "stop")


def test_api_error(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_404.json"))
    with pytest.raises(openai.NotFoundError) as raised:
        openai_client.chat.completions.create(**CHAT)
    assert raised.value.status_code == 404
    assert raised.value.body["code"] == "model_not_found"
    span = tracing.only_llm_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "NotFoundError"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("NotFoundError")


def test_anthropic_api_error(tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic) -> None:
    replay_server.load(fixture_path("anthropic/messages_404.json"))
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.messages.create(**MESSAGES)
    span = tracing.only_llm_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "NotFoundError"


def test_with_raw_response(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    raw = openai_client.chat.completions.with_raw_response.create(**CHAT)
    assert raw.headers["content-type"] == "application/json"
    completion = raw.parse()
    assert type(completion) is ChatCompletion and completion.id == "chatcmpl-own-cached-1"
    span = tracing.only_llm_span()
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-own-cached-1"


def test_anthropic_with_raw_response(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    replay_server.load(fixture_path("anthropic/messages_cache.json"))
    raw = anthropic_client.messages.with_raw_response.create(**MESSAGES)
    assert raw.parse().usage.cache_read_input_tokens == 2048
    span = tracing.only_llm_span()
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 + 2048 + 310


def test_anthropic_beta_path_with_query(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    """Older anthropic versions posted beta messages to ``/v1/messages?beta=true``; this one passes the query
    separately, so the old call is made through the client's own ``post``, as those versions made it."""
    from anthropic.types.beta import BetaMessage, BetaRawMessageStreamEvent

    replay_server.load(fixture_path("anthropic/messages_cache.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    message = anthropic_client.post("/v1/messages?beta=true", body=MESSAGES, cast_to=BetaMessage)
    assert replay_server.requests[-1].path == "/v1/messages?beta=true"
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == message.id == "msg_own_cache_1"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 + 2048 + 310
    tracing.exporter.clear()
    stream = anthropic_client.post(
        "/v1/messages?beta=true",
        body={**MESSAGES, "stream": True},
        cast_to=BetaMessage,
        stream=True,
        stream_cls=anthropic.Stream[BetaRawMessageStreamEvent],
    )
    assert [event.type for event in stream][-1] == "message_stop"
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1206


def test_with_streaming_response(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    with openai_client.chat.completions.with_streaming_response.create(**CHAT) as response:
        assert isinstance(response, openai._response.APIResponse)
        assert tracing.llm_spans() == []  # the body has not been read yet
        assert response.parse().id == "chatcmpl-own-cached-1"
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006


@pytest.mark.parametrize("read", ["json", "read", "text"])
def test_with_streaming_response_read_without_parse(
    read: str, tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    with openai_client.chat.completions.with_streaming_response.create(**CHAT) as response:
        getattr(response, read)()
        assert tracing.llm_spans() == []
    span = assert_ended_once(tracing)  # at the exit, with what the body said
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-own-cached-1"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_async_with_streaming_response_read_without_parse(
    tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any
) -> None:
    replay_server.load(fixture_path("anthropic/messages_cache.json"))
    async with async_anthropic_client.messages.with_streaming_response.create(**MESSAGES) as response:
        assert (await response.json())["id"] == "msg_own_cache_1"
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "msg_own_cache_1"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 + 2048 + 310


def test_with_streaming_response_closed_unread(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    with openai_client.chat.completions.with_streaming_response.create(**CHAT) as response:
        assert response.status_code == 200
    span = assert_ended_once(tracing)  # ends on exit, with the request side only
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_raw_response_of_a_stream(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    raw = openai_client.chat.completions.with_raw_response.create(**CHAT, stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    assert len(list(stream)) == 6
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7


# The raw response is dropped as soon as parse() returns: the span must wait for the stream.
RAW_STREAMS = {
    "openai": (
        "openai/chat_stream_usage.json",
        CHAT,
        {
            "id": "chatcmpl-own-stream-3",
            "model": "gpt-4o-mini-2024-07-18",
            "input": 21,
            "output": 7,
            "events": (6, "chat.completion.chunk"),
        },
    ),
    "anthropic": (
        "anthropic/messages_stream_cache.json",
        MESSAGES,
        {
            "id": "msg_own_stream_3",
            "model": "claude-sonnet-4-5-20250929",
            "input": 1206,
            "output": 14,
            "events": (7, "message_stop"),
        },
    ),
}


def raw_create(provider: str, client: Any) -> Any:
    return (client.messages if provider == "anthropic" else client.chat.completions).with_raw_response.create


def assert_streamed_response(tracing: Any, expected: dict[str, Any], events: list[Any]) -> None:
    last = getattr(events[-1], "type", None) or events[-1].object  # anthropic's events have a type, openai's chunks not
    assert (len(events), last) == expected["events"]  # read to the end
    attrs = assert_ended_once(tracing).attributes
    assert attrs[sc.GEN_AI_RESPONSE_ID] == expected["id"]
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == expected["model"]
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == expected["input"]
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == expected["output"]


@pytest.mark.parametrize("provider", RAW_STREAMS)
def test_raw_stream_parsed_in_one_expression(
    provider: str,
    tracing: Any,
    replay_server: ReplayServer,
    openai_client: openai.OpenAI,
    anthropic_client: anthropic.Anthropic,
) -> None:
    fixture, body, expected = RAW_STREAMS[provider]
    replay_server.load(fixture_path(fixture))
    client = anthropic_client if provider == "anthropic" else openai_client
    stream = raw_create(provider, client)(**body, stream=True).parse()
    assert tracing.llm_spans() == []  # not ended with the raw response
    assert_streamed_response(tracing, expected, list(stream))


@pytest.mark.parametrize("provider", RAW_STREAMS)
async def test_async_raw_stream_parsed_in_one_expression(
    provider: str, tracing: Any, replay_server: ReplayServer, async_openai_client: Any, async_anthropic_client: Any
) -> None:
    fixture, body, expected = RAW_STREAMS[provider]
    replay_server.load(fixture_path(fixture))
    client = async_anthropic_client if provider == "anthropic" else async_openai_client
    parsed = (await raw_create(provider, client)(**body, stream=True)).parse()
    # openai's raw responses parse synchronously, even async
    stream = await parsed if provider == "anthropic" else parsed
    assert tracing.llm_spans() == []
    assert_streamed_response(tracing, expected, [event async for event in stream])


async def test_async_with_streaming_response(
    tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    create = async_anthropic_client.messages.with_streaming_response.create
    async with create(**MESSAGES, stream=True) as response:
        events = [event.type async for event in await response.parse()]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1206


def test_parse(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    class Prime(pydantic.BaseModel):
        n: int

    interactions = copy.deepcopy(load_interactions(fixture_path("openai/chat_cached_reasoning.json")))
    body = json.loads(interactions[0]["response"]["body"])
    body["choices"][0]["message"]["content"] = '{"n": 7}'
    interactions[0]["response"]["body"] = json.dumps(body)
    replay_server.load(interactions)
    result = openai_client.chat.completions.parse(**CHAT, response_format=Prime)
    assert result.choices[0].message.parsed == Prime(n=7)
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 300


def test_responses_finish_reason(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/responses.json"))
    response = openai_client.responses.create(model="o4-mini", input="Sky colour?", max_output_tokens=500)
    assert response.output_text == "Blue."
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 500


def test_embeddings_request(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/embeddings.json"))
    result = openai_client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], dimensions=3)
    assert len(result.data) == 2
    span = tracing.only_llm_span()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 4


# --- content capture ----------------------------------------------------------------------------
def test_content_is_off_by_default(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_tools_n2.json"))
    openai_client.chat.completions.create(**CHAT, tools=[{"type": "function", "function": {"name": "f"}}])
    attrs = tracing.only_llm_span().attributes
    for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_TOOL_DEFINITIONS):
        assert key not in attrs


def test_content_capture_openai(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("openai/chat_tools_n2.json"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    openai_client.chat.completions.create(**CHAT, tools=tools)
    attrs = tracing.only_llm_span().attributes
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Name a prime."}]}
    ]
    assert json.loads(attrs[sc.GEN_AI_TOOL_DEFINITIONS]) == tools
    first, second = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
    assert first == {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_own_1", "name": "get_weather", "arguments": {"city": "Oslo"}}],
        "finish_reason": "tool_calls",
    }
    assert second["parts"] == [{"type": "text", "content": '{"answer": "cold"}'}]


def test_content_capture_streams(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("openai/chat_stream_tools.json"))
    list(openai_client.chat.completions.create(**CHAT, stream=True))
    (message,) = json.loads(tracing.only_llm_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["finish_reason"] == "tool_calls"
    assert [(p["id"], p["arguments"]) for p in message["parts"]] == [
        ("call_own_a", {"city": "Oslo"}),  # the streamed JSON text, parsed as the conventions want
        ("call_own_b", {"city": "Rome"}),
    ]


def test_tool_call_arguments_are_the_same_object_streamed_or_not(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("anthropic/messages_thinking_tools.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_tools.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_tools.json"))
    anthropic_client.messages.create(**MESSAGES)
    list(anthropic_client.messages.create(**MESSAGES, stream=True))
    with anthropic_client.messages.stream(**MESSAGES) as stream:
        assert stream.get_final_message().content[1].input == {"city": "Oslo"}
    calls = [
        [p for p in json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] if p["type"] == "tool_call"]
        for span in tracing.llm_spans()
    ]
    expected = [{"type": "tool_call", "id": "toolu_own_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert calls == [expected, expected, expected]


def test_cut_short_tool_call_arguments_are_kept_as_text() -> None:
    from agentops_otel.instrumentation._content import tool_call

    assert tool_call("c", "f", '{"city": "Os')["arguments"] == '{"city": "Os'
    assert tool_call("c", "f", {"city": "Oslo"})["arguments"] == {"city": "Oslo"}


def test_content_capture_streamed_choices_without_index(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("openai/chat_stream_n2_no_index.json"))
    replay_server.load(fixture_path("openai/completions_stream_no_index.json"))
    list(openai_client.chat.completions.create(**CHAT, n=2, stream=True))
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop", "length")  # a chunk without index is choice 0
    assert [(m["parts"], m["finish_reason"]) for m in json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])] == [
        ([{"type": "text", "content": "Two."}], "stop"),
        ([{"type": "text", "content": "Three"}], "length"),
    ]
    tracing.exporter.clear()
    list(openai_client.completions.create(model="davinci-002", prompt="Tell me a joke", stream=True))
    (message,) = json.loads(tracing.only_llm_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message == {  # the last chunk's dict delta ({}) adds nothing
        "role": "assistant",
        "parts": [{"type": "text", "content": " Spans everywhere."}],
        "finish_reason": "stop",
    }


def test_content_capture_anthropic(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    tracing.instrument(capture_message_content=True)
    replay_server.load(fixture_path("anthropic/messages_thinking_tools.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    anthropic_client.messages.create(**MESSAGES, system="Be terse.")
    attrs = tracing.only_llm_span().attributes
    assert json.loads(attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be terse."}]
    (message,) = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
    assert [p["type"] for p in message["parts"]] == ["reasoning", "text", "tool_call"]
    assert message["parts"][2]["arguments"] == {"city": "Oslo"}
    tracing.exporter.clear()
    with anthropic_client.messages.stream(**MESSAGES) as stream:
        stream.until_done()
    (message,) = json.loads(tracing.only_llm_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Hello there."}],
        "finish_reason": "end_turn",
    }


# --- opt-in stream usage --------------------------------------------------------------------------
def test_stream_usage_is_opt_in(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    for _ in range(3):
        replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    list(openai_client.chat.completions.create(**CHAT, stream=True))
    assert "stream_options" not in replay_server.requests[-1].json()

    tracing.instrument(openai_stream_usage=True)
    list(openai_client.chat.completions.create(**CHAT, stream=True))
    assert replay_server.requests[-1].json()["stream_options"] == {"include_usage": True}

    list(openai_client.chat.completions.create(**CHAT, stream=True, stream_options={"include_obfuscation": False}))
    assert replay_server.requests[-1].json()["stream_options"] == {"include_obfuscation": False}  # the user's wins


# --- anthropic's own spans ------------------------------------------------------------------------
def test_one_llm_span_with_anthropic_native_tracing(tracing: Any, replay_server: ReplayServer) -> None:
    for _ in range(3):
        replay_server.load(fixture_path("anthropic/messages_cache.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    native = {"tracer_provider": tracing.provider}  # anthropic 2.x traces itself into this provider
    with anthropic.Anthropic(base_url=replay_server.base_url, api_key="k", open_telemetry=native) as client:
        uninstrument()
        client.messages.create(**MESSAGES)
        (native_span,) = tracing.spans()  # proves the library's own spans are on in this test
        assert is_llm_span(native_span.attributes) and native_span.instrumentation_scope.name != "agentops_otel"
        tracing.exporter.clear()

        tracing.instrument()
        client.messages.create(**MESSAGES)
        with client.messages.stream(**MESSAGES) as stream:
            stream.until_done()
        spans = tracing.spans()
        assert [s.attributes[sc.SPAN_KIND] for s in spans] == ["llm", "llm"]
        assert all(is_llm_span(s.attributes) for s in spans)
        tracing.exporter.clear()

        uninstrument()
        client.messages.create(**MESSAGES)
        assert len(tracing.spans()) == 1 and sc.SPAN_KIND not in tracing.spans()[0].attributes


# --- bugs of the instrumentation ------------------------------------------------------------------
def test_bug_in_response_handling_is_swallowed_and_logged_once(
    tracing: Any,
    replay_server: ReplayServer,
    openai_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: Any, response: Any, capture: bool) -> Any:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(ChatCompletions, "response_attributes", broken)
    for _ in range(2):
        replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    with caplog.at_level(logging.WARNING, logger="agentops_otel.instrumentation"):
        first = openai_client.chat.completions.create(**CHAT)
        second = openai_client.chat.completions.create(**CHAT)
    assert first.id == second.id == "chatcmpl-own-cached-1"
    assert len([r for r in caplog.records if "instrumentation bug" in r.getMessage()]) == 1
    assert len(tracing.llm_spans()) == 2  # the spans still end


def test_bug_in_request_handling_lets_the_call_through(
    tracing: Any,
    replay_server: ReplayServer,
    openai_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: Any, body: Any, capture: bool) -> Any:
        raise ValueError("instrumentation bug")

    monkeypatch.setattr(ChatCompletions, "request_attributes", broken)
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    with caplog.at_level(logging.WARNING, logger="agentops_otel.instrumentation"):
        assert openai_client.chat.completions.create(**CHAT).id == "chatcmpl-own-cached-1"
    assert tracing.llm_spans() == []
    assert any("instrumentation bug" in r.getMessage() for r in caplog.records)


def test_bug_in_stream_handling_keeps_the_stream(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops_otel.instrumentation import openai as oai

    def broken(self: Any, event: Any) -> None:
        raise KeyError("instrumentation bug")

    monkeypatch.setattr(oai._ChatStream, "add", broken)
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    chunks = list(openai_client.chat.completions.create(**CHAT, stream=True))
    assert len(chunks) == 6
    assert len(tracing.llm_spans()) == 1


async def test_async_calls(tracing: Any, replay_server: ReplayServer, async_openai_client: Any) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    replay_server.load(fixture_path("openai/chat_404.json"))
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    result = await async_openai_client.chat.completions.create(**CHAT)
    assert type(result) is ChatCompletion
    with pytest.raises(openai.NotFoundError):
        await async_openai_client.chat.completions.create(**CHAT)
    raw = await async_openai_client.chat.completions.with_raw_response.create(**CHAT)
    assert raw.parse().id == "chatcmpl-own-cached-1"
    ok, failed, raw_span = tracing.llm_spans()
    assert ok.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == raw_span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006
    assert failed.status.status_code is StatusCode.ERROR


def test_concurrent_calls_from_threads(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from opentelemetry import trace

    for _ in range(8):
        replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    tracer = tracing.provider.get_tracer("test")

    def one(i: int) -> int:
        with tracer.start_as_current_span(f"parent {i}") as parent:
            openai_client.chat.completions.create(**CHAT)
            assert trace.get_current_span() is parent
            return parent.get_span_context().span_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        parents = set(pool.map(one, range(8)))
    spans = tracing.llm_spans()
    assert len(spans) == 8
    assert {s.parent.span_id for s in spans} == parents  # each call is the child of its own thread's span
    assert all(tracing.counter.ends[s.context.span_id] == 1 for s in spans)


def test_max_completion_tokens_wins_over_max_tokens_in_any_order() -> None:
    endpoint = ChatCompletions()
    for body in (
        {"model": "m", "max_tokens": 50, "max_completion_tokens": 80},
        {"max_completion_tokens": 80, "model": "m", "max_tokens": 50},
    ):
        assert endpoint.request_attributes(body, False)[sc.GEN_AI_REQUEST_MAX_TOKENS] == 80
    only_old = endpoint.request_attributes({"model": "m", "max_tokens": 50, "max_completion_tokens": None}, False)
    assert only_old[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50


def test_server_and_provider_follow_each_client(tracing: Any, replay_server: ReplayServer) -> None:
    """Client attributes are prepared once per client: alternating clients must not mix them up."""
    azure_interactions = copy.deepcopy(load_interactions(fixture_path("openai/chat_cached_reasoning.json")))
    azure_interactions[0]["request"]["uri"] = (
        "https://x.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions"
    )
    by_ip = openai.OpenAI(base_url=replay_server.openai_base_url, api_key="k", max_retries=0)
    by_name = openai.OpenAI(base_url=f"http://localhost:{replay_server.port}/v1", api_key="k", max_retries=0)
    azure = openai.AzureOpenAI(
        api_key="k", api_version="2024-10-21", azure_endpoint=replay_server.base_url, max_retries=0
    )
    expected = []
    for client, host, provider in [
        (by_ip, "127.0.0.1", sc.PROVIDER_OPENAI),
        (by_name, "localhost", sc.PROVIDER_OPENAI),
        (azure, "127.0.0.1", sc.PROVIDER_AZURE_OPENAI),
        (by_ip, "127.0.0.1", sc.PROVIDER_OPENAI),
    ]:
        if client is azure:
            replay_server.load(azure_interactions)
        else:
            replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
        client.chat.completions.create(**CHAT)
        expected.append((host, replay_server.port, provider))
    for client in (by_ip, by_name, azure):
        client.close()
    spans = sorted(tracing.llm_spans(), key=lambda s: s.start_time or 0)
    got = [
        (s.attributes[sc.SERVER_ADDRESS], s.attributes[sc.SERVER_PORT], s.attributes[sc.GEN_AI_PROVIDER_NAME])
        for s in spans
    ]
    assert got == expected


def test_raw_response_usage_details(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    """A raw response is read from its JSON body: nested usage details are dicts there."""
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    openai_client.chat.completions.with_raw_response.create(**CHAT).parse()
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1920
    assert attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 192
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_azure_openai(tracing: Any, replay_server: ReplayServer) -> None:
    interactions = copy.deepcopy(load_interactions(fixture_path("openai/chat_cached_reasoning.json")))
    interactions[0]["request"]["uri"] = "https://example.openai.azure.com/openai/deployments/my-gpt/chat/completions"
    replay_server.load(interactions)
    client = openai.AzureOpenAI(
        api_key="k", api_version="2024-10-21", azure_endpoint=replay_server.base_url, max_retries=0
    )
    with client:
        assert client.chat.completions.create(model="my-gpt", messages=CHAT["messages"]).id == "chatcmpl-own-cached-1"
    span = tracing.only_llm_span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == sc.PROVIDER_AZURE_OPENAI
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2006
    assert replay_server.requests[-1].path.startswith("/openai/deployments/my-gpt/chat/completions")
