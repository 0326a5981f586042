"""Streams and async calls of the Groq, Mistral, Cohere, Ollama and LiteLLM instrumentors: the span
ends exactly once on every exit path (read to the end, left early and dropped, closed, connection
lost), with the usage the provider reported; async calls give the same span as sync ones."""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cohere
import groq
import httpx
import mistralai.client
import ollama
import pytest
from opentelemetry.trace import StatusCode

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import uninstrument
from tests.conftest import fixture_path
from tests.support.replay import ReplayServer, load_interactions


@dataclass
class StreamCase:
    fixture: str  # a streamed interaction of tests/fixtures
    stream: Callable[[ReplayServer], Any]  # opens the stream (sync)
    astream: Callable[[ReplayServer], Any]  # coroutine giving the async stream
    call: Callable[[ReplayServer], Any]  # a non-streamed call (sync)
    acall: Callable[[ReplayServer], Any]  # the same call, async
    call_fixture: str
    response_id: str | None
    input_tokens: int
    output_tokens: int


GROQ_CHAT = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "Name a colour."}]}


def _groq(server: ReplayServer) -> groq.Groq:
    return groq.Groq(base_url=server.base_url, api_key="k", max_retries=0)


def _agroq(server: ReplayServer) -> groq.AsyncGroq:
    return groq.AsyncGroq(base_url=server.base_url, api_key="k", max_retries=0)


MISTRAL_CHAT = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Weather in Lyon?"}]}


def _mistral(server: ReplayServer) -> mistralai.client.Mistral:
    return mistralai.client.Mistral(api_key="k", server_url=server.base_url)


OLLAMA_CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "Name a bird."}]}


COHERE_CHAT = {"model": "command-r-plus", "messages": [{"role": "user", "content": "Weather in Oslo?"}]}


def _cohere(server: ReplayServer) -> cohere.ClientV2:
    return cohere.ClientV2(api_key="k", base_url=server.base_url)


def _acohere(server: ReplayServer) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key="k", base_url=server.base_url)


COHERE_V1_CHAT = {"model": "command-r", "message": "Weather in Oslo?"}


def _cohere_v1(server: ReplayServer) -> cohere.Client:
    return cohere.Client(api_key="k", base_url=server.base_url)


def _acohere_v1(server: ReplayServer) -> cohere.AsyncClient:
    return cohere.AsyncClient(api_key="k", base_url=server.base_url)


async def _ready(stream: Any) -> Any:
    return stream  # cohere's async chat_stream is an async generator, used without await


CASES = {
    "groq": StreamCase(
        "groq/chat_stream.json",
        lambda s: _groq(s).chat.completions.create(**GROQ_CHAT, stream=True),
        lambda s: _agroq(s).chat.completions.create(**GROQ_CHAT, stream=True),
        lambda s: _groq(s).chat.completions.create(**GROQ_CHAT),
        lambda s: _agroq(s).chat.completions.create(**GROQ_CHAT),
        "groq/chat.json",
        "chatcmpl-own-groq-2",
        14,
        4,
    ),
    "mistral": StreamCase(
        "mistral/chat_stream_tool_call.json",
        lambda s: _mistral(s).chat.stream(**MISTRAL_CHAT),
        lambda s: _mistral(s).chat.stream_async(**MISTRAL_CHAT),
        lambda s: _mistral(s).chat.complete(**MISTRAL_CHAT),
        lambda s: _mistral(s).chat.complete_async(**MISTRAL_CHAT),
        "mistral/chat.json",
        "own-mistral-2",
        61,
        19,
    ),
    "ollama": StreamCase(
        "ollama/chat_stream.json",
        lambda s: ollama.Client(host=s.base_url).chat(**OLLAMA_CHAT, stream=True),
        lambda s: ollama.AsyncClient(host=s.base_url).chat(**OLLAMA_CHAT, stream=True),
        lambda s: ollama.Client(host=s.base_url).chat(**OLLAMA_CHAT),
        lambda s: ollama.AsyncClient(host=s.base_url).chat(**OLLAMA_CHAT),
        "ollama/chat.json",
        None,
        13,
        11,
    ),
    "cohere": StreamCase(
        "cohere/chat_stream_tool_call.json",
        lambda s: _cohere(s).chat_stream(**COHERE_CHAT),
        lambda s: _ready(_acohere(s).chat_stream(**COHERE_CHAT)),
        lambda s: _cohere(s).chat(**COHERE_CHAT),
        lambda s: _acohere(s).chat(**COHERE_CHAT),
        "cohere/chat.json",
        "own-cohere-2",
        31,
        17,
    ),
    "cohere_v1": StreamCase(
        "cohere/v1_chat_stream_tool_call.json",
        lambda s: _cohere_v1(s).chat_stream(**COHERE_V1_CHAT),
        lambda s: _ready(_acohere_v1(s).chat_stream(**COHERE_V1_CHAT)),
        lambda s: _cohere_v1(s).chat(**COHERE_V1_CHAT),
        lambda s: _acohere_v1(s).chat(**COHERE_V1_CHAT),
        "cohere/v1_chat.json",
        "own-cohere-v1-2",
        42,
        19,
    ),
}
PROVIDERS = pytest.mark.parametrize("name", list(CASES))
CONNECTION_ERRORS = (httpx.HTTPError, groq.APIConnectionError)


def ended_once(tracing: Any) -> Any:
    span = tracing.only_llm_span()
    assert tracing.counter.ends[span.context.span_id] == 1
    return span


def check_usage(span: Any, case: StreamCase) -> None:
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == case.input_tokens
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == case.output_tokens
    if case.response_id is not None:
        assert span.attributes[sc.GEN_AI_RESPONSE_ID] == case.response_id


@PROVIDERS
def test_read_to_the_end(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    case = CASES[name]
    replay_server.load(fixture_path(case.fixture))
    stream = case.stream(replay_server)
    assert tracing.llm_spans() == []
    assert list(stream)
    span = ended_once(tracing)
    check_usage(span, case)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert span.status.status_code is StatusCode.UNSET


@PROVIDERS
def test_left_early_then_dropped(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    case = CASES[name]
    replay_server.load(fixture_path(case.fixture))
    stream = case.stream(replay_server)
    for _ in stream:
        break
    assert tracing.llm_spans() == []  # the application may still read on
    time.sleep(0.01)
    before_drop = time.time_ns()
    del stream
    gc.collect()
    span = ended_once(tracing)
    assert span.end_time < before_drop  # ended when the last chunk arrived, not when collected
    assert span.status.status_code is StatusCode.UNSET


@PROVIDERS
def test_closed(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    case = CASES[name]
    replay_server.load(fixture_path(case.fixture))
    stream = case.stream(replay_server)
    next(iter(stream))
    stream.close()
    ended_once(tracing)
    stream.close()
    del stream
    gc.collect()
    ended_once(tracing)


@PROVIDERS
def test_connection_lost(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    case = CASES[name]
    interactions = copy.deepcopy(load_interactions(fixture_path(case.fixture)))
    interactions[0]["response"]["truncate_at"] = len(interactions[0]["response"]["body"].encode()) // 2
    replay_server.load(interactions)
    with pytest.raises(Exception) as raised:
        for _ in case.stream(replay_server):
            pass
    span = ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert [e.name for e in span.events] == ["exception"]


@PROVIDERS
async def test_async_stream(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    case = CASES[name]
    replay_server.load(fixture_path(case.fixture))
    stream = await case.astream(replay_server)
    events = [event async for event in stream]
    assert events
    span = ended_once(tracing)
    check_usage(span, case)
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True


@PROVIDERS
async def test_async_call(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    case = CASES[name]
    replay_server.load(fixture_path(case.call_fixture))
    replay_server.load(fixture_path(case.call_fixture))
    result = await case.acall(replay_server)
    async_attrs = dict(ended_once(tracing).attributes)
    tracing.exporter.clear()
    assert type(case.call(replay_server)) is type(result)  # the same type, sync or async: returned untouched
    sync_attrs = dict(tracing.only_llm_span().attributes)
    assert async_attrs == sync_attrs


# A client built before instrument() is traced like one built after (cohere binds chat and chat_stream
# to each client when it is built), and uninstrument() leaves it untraced again.
BUILT_BEFORE = {
    "groq": (_groq, lambda c: c.chat.completions.create(**GROQ_CHAT), "groq/chat.json"),
    "mistral": (_mistral, lambda c: c.chat.complete(**MISTRAL_CHAT), "mistral/chat.json"),
    "ollama": (lambda s: ollama.Client(host=s.base_url), lambda c: c.chat(**OLLAMA_CHAT), "ollama/chat.json"),
    "cohere": (_cohere, lambda c: c.chat(**COHERE_CHAT), "cohere/chat.json"),
    "cohere_stream": (_cohere, lambda c: list(c.chat_stream(**COHERE_CHAT)), "cohere/chat_stream_tool_call.json"),
    "cohere_v1": (_cohere_v1, lambda c: c.chat(**COHERE_V1_CHAT), "cohere/v1_chat.json"),
    "cohere_v1_stream": (
        _cohere_v1,
        lambda c: list(c.chat_stream(**COHERE_V1_CHAT)),
        "cohere/v1_chat_stream_tool_call.json",
    ),
}


@pytest.mark.parametrize("name", list(BUILT_BEFORE))
def test_client_built_before_instrument(name: str, tracing: Any, replay_server: ReplayServer) -> None:
    build, call, fixture = BUILT_BEFORE[name]
    uninstrument()
    client = build(replay_server)
    tracing.instrument()
    replay_server.load(fixture_path(fixture))
    replay_server.load(fixture_path(fixture))
    call(client)
    span = ended_once(tracing)
    assert type(span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS]) is int
    tracing.exporter.clear()
    uninstrument()
    call(client)
    assert tracing.llm_spans() == []


def test_cohere_raw_responses(tracing: Any, replay_server: ReplayServer) -> None:
    """``with_raw_response``: the answer's HttpResponse, and the stream as a context manager, are traced
    like the public methods (which call them)."""
    replay_server.load(fixture_path("cohere/chat.json"))
    replay_server.load(fixture_path("cohere/chat_stream_tool_call.json"))
    raw = _cohere(replay_server).with_raw_response
    response = raw.chat(**COHERE_CHAT)
    assert response.status_code == 200 and response.data.id
    assert ended_once(tracing).attributes[sc.GEN_AI_RESPONSE_ID] == response.data.id
    tracing.exporter.clear()
    with raw.chat_stream(**COHERE_CHAT) as streamed:
        assert tracing.llm_spans() == []
        events = list(streamed.data)
    assert events[0].type == "message-start"
    check_usage(ended_once(tracing), CASES["cohere"])
