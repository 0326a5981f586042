"""init(instrument_llm_calls=True): real OpenAI / Anthropic clients over HTTP land in the session."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import anthropic
import openai
import pytest
from opentelemetry.trace import StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.session import root_span_id
from agentops_otel.usage import span_price
from tests.conftest import fixture_path


def request_of(recording: str) -> dict:
    return json.loads(json.loads(fixture_path(recording).read_text())["interactions"][0]["request"]["body"])


def test_openai_call_is_an_llm_span_of_the_session_and_priced(sdk, replay_server):
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    session = sdk.init(instrument_llm_calls=True)
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)
    request = request_of("openai/chat_cached_reasoning.json")

    @ao.record_action("ask")
    def ask():
        return client.chat.completions.create(model=request["model"], messages=request["messages"])

    response = ask()
    assert response.choices
    analytics = ao.get_analytics()
    cost = session.end_session("Success")

    spans = {s.name: s for s in sdk.spans()}
    llm = next(s for s in spans.values() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM)
    assert llm.context.trace_id == spans["session"].context.trace_id
    assert llm.parent.span_id == spans["ask"].context.span_id
    assert spans["ask"].parent.span_id == root_span_id(session.session_id)
    assert analytics["LLM calls"] == 1 and analytics["Actions"] == 1
    expected = span_price(llm.attributes).total
    assert expected is not None and cost == expected > Decimal(0)
    assert llm.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] > 0  # cache tokens were priced too


def test_openai_stream_in_the_session(sdk, replay_server):
    replay_server.load(fixture_path("openai/chat_stream_usage.json"))
    session = sdk.init(instrument_llm_calls=True)
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)
    request = request_of("openai/chat_stream_usage.json")
    request.pop("model")
    stream = client.chat.completions.create(model="gpt-4o-mini", **request)
    chunks = list(stream)
    assert chunks
    cost = session.end_session("Success")
    assert session.get_analytics()["LLM calls"] == 1
    assert cost > 0


def test_failed_anthropic_call_counts_as_an_error(sdk, replay_server):
    replay_server.load(fixture_path("anthropic/messages_404.json"))
    session = sdk.init(instrument_llm_calls=True)
    client = anthropic.Anthropic(api_key="test", base_url=replay_server.base_url, max_retries=0)
    request = request_of("anthropic/messages_404.json")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(**request)
    analytics = ao.get_analytics()
    assert analytics["Errors"] == 1 and analytics["LLM calls"] == 1
    session.end_session("Failure", "model not found")
    (llm,) = [s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM]
    assert llm.status.status_code is StatusCode.ERROR
    assert llm.parent.span_id == root_span_id(session.session_id)


def test_shutdown_uninstruments(sdk, replay_server):
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    sdk.init(instrument_llm_calls=True)
    sdk.client.shutdown()
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)
    request = request_of("openai/chat_cached_reasoning.json")
    client.chat.completions.create(model=request["model"], messages=request["messages"])
    assert not [s for s in sdk.exporter.get_finished_spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM]


def chat_in_a_plain_thread(replay_server) -> None:
    """One chat call from a threading.Thread, which starts with an empty context."""
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    client = openai.OpenAI(api_key="test", base_url=replay_server.openai_base_url, max_retries=0)
    request = request_of("openai/chat_cached_reasoning.json")
    worker = threading.Thread(
        target=lambda: client.chat.completions.create(model=request["model"], messages=request["messages"])
    )
    worker.start()
    worker.join()


def test_llm_call_in_a_plain_thread_lands_in_the_only_running_session(sdk, replay_server):
    # With one session running, a call from a thread without context is still the session's.
    session = sdk.init(instrument_llm_calls=True)
    chat_in_a_plain_thread(replay_server)
    assert session.get_analytics()["LLM calls"] == 1
    cost = session.end_session("Success")
    llm = next(s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM)
    assert llm.context.trace_id == session.trace_id
    assert llm.parent.span_id == root_span_id(session.session_id)
    assert llm.attributes[sc.SESSION_ID] == session.session_id
    assert cost == span_price(llm.attributes).total > 0


def test_llm_call_in_a_plain_thread_with_several_sessions_running_stays_out_of_them(sdk, replay_server):
    first = sdk.init(instrument_llm_calls=True)
    second = ao.start_session()
    chat_in_a_plain_thread(replay_server)
    assert first.get_analytics()["LLM calls"] == 0 and second.get_analytics()["LLM calls"] == 0
    first.end_session("Success")
    second.end_session("Success")


def test_gemini_and_bedrock_calls_are_priced_alike_in_the_sdk_and_the_collector(sdk, replay_server, aws_env):
    """The SDK's analytics and the Python collector price them the same, each at its provider's price."""
    from agentops_otel.collector.enrich import enrich_attributes
    from agentops_otel.pricing import TokenUsage, cost_of, rates_for
    from tests.instrumentation.conftest import bedrock_client, gemini_client
    from tests.support.eventstream import with_encoded_bodies
    from tests.support.replay import load_interactions

    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    replay_server.load(with_encoded_bodies(load_interactions(fixture_path("bedrock/converse_cache_tools.json"))))
    session = sdk.init(instrument_llm_calls=True)
    gemini = gemini_client(replay_server)
    gemini.models.generate_content(model="gemini-2.5-flash", contents="Weather?")
    bedrock = bedrock_client(replay_server)
    bedrock.converse(modelId="us.anthropic.claude-3-5-sonnet-20241022-v2:0", messages=[])
    cost = session.end_session("Success")
    llm = [s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM]
    assert [s.attributes[sc.GEN_AI_PROVIDER_NAME] for s in llm] == ["gcp.gemini", "aws.bedrock"]
    collector = [Decimal(str(enrich_attributes(dict(s.attributes))[sc.GEN_AI_USAGE_COST])) for s in llm]
    assert cost == sum(span_price(s.attributes).total for s in llm)
    assert abs(cost - sum(collector)) < Decimal("1e-12")
    # Bedrock's Claude: 14 uncached, 2048 cache reads and 256 cache writes in, 33 out, at AWS's rates
    rates = rates_for("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws.bedrock")
    assert rates is not None and rates.provider == "aws"
    expected = cost_of(TokenUsage(2318, 33, cache_read_tokens=2048, cache_write_tokens=256), rates).total
    assert span_price(llm[1].attributes).total == expected > 0
