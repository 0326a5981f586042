"""AgentOps' multi-session style: ``session=`` on instrumented calls and decorated functions, and
``Session.patch``; a call that names no session while several run goes to none of them, said once."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import anthropic
import openai
import pytest

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.instrumentation._patching import accept_session, wrap_method
from tests.conftest import fixture_path

CHAT = "openai/chat_cached_reasoning.json"
MESSAGES = "anthropic/messages_cache.json"
MESSAGES_STREAM = "anthropic/messages_stream_cache.json"


def request_of(recording: str) -> dict:
    return json.loads(json.loads(fixture_path(recording).read_text())["interactions"][0]["request"]["body"])


def anthropic_body(recording: str) -> dict:
    body = request_of(recording)
    return {key: body[key] for key in ("model", "max_tokens", "messages", "system") if key in body}


def llm_spans(sdk) -> list:
    return [s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM]


@pytest.fixture
def two_sessions(sdk):
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    first, second = ao.start_session(tags=["one"]), ao.start_session(tags=["two"])
    yield first, second
    for session in (first, second):
        if session.is_running:
            session.end_session("Success")


def test_session_argument_routes_the_openai_call_and_never_reaches_the_library(sdk, replay_server, two_sessions):
    first, second = two_sessions
    replay_server.load(fixture_path(CHAT))
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)
    response = client.chat.completions.create(**request_of(CHAT), session=first)
    assert response.choices
    assert "session" not in replay_server.requests[-1].json()
    [span] = llm_spans(sdk)
    assert span.context.trace_id == first.trace_id != second.trace_id
    assert span.parent.span_id == first.root_span_id


def test_session_argument_on_an_async_call(sdk, replay_server, two_sessions):
    first, _second = two_sessions
    replay_server.load(fixture_path(CHAT))

    async def main() -> None:
        async with openai.AsyncOpenAI(api_key="t", base_url=replay_server.openai_base_url, max_retries=0) as client:
            response = await client.chat.completions.create(**request_of(CHAT), session=first)
            assert response.choices

    asyncio.run(main())
    [span] = llm_spans(sdk)
    assert span.context.trace_id == first.trace_id


def test_session_argument_on_anthropic_create_and_stream_manager(sdk, replay_server, two_sessions):
    first, second = two_sessions
    replay_server.load(fixture_path(MESSAGES))
    replay_server.load(fixture_path(MESSAGES_STREAM))
    client = anthropic.Anthropic(api_key="test", base_url=replay_server.base_url, max_retries=0)
    client.messages.create(**anthropic_body(MESSAGES), session=second)
    body = anthropic_body(MESSAGES_STREAM)
    with client.messages.stream(**body, session=first) as stream:  # the request is sent on __enter__
        stream.until_done()
    assert all("session" not in r.json() for r in replay_server.requests)
    assert sorted(s.context.trace_id for s in llm_spans(sdk)) == sorted([first.trace_id, second.trace_id])


def test_patch_binds_a_call_to_its_session(sdk, replay_server, two_sessions):
    first, _second = two_sessions
    replay_server.load(fixture_path(CHAT))
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)
    create = first.patch(client.chat.completions.create)
    assert create.__name__ == "create"
    create(**request_of(CHAT))
    [span] = llm_spans(sdk)
    assert span.context.trace_id == first.trace_id


def test_session_argument_on_decorated_functions(sdk, two_sessions):
    first, second = two_sessions
    seen: list[dict] = []

    @ao.record_action("lookup")
    def lookup(query, **kwargs):
        seen.append(kwargs)
        return query.upper()

    @ao.record_tool("search")
    def search(query, session=None):  # its own parameter: it keeps it
        seen.append({"session": session})
        return query

    assert lookup("a", session=first) == "A"
    assert search("b", session=second) == "b"
    assert seen == [{}, {"session": second}]
    spans = {s.name: s for s in sdk.spans()}
    assert spans["lookup"].context.trace_id == first.trace_id
    assert spans["execute_tool search"].context.trace_id == second.trace_id


def test_a_call_naming_no_session_while_several_run_goes_to_none_with_one_warning(
    sdk, replay_server, two_sessions, caplog
):
    replay_server.repeat = True
    replay_server.load(fixture_path(CHAT))
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)

    def outside_any_session() -> None:  # a plain thread starts with no current span
        client.chat.completions.create(**request_of(CHAT))
        client.chat.completions.create(**request_of(CHAT))

    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        worker = threading.Thread(target=outside_any_session)
        worker.start()
        worker.join()
    warnings = [r.getMessage() for r in caplog.records if "none current" in r.getMessage()]
    assert len(warnings) == 1
    assert "session=" in warnings[0] and "session.patch" in warnings[0]
    assert all(s.context.trace_id not in (t.trace_id for t in two_sessions) for s in llm_spans(sdk))


def test_a_libraries_own_session_argument_passes_through():
    class Library:
        def call(self, x, session=None):
            return (x, session)

        def other(self, x, session=None):
            return (x, session)

    patches = [
        accept_session(Library, "call"),
        wrap_method(Library, "other", lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs)),
    ]
    try:
        assert Library().call(1, session="db-session") == (1, "db-session")
        assert Library().other(2, session="db-session") == (2, "db-session")
        assert Library().call(3) == (3, None)
    finally:
        for patch in patches:
            patch.restore()


@pytest.mark.parametrize("provider", ["groq", "mistral"])
def test_session_argument_on_the_other_providers(sdk, replay_server, two_sessions, provider):
    from tests.instrumentation.test_providers import CASES  # imports the provider libraries

    case = CASES[provider]
    [interaction] = replay_server.load(fixture_path(f"{provider}/chat.json"))
    body = json.loads(interaction["request"]["body"])
    first, _second = two_sessions
    case.call(case.client(replay_server), "chat/completions", {**body, "session": first})
    assert "session" not in replay_server.requests[-1].json()
    [span] = llm_spans(sdk)
    assert span.context.trace_id == first.trace_id


def test_session_argument_on_google_genai_calls_and_streams(sdk, replay_server, two_sessions):
    """google-genai's stream sends its request when first read: it is read in the session named."""
    from tests.instrumentation.conftest import gemini_client

    first, second = two_sessions
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    client = gemini_client(replay_server)
    client.models.generate_content(model="gemini-2.5-flash", contents="hi", session=first)
    chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents="count", session=second)
    assert len(list(chunks)) == 3

    async def read_async_stream() -> int:
        stream = await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="x", session=first)
        return len([chunk async for chunk in stream])

    assert asyncio.run(read_async_stream()) == 3
    assert all("session" not in r.json() for r in replay_server.requests)
    assert [s.context.trace_id for s in llm_spans(sdk)] == [first.trace_id, second.trace_id, first.trace_id]


def test_session_argument_on_bedrock_calls_and_streams(sdk, replay_server, two_sessions, aws_env):
    from tests.instrumentation.conftest import bedrock_client
    from tests.support.eventstream import with_encoded_bodies
    from tests.support.replay import load_interactions

    first, second = two_sessions
    replay_server.load(with_encoded_bodies(load_interactions(fixture_path("bedrock/converse_cache_tools.json"))))
    replay_server.load(with_encoded_bodies(load_interactions(fixture_path("bedrock/converse_stream_tools.json"))))
    client = bedrock_client(replay_server)
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    client.converse(modelId="us.anthropic.claude-3-5-sonnet-20241022-v2:0", messages=messages, session=second)
    result = client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=messages, session=first)
    list(result["stream"])
    assert [s.context.trace_id for s in llm_spans(sdk)] == [second.trace_id, first.trace_id]


def test_session_argument_on_cohere_calls_and_streams(sdk, replay_server, two_sessions):
    """cohere's public methods take session= and call the raw client's, which record the call."""
    import cohere

    first, second = two_sessions
    for name in ("chat.json", "chat_stream_tool_call.json", "v1_chat.json", "v1_embed.json"):
        replay_server.load(fixture_path(f"cohere/{name}"))
    v2 = cohere.ClientV2(api_key="k", base_url=replay_server.base_url)
    v1 = cohere.Client(api_key="k", base_url=replay_server.base_url)
    messages = [{"role": "user", "content": "x"}]
    v2.chat(model="command-r-plus", messages=messages, session=first)
    assert list(v2.chat_stream(model="command-r-plus", messages=messages, session=second))
    v1.chat(model="command-r", message="x", session=second)
    v1.embed(model="embed-english-v3.0", texts=["a", "b", "c"], session=first)
    assert all("session" not in r.json() for r in replay_server.requests)
    spans = llm_spans(sdk)
    assert [s.context.trace_id for s in spans] == [first.trace_id, second.trace_id, second.trace_id, first.trace_id]
