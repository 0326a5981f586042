"""Streams: the span ends exactly once on every exit path, the application keeps the types it expects,
and no context stays attached while it holds the stream."""

from __future__ import annotations

import copy
import gc
import json
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import uninstrument
from agentops_otel.meaning import is_llm_span
from tests.conftest import fixture_path, recorded_path
from tests.instrumentation.expected import expected_attributes, response_attributes, sse_data
from tests.support.replay import ReplayServer, load_interactions

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Count to three"}]}
CONNECTION_ERRORS = (httpx2.HTTPError, openai.APIConnectionError, anthropic.APIConnectionError)
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Greet me"}]}


def load_cut(server: ReplayServer, name: str) -> None:
    """Queue a recording whose body stops halfway, the connection dropped."""
    interactions = copy.deepcopy(load_interactions(fixture_path(name)))
    body = interactions[0]["response"]["body"]
    interactions[0]["response"]["truncate_at"] = len(body.encode()) // 2
    server.load(interactions)


def first_events(sse_body: str, count: int) -> str:
    """The SSE body up to the end of its first ``count`` events."""
    return "".join(event + "\n\n" for event in sse_body.split("\n\n")[:count])


def assert_ended_once(tracing: Any) -> Any:
    span = tracing.only_llm_span()
    assert tracing.counter.ends[span.context.span_id] == 1
    return span


def test_type_and_attributes_are_kept(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    stream = openai_client.chat.completions.create(**CHAT, stream=True)
    assert isinstance(stream, openai.Stream)
    assert isinstance(stream.response, httpx2.Response)
    assert stream.response is stream.response
    assert stream.response.status_code == 200
    chunks = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    assert "".join(c for c in chunks if c) == "One, two, three."
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 21


def test_no_context_attached_while_streaming(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    tracer = tracing.provider.get_tracer("test")
    with tracer.start_as_current_span("parent") as parent:
        stream = openai_client.chat.completions.create(**CHAT, stream=True)
        assert trace.get_current_span() is parent
        for _ in stream:
            assert trace.get_current_span() is parent
        assert trace.get_current_span() is parent
    span = assert_ended_once(tracing)
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.context.trace_id == parent.get_span_context().trace_id


def test_early_break_then_garbage_collection(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    stream = openai_client.chat.completions.create(**CHAT, stream=True)
    for _ in stream:
        break
    assert tracing.llm_spans() == []  # the application may still read on
    time.sleep(0.01)
    before_drop = time.time_ns()
    del stream
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.end_time < before_drop  # ended when the last chunk was read, not when collected
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-own-stream-3"
    assert span.status.status_code is StatusCode.UNSET


def test_close(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    stream = openai_client.chat.completions.create(**CHAT, stream=True)
    next(iter(stream))
    stream.close()
    span = assert_ended_once(tracing)
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # the usage chunk was never read
    stream.close()
    del stream
    gc.collect()
    assert_ended_once(tracing)


def test_with_exit(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    with openai_client.chat.completions.create(**CHAT, stream=True) as stream:
        assert isinstance(stream, openai.Stream)
        next(iter(stream))
        assert tracing.llm_spans() == []
    assert stream.response.is_closed
    assert_ended_once(tracing)


def test_error_in_with_block_is_not_the_calls_error(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    with pytest.raises(KeyError), openai_client.chat.completions.create(**CHAT, stream=True) as stream:
        next(iter(stream))
        raise KeyError("application bug")
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET


# An error event mid-stream: the library closes its own HTTP response (a ``finally``) before raising.
# The span must end with the error, which is why only closes made through the stream's ``.response``
# (helpers, the application) end it, and that response is handed out as a proxy, not the original.
ERROR_EVENTS = {
    "openai": ("openai/chat_stream_usage.json", 'data: {"error": {"message": "Overloaded", "type": "server_error"}}'),
    "anthropic": (
        "anthropic/messages_stream_cache.json",
        'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
    ),
}


@pytest.mark.parametrize("provider", ERROR_EVENTS)
def test_error_event_mid_stream(
    provider: str,
    tracing: Any,
    replay_server: ReplayServer,
    openai_client: openai.OpenAI,
    anthropic_client: anthropic.Anthropic,
) -> None:
    name, error_event = ERROR_EVENTS[provider]
    (interaction,) = copy.deepcopy(load_interactions(fixture_path(name)))
    interaction["response"]["body"] = first_events(interaction["response"]["body"], 1) + error_event + "\n\n"
    replay_server.load([interaction])
    if provider == "openai":
        stream = openai_client.chat.completions.create(**CHAT, stream=True)
    else:
        stream = anthropic_client.messages.create(**MESSAGES, stream=True)
    with pytest.raises((openai.APIError, anthropic.APIError)) as raised:
        for _ in stream:
            pass
    assert stream.response.is_closed  # by the library, before it raised
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert sc.GEN_AI_RESPONSE_ID in span.attributes  # the first event was kept


def test_connection_lost_mid_stream(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    load_cut(replay_server, "openai/chat_stream_usage.json")
    stream = openai_client.chat.completions.create(**CHAT, stream=True)
    with pytest.raises(CONNECTION_ERRORS) as raised:
        for _ in stream:
            pass
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert [e.name for e in span.events] == ["exception"]
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-own-stream-3"  # what arrived before the cut


def test_chat_stream_helper(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    with openai_client.chat.completions.stream(**CHAT) as stream:
        text = "".join(event.delta for event in stream if event.type == "content.delta")
        final = stream.get_final_completion()
    assert text == "One, two, three."
    assert final.usage.prompt_tokens == 21
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_chat_stream_helper_left_early(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    with openai_client.chat.completions.stream(**CHAT) as stream:
        next(iter(stream))
        assert tracing.llm_spans() == []
    assert_ended_once(tracing)  # the helper closes the HTTP response, not the stream: that ends the span too


def test_anthropic_stream_helper(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    with anthropic_client.messages.stream(**MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello there."
        message = stream.get_final_message()
    assert message.usage.cache_creation_input_tokens == 1200
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 6 + 1200
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 1200
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 14
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


def test_anthropic_stream_helper_left_early(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    with anthropic_client.messages.stream(**MESSAGES) as stream:
        next(iter(stream))
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "msg_own_stream_3"
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_anthropic_create_stream_cut(
    tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    load_cut(replay_server, "anthropic/messages_stream_cache.json")
    stream = anthropic_client.messages.create(**MESSAGES, stream=True)
    assert isinstance(stream, anthropic.Stream)
    with pytest.raises(CONNECTION_ERRORS):
        list(stream)
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 1200  # from message_start


async def test_async_stream(tracing: Any, replay_server: ReplayServer, async_openai_client: Any) -> None:
    replay_server.load(fixture_path("openai/chat_stream_tools.json"))
    stream = await async_openai_client.chat.completions.create(**CHAT, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    calls = [c async for c in stream]
    assert len(calls) == 7
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 64


async def test_async_close_and_with(tracing: Any, replay_server: ReplayServer, async_openai_client: Any) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    stream = await async_openai_client.chat.completions.create(**CHAT, stream=True)
    await stream.__anext__()
    await stream.close()
    assert_ended_once(tracing)
    tracing.exporter.clear()
    async with await async_openai_client.chat.completions.create(**CHAT, stream=True) as stream:
        await stream.__anext__()
        assert tracing.llm_spans() == []
    assert_ended_once(tracing)


async def test_async_anthropic_stream_helper(
    tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    async with async_anthropic_client.messages.stream(**MESSAGES) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text == "Hello there."
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1206


async def test_async_cut_stream(tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any) -> None:
    load_cut(replay_server, "anthropic/messages_stream_cache.json")
    stream = await async_anthropic_client.messages.create(**MESSAGES, stream=True)
    with pytest.raises(CONNECTION_ERRORS):
        async for _ in stream:
            pass
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR


def test_time_to_first_chunk_is_within_the_span(
    tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    list(openai_client.chat.completions.create(**CHAT, stream=True))
    span = assert_ended_once(tracing)
    ttfc = span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert 0 < ttfc <= (span.end_time - span.start_time) / 1e9


def test_responses_stream_cut_short(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    load_cut(replay_server, "openai/responses_stream.json")
    stream = openai_client.responses.create(model="o4-mini", input="Sky colour?", stream=True)
    with pytest.raises(CONNECTION_ERRORS):
        list(stream)
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "resp_own_9"  # from response.created
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_responses_stream_helper(tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI) -> None:
    replay_server.load(fixture_path("openai/responses_stream.json"))
    with openai_client.responses.stream(model="o4-mini", input="Sky colour?") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Blue."
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1500
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1280
    assert span.attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 192
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


# --- recorded streams, replayed the way their recordings were made ---------------------------------
def own_and_recorded(own: str, recorded: str) -> Any:
    """Run a test on one of the project's fixtures and on its real counterpart (skipped when absent)."""
    return pytest.mark.parametrize(
        "source",
        [
            pytest.param(("own", own), id="own"),
            pytest.param(("recorded", recorded), id="recorded", marks=pytest.mark.recorded),
        ],
    )


def path_of(source: tuple[str, str]) -> Path:
    kind, name = source
    return fixture_path(name) if kind == "own" else recorded_path(name)


def recorded_exchange(
    server: ReplayServer, source: tuple[str, str], *, cut_after: int | None = None
) -> tuple[dict[str, Any], str]:
    """Queue the recording, its connection dropped after its first ``cut_after`` events if given;
    returns its request body (less ``stream``) and its whole SSE response body."""
    (interaction,) = copy.deepcopy(load_interactions(path_of(source)))
    sse_body = interaction["response"]["body"]
    if cut_after is not None:
        interaction["response"]["truncate_at"] = len(first_events(sse_body, cut_after).encode())
    server.load([interaction])
    body = json.loads(interaction["request"]["body"])
    body.pop("stream", None)
    return body, sse_body


@own_and_recorded("anthropic/messages_stream_cache.json", "anthropic/messages_stream_helper.json")
def test_anthropic_stream_helper_text_and_final_message(
    source: tuple[str, str], tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    body, sse_body = recorded_exchange(replay_server, source)
    streamed = [e["delta"]["text"] for e in sse_data(sse_body) if e["type"] == "content_block_delta"]
    with anthropic_client.messages.stream(**body) as stream:
        assert "".join(stream.text_stream) == "".join(streamed)
        message = stream.get_final_message()
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert response_attributes(span) == expected_attributes("anthropic", "messages", sse_body, stream=True)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == message.id
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens


@own_and_recorded("anthropic/messages_stream_cache.json", "anthropic/messages_stream_closed_early.json")
def test_anthropic_stream_helper_closed_early(
    source: tuple[str, str], tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    body, sse_body = recorded_exchange(replay_server, source)
    with anthropic_client.messages.stream(**body) as stream:
        assert next(stream).type == "message_start"
        stream.close()
        span = assert_ended_once(tracing)  # at close(), not at the end of the block
    assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert response_attributes(span) == expected_attributes("anthropic", "messages", first_events(sse_body, 1), True)
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


@own_and_recorded("anthropic/messages_stream_cache.json", "anthropic/messages_stream_interrupted.json")
def test_anthropic_stream_helper_interrupted(
    source: tuple[str, str], tracing: Any, replay_server: ReplayServer, anthropic_client: anthropic.Anthropic
) -> None:
    body, sse_body = recorded_exchange(replay_server, source, cut_after=2)
    received = first_events(sse_body, 2)  # message_start and content_block_start, then the connection drops
    events = []
    with pytest.raises(CONNECTION_ERRORS) as raised, anthropic_client.messages.stream(**body) as stream:
        events.extend(event.type for event in stream)
    assert events == ["message_start", "content_block_start"]
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert response_attributes(span) == expected_attributes("anthropic", "messages", received, stream=True)


@own_and_recorded("openai/chat_stream_usage.json", "openai/chat_streaming_not_complete.json")
def test_chat_stream_left_after_two_chunks_then_closed(
    source: tuple[str, str], tracing: Any, replay_server: ReplayServer, openai_client: openai.OpenAI
) -> None:
    tracing.instrument(capture_message_content=True)
    body, sse_body = recorded_exchange(replay_server, source)
    stream = openai_client.chat.completions.create(**body, stream=True)
    text = ""
    for index, chunk in enumerate(stream):
        text += chunk.choices[0].delta.content or ""
        if index == 1:
            break
    assert tracing.llm_spans() == []
    stream.close()
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    received = first_events(sse_body, 2)
    assert response_attributes(span) == expected_attributes("openai", "chat/completions", received, stream=True)
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message == {"role": "assistant", "parts": [{"type": "text", "content": text}]}


# --- async helpers and streams --------------------------------------------------------------------
async def test_async_anthropic_get_final_message(
    tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    async with async_anthropic_client.messages.stream(**MESSAGES) as stream:
        message = await stream.get_final_message()
    assert message.content[0].text == "Hello there."
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == message.id == "msg_own_stream_3"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1206
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens == 14
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


async def test_async_anthropic_stream_helper_left_early(
    tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    async with async_anthropic_client.messages.stream(**MESSAGES) as stream:
        async for _ in stream:
            break
        assert tracing.llm_spans() == []
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "msg_own_stream_3"
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


async def test_async_chat_stream_helper(tracing: Any, replay_server: ReplayServer, async_openai_client: Any) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    async with async_openai_client.chat.completions.stream(**CHAT) as stream:
        text = "".join([event.delta async for event in stream if event.type == "content.delta"])
        final = await stream.get_final_completion()
    assert text == final.choices[0].message.content == "One, two, three."
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == final.id
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 21
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_async_chat_stream_helper_left_early(
    tracing: Any, replay_server: ReplayServer, async_openai_client: Any
) -> None:
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    async with async_openai_client.chat.completions.stream(**CHAT) as stream:
        async for _ in stream:
            break
        assert tracing.llm_spans() == []
    span = assert_ended_once(tracing)  # the helper closes the HTTP response on exit
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-own-stream-3"
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


async def test_async_responses_stream_helper(
    tracing: Any, replay_server: ReplayServer, async_openai_client: Any
) -> None:
    replay_server.load(fixture_path("openai/responses_stream.json"))
    async with async_openai_client.responses.stream(model="o4-mini", input="Sky colour?") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "Blue."
    span = assert_ended_once(tracing)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == final.id == "resp_own_9"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1500
    assert span.attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 192
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_async_early_break_then_garbage_collection(
    tracing: Any, replay_server: ReplayServer, async_anthropic_client: Any
) -> None:
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    stream = await async_anthropic_client.messages.create(**MESSAGES, stream=True)
    async for _ in stream:
        break
    assert tracing.llm_spans() == []
    time.sleep(0.01)
    before_drop = time.time_ns()
    del stream
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.end_time < before_drop  # ended when the last event was read, not when collected
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "msg_own_stream_3"


async def test_one_llm_span_with_async_anthropic_native_tracing(tracing: Any, replay_server: ReplayServer) -> None:
    for _ in range(3):
        replay_server.load(fixture_path("anthropic/messages_cache.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    native = {"tracer_provider": tracing.provider}  # anthropic 2.x traces itself into this provider
    async with anthropic.AsyncAnthropic(base_url=replay_server.base_url, api_key="k", open_telemetry=native) as client:
        uninstrument()
        await client.messages.create(**MESSAGES)
        (native_span,) = tracing.spans()  # proves the library's own spans are on in this test
        assert is_llm_span(native_span.attributes) and sc.SPAN_KIND not in native_span.attributes
        tracing.exporter.clear()

        tracing.instrument()
        await client.messages.create(**MESSAGES)
        async with client.messages.stream(**MESSAGES) as stream:
            await stream.until_done()
        assert [s.attributes.get(sc.SPAN_KIND) for s in tracing.spans()] == ["llm", "llm"]
        tracing.exporter.clear()

        uninstrument()
        await client.messages.create(**MESSAGES)
        assert len(tracing.spans()) == 1 and sc.SPAN_KIND not in tracing.spans()[0].attributes
