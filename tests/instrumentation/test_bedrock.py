"""boto3's bedrock-runtime client against the replay server (real botocore, real HTTP, real AWS event
streams): every recording gives one LLM span whose tokens are what Bedrock billed, streams end exactly
once on every exit path, errors are error spans, and only Bedrock Runtime clients are touched."""

from __future__ import annotations

import base64
import copy
import gc
import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import botocore.exceptions
import pytest
import wrapt
from botocore.response import StreamingBody
from opentelemetry.trace import SpanKind, StatusCode

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import uninstrument
from agentops_otel.instrumentation.bedrock import family
from tests.conftest import fixture_path, recorded_path
from tests.instrumentation.conftest import bedrock_client
from tests.instrumentation.expected import expected_bedrock, response_attributes
from tests.support import eventstream
from tests.support.eventstream import with_encoded_bodies
from tests.support.replay import FIXTURES_DIR, RECORDED_DIR, ReplayServer, load_interactions

RECORDED = [
    "converse_basic", "converse_cross_region_guardrail", "converse_error_invalid_model", "converse_stream_basic",
    "converse_stream_nova_guardrail", "converse_tool_call", "invoke_model_anthropic", "invoke_model_anthropic_stream",
    "invoke_model_llama3", "invoke_model_nova", "invoke_model_prompt_cache", "invoke_model_titan",
    "invoke_model_titan_stream",
]  # fmt: skip
OWN = sorted(p.name for p in (FIXTURES_DIR / "bedrock").glob("*.json"))
CAPTURE = pytest.mark.parametrize("capture", [False, True], ids=["capture_off", "capture_on"])
STREAMS = ("converse-stream", "invoke-with-response-stream")
CONVERSE_PARAMS = {
    "maxTokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "topP": sc.GEN_AI_REQUEST_TOP_P,
    "stopSequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
}


@pytest.fixture
def bedrock(aws_env: None, replay_server: ReplayServer, tracing: Any) -> Any:
    """A bedrock-runtime client created once instrumented (clients made before are not traced)."""
    return bedrock_client(replay_server)


def load(server: ReplayServer, path: Path) -> list[dict[str, Any]]:
    interactions = with_encoded_bodies(load_interactions(path))
    server.load(interactions)
    return interactions


def call(client: Any, request: dict[str, Any]) -> tuple[str, str, Any]:
    """Send the recorded request through the matching client method; (operation, model id, result read)."""
    path = urlsplit(request["uri"]).path
    model, operation = unquote(path.split("/model/", 1)[1]).rsplit("/", 1)
    body = request["body"]
    if operation == "converse":
        return operation, model, client.converse(modelId=model, **json.loads(body))
    if operation == "converse-stream":
        result = client.converse_stream(modelId=model, **json.loads(body))
        return operation, model, list(result["stream"])
    if operation == "invoke":
        result = client.invoke_model(modelId=model, body=body)
        return operation, model, result["body"].read()
    result = client.invoke_model_with_response_stream(modelId=model, body=body)
    return operation, model, list(result["body"])


def replay_and_check(path: Path, server: ReplayServer, tracing: Any, client: Any, capture: bool) -> None:
    tracing.instrument(capture_message_content=capture)
    for interaction in load(server, path):
        tracing.exporter.clear()
        request, response = interaction["request"], interaction["response"]
        error: Exception | None = None
        try:
            operation, model, result = call(client, request)
        except botocore.exceptions.ClientError as exc:
            error = exc
            operation, model = "converse", unquote(urlsplit(request["uri"]).path.split("/model/", 1)[1]).rsplit("/")[0]
        span = tracing.only_llm_span()
        attrs = dict(span.attributes)
        assert span.kind is SpanKind.CLIENT
        assert span.name == f"chat {model}"
        assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
        assert attrs[sc.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
        assert attrs[sc.GEN_AI_REQUEST_MODEL] == model
        assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1" and attrs[sc.SERVER_PORT] == server.port
        assert attrs.get(sc.GEN_AI_REQUEST_STREAM) is (True if operation in STREAMS else None)
        assert tracing.counter.ends[span.context.span_id] == 1
        if operation.startswith("converse"):
            config = json.loads(request["body"]).get("inferenceConfig") or {}
            for key, name in CONVERSE_PARAMS.items():
                value = config.get(key)
                assert attrs.get(name) == (tuple(value) if isinstance(value, list) else value), name
        assert (sc.GEN_AI_INPUT_MESSAGES in attrs) is capture
        if response["status"] >= 400:
            assert error is not None
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == response["status"]
            assert span.status.status_code is StatusCode.ERROR
            assert attrs[sc.ERROR_TYPE] == type(error).__qualname__
            assert [e.name for e in span.events] == ["exception"]
            continue
        assert error is None
        assert span.status.status_code is StatusCode.UNSET
        assert response_attributes(span) == expected_bedrock(operation, response)
        assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0 and attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        if operation == "invoke":  # the body read by the instrumentation is still the application's to read
            assert result == response["body"].encode()
        if capture:
            (message,) = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
            assert message["role"] == "assistant" and message["parts"]


@CAPTURE
@pytest.mark.parametrize("name", OWN)
def test_own_fixture(name: str, capture: bool, replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    replay_and_check(fixture_path(f"bedrock/{name}"), replay_server, tracing, bedrock, capture)


@pytest.mark.recorded
@CAPTURE
@pytest.mark.parametrize("name", RECORDED)
def test_recorded(name: str, capture: bool, replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    replay_and_check(recorded_path(f"bedrock/{name}.json"), replay_server, tracing, bedrock, capture)


@pytest.mark.recorded
def test_every_recording_is_replayed() -> None:
    if not RECORDED_DIR.is_dir():
        pytest.skip("../shared/recorded not available (recorded provider responses live beside the repo)")
    assert sorted(p.stem for p in (RECORDED_DIR / "bedrock").glob("*")) == RECORDED


def test_model_families() -> None:
    assert family("us.anthropic.claude-3-5-sonnet-20241022-v2:0") == "anthropic"
    assert family("arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0") == (
        "anthropic"
    )
    assert family("amazon.titan-text-express-v1") == "amazon.titan"
    assert family("global.amazon.nova-lite-v1%3A0") == "amazon.nova"
    assert family("meta.llama3-70b-instruct-v1:0") == "meta"
    assert family(None) == ""


# --- tokens as billed ------------------------------------------------------------------------------------
def test_converse_cache_tokens(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    load(replay_server, fixture_path("bedrock/converse_cache_tools.json"))
    result = bedrock.converse(
        modelId="us.anthropic.claude-3-5-sonnet-20241022-v2:0", messages=[{"role": "user", "content": [{"text": "x"}]}]
    )
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 14 + 2048 + 256  # Bedrock's inputTokens leave the cache out
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 256
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 33
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert result["usage"]["totalTokens"] == 2351  # the application's dict is untouched


def test_invoke_stream_tokens_are_bedrocks_invocation_metrics(
    replay_server: ReplayServer, tracing: Any, bedrock: Any
) -> None:
    """The model's own events say 1 output token at the start and 5 at the end; Bedrock bills its metrics."""
    load(replay_server, fixture_path("bedrock/invoke_claude_stream_cache.json"))
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": []})
    result = bedrock.invoke_model_with_response_stream(modelId="anthropic.claude-3-5-haiku-20241022-v1:0", body=body)
    assert len(list(result["body"])) == 7
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 6 + 1500
    assert attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 1500
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert attrs[sc.GEN_AI_RESPONSE_ID] == "msg_bdrk_own_3"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "claude-3-5-haiku-20241022"


def test_invoke_model_body_is_handed_back_unread(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    (interaction,) = load(replay_server, fixture_path("bedrock/invoke_titan_headers.json"))
    result = bedrock.invoke_model(modelId="amazon.titan-text-express-v1", body=interaction["request"]["body"])
    assert isinstance(result["body"], StreamingBody)
    assert b"".join(result["body"].iter_chunks(4)) == interaction["response"]["body"].encode()
    assert result["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "3"
    attrs = tracing.only_llm_span().attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3 and attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 20 and attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.9


def test_invoke_model_body_cut_short_is_the_calls_error(
    replay_server: ReplayServer, tracing: Any, bedrock: Any
) -> None:
    (interaction,) = copy.deepcopy(
        with_encoded_bodies(load_interactions(fixture_path("bedrock/invoke_titan_headers.json")))
    )
    interaction["response"]["truncate_at"] = 10
    replay_server.load([interaction])
    with pytest.raises(Exception) as raised:  # what reading the body raises without instrumentation
        bedrock.invoke_model(modelId="amazon.titan-text-express-v1", body="{}")
    span = tracing.only_llm_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert type(raised.value.__context__).__name__ != "_ResponseLost"  # raised as the read raised it


def test_content_capture(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    tracing.instrument(capture_message_content=True)
    (interaction,) = load(replay_server, fixture_path("bedrock/converse_cache_tools.json"))
    bedrock.converse(
        modelId="us.anthropic.claude-3-5-sonnet-20241022-v2:0", **json.loads(interaction["request"]["body"])
    )
    attrs = tracing.only_llm_span().attributes
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]}
    ]
    assert json.loads(attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be brief."},
        {"type": "cachePoint"},
    ]
    assert json.loads(attrs[sc.GEN_AI_TOOL_DEFINITIONS])[0]["toolSpec"]["name"] == "get_weather"
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Checking."},
                {"type": "tool_call", "id": "tooluse_own_1", "name": "get_weather", "arguments": {"city": "Oslo"}},
            ],
            "finish_reason": "tool_use",
        }
    ]


def test_streamed_tool_call_content(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    tracing.instrument(capture_message_content=True)
    load(replay_server, fixture_path("bedrock/converse_stream_tools.json"))
    result = bedrock.converse_stream(
        modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "x"}]}]
    )
    list(result["stream"])
    (message,) = json.loads(tracing.only_llm_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [
        {"type": "text", "content": "Checking now."},
        {"type": "tool_call", "id": "tooluse_own_2", "name": "get_weather", "arguments": {"city": "Oslo"}},
    ]


# --- streams on every exit path --------------------------------------------------------------------------
def converse_stream(client: Any) -> Any:
    return client.converse_stream(
        modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "x"}]}]
    )


def assert_ended_once(tracing: Any) -> Any:
    span = tracing.only_llm_span()
    assert tracing.counter.ends[span.context.span_id] == 1
    return span


def test_stream_early_break_then_garbage_collection(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    load(replay_server, fixture_path("bedrock/converse_stream_tools.json"))
    result = converse_stream(bedrock)
    for _ in result["stream"]:
        break
    assert tracing.llm_spans() == []
    time.sleep(0.01)
    before_drop = time.time_ns()
    del result
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.end_time < before_drop  # when the last event was read
    assert span.status.status_code is StatusCode.UNSET
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_stream_closed(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    load(replay_server, fixture_path("bedrock/converse_stream_tools.json"))
    result = converse_stream(bedrock)
    next(iter(result["stream"]))
    result["stream"].close()
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET
    result["stream"].close()
    del result
    gc.collect()
    assert_ended_once(tracing)


def test_stream_never_read(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    load(replay_server, fixture_path("bedrock/converse_stream_tools.json"))
    result = converse_stream(bedrock)
    del result
    gc.collect()
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("name", ["converse_stream_tools.json", "invoke_claude_stream_cache.json"])
def test_stream_error_event(name: str, replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    """Bedrock reports a failure mid-stream as an exception message; botocore raises it."""
    (interaction,) = copy.deepcopy(with_encoded_bodies(load_interactions(fixture_path(f"bedrock/{name}"))))
    raw = base64.b64decode(interaction["response"]["body"])
    first = int.from_bytes(raw[:4], "big")  # the first frame's length
    failure = eventstream.exception("modelStreamErrorException", "The model stopped")
    interaction["response"]["body"] = base64.b64encode(raw[:first] + failure).decode()
    replay_server.load([interaction])
    model = unquote(urlsplit(interaction["request"]["uri"]).path.split("/model/")[1]).rsplit("/", 1)[0]
    if name.startswith("converse"):
        events = converse_stream(bedrock)["stream"]
    else:
        events = bedrock.invoke_model_with_response_stream(modelId=model, body=interaction["request"]["body"])["body"]
    received = []
    with pytest.raises(botocore.exceptions.EventStreamError) as raised:
        received.extend(events)
    assert len(received) == 1
    span = assert_ended_once(tracing)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__


def test_stream_cut_by_the_network(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    """botocore ends an event stream whose connection dropped like a finished one: the span ends once,
    without the usage that never came."""
    (interaction,) = copy.deepcopy(
        with_encoded_bodies(load_interactions(fixture_path("bedrock/converse_stream_tools.json")))
    )
    interaction["response"]["truncate_at"] = 300
    replay_server.load([interaction])
    assert list(converse_stream(bedrock)["stream"])
    span = assert_ended_once(tracing)
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_no_context_attached_while_streaming(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    from opentelemetry import trace

    load(replay_server, fixture_path("bedrock/converse_stream_tools.json"))
    with tracing.provider.get_tracer("test").start_as_current_span("parent") as parent:
        result = converse_stream(bedrock)
        for _ in result["stream"]:
            assert trace.get_current_span() is parent
    span = assert_ended_once(tracing)
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 21


# --- only Bedrock Runtime, created before or after instrument() --------------------------------------------
def test_other_services_untouched_and_older_clients_traced(
    aws_env: None, replay_server: ReplayServer, tracing: Any
) -> None:
    uninstrument()
    before = bedrock_client(replay_server)
    s3_before = boto3.client("s3", endpoint_url=replay_server.base_url)
    tracing.instrument()
    after = bedrock_client(replay_server)
    s3 = boto3.client("s3", endpoint_url=replay_server.base_url)
    assert hasattr(type(after).__dict__["converse"], "__wrapped__")
    assert hasattr(type(before).__dict__["converse"], "__wrapped__")
    for other in (s3, s3_before):
        assert not any(isinstance(v, wrapt.FunctionWrapper) for v in type(other).__dict__.values())
    load(replay_server, fixture_path("bedrock/invoke_titan_headers.json"))
    before.invoke_model(modelId="amazon.titan-text-express-v1", body="{}")
    span = assert_ended_once(tracing)
    assert span.attributes[sc.SERVER_PORT] == replay_server.port
    uninstrument()
    assert not hasattr(type(before).__dict__["converse"], "__wrapped__")  # restored


def test_uninstrument_restores_client_classes(replay_server: ReplayServer, tracing: Any, bedrock: Any) -> None:
    cls = type(bedrock)
    wrapped = {name: cls.__dict__[name].__wrapped__ for name in ("converse", "invoke_model", "converse_stream")}
    uninstrument()
    assert {name: cls.__dict__[name] for name in wrapped} == wrapped
    load(replay_server, fixture_path("bedrock/invoke_titan_headers.json"))
    result = bedrock.invoke_model(modelId="amazon.titan-text-express-v1", body="{}")
    assert not isinstance(result["body"]._raw_stream, io.BytesIO)  # the original body, not read by us
    assert tracing.llm_spans() == []


def test_bug_in_response_handling_is_swallowed(
    replay_server: ReplayServer, tracing: Any, bedrock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops_otel.instrumentation import bedrock as module

    def broken(self: Any, response: Any, capture: bool) -> dict[str, Any]:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(module.Converse, "response_attributes", broken)
    load(replay_server, fixture_path("bedrock/converse_cache_tools.json"))
    result = bedrock.converse(modelId="us.anthropic.claude-3-5-sonnet-20241022-v2:0", messages=[])
    assert result["stopReason"] == "tool_use"
    assert assert_ended_once(tracing).status.status_code is StatusCode.UNSET


def test_bug_in_request_handling_lets_the_call_through(
    replay_server: ReplayServer, tracing: Any, bedrock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops_otel.instrumentation import bedrock as module

    def broken(self: Any, body: Any, capture: bool) -> dict[str, Any]:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(module.InvokeModel, "request_attributes", broken)
    load(replay_server, fixture_path("bedrock/invoke_titan_headers.json"))
    result = bedrock.invoke_model(modelId="amazon.titan-text-express-v1", body="{}")
    assert json.loads(result["body"].read())["inputTextTokenCount"] == 3
    assert tracing.llm_spans() == []
