"""Groq, Mistral, Cohere, Ollama and LiteLLM: every recording, replayed through the real client
library over HTTP, gives one LLM span whose usage equals what the provider billed, with the request's
model and parameters; an error response gives an error span and the library's own exception.

Runs over the project's own fixtures (tests/fixtures/<provider>) always, and over ../shared/recorded
when present.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cohere
import groq
import mistralai.client
import ollama
import pytest
from cohere.core.api_error import ApiError
from mistralai.client.errors import MistralError

from agentops_otel import semconv as sc
from tests.instrumentation import expected
from tests.instrumentation.expected import response_attributes
from tests.instrumentation.replaying import check_outcome, check_request, replay_tests
from tests.support.replay import FIXTURES_DIR, ReplayServer, endpoint_of


@dataclass
class Case:
    """How to replay one provider's recordings: its client, the method for an endpoint, what to expect."""

    provider: str  # gen_ai.provider.name
    client: Callable[[ReplayServer], Any]
    call: Callable[[Any, str, dict[str, Any]], Any]  # (client, endpoint, request body) -> result
    errors: tuple[type[BaseException], ...]
    expected: Callable[[str, str, bool], dict[str, Any]]  # (endpoint, response body, stream) -> attributes
    operations: dict[str, str]  # endpoint -> gen_ai.operation.name
    params: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body  # where the sampling parameters are


def _groq_call(client: Any, endpoint: str, body: dict[str, Any]) -> Any:
    method = client.chat.completions.create if endpoint.endswith("chat/completions") else client.embeddings.create
    return method(**body)


def _mistral_call(client: Any, endpoint: str, body: dict[str, Any]) -> Any:
    if endpoint == "embeddings":
        body = dict(body)
        body["inputs"] = body.pop("input")  # the JSON field's name in the library is `inputs`
        return client.embeddings.create(**body)
    return (client.chat.stream if body.get("stream") else client.chat.complete)(**body)


def _ollama_call(client: Any, endpoint: str, body: dict[str, Any]) -> Any:
    return getattr(client, endpoint.removeprefix("api/"))(**body)


def _cohere_clients(server: ReplayServer) -> tuple[Any, Any]:
    """The v2 client, and the v1 one for the recordings of the v1 API."""
    return (
        cohere.ClientV2(api_key="test-key", base_url=server.base_url),
        cohere.Client(api_key="test-key", base_url=server.base_url),
    )


def _cohere_call(clients: tuple[Any, Any], endpoint: str, body: dict[str, Any]) -> Any:
    version, _, method = endpoint.rpartition("/")  # the replay server's endpoints leave "v1/" out
    client = clients[0] if version == "v2" else clients[1]
    if method == "chat":
        body = dict(body)
        return (client.chat_stream if body.pop("stream", False) else client.chat)(**body)
    return getattr(client, method)(**body)


CASES = {
    "groq": Case(
        sc.PROVIDER_GROQ,
        lambda server: groq.Groq(base_url=server.base_url, api_key="test-key", max_retries=0),
        _groq_call,
        (groq.APIStatusError,),
        expected.groq_expected,
        {"v1/chat/completions": "chat", "v1/embeddings": "embeddings"},
    ),
    "mistral": Case(
        sc.PROVIDER_MISTRAL,
        lambda server: mistralai.client.Mistral(api_key="test-key", server_url=server.base_url),
        _mistral_call,
        (MistralError,),
        expected.mistral_expected,
        {"chat/completions": "chat", "embeddings": "embeddings"},
    ),
    "ollama": Case(
        sc.PROVIDER_OLLAMA,
        lambda server: ollama.Client(host=server.base_url),
        _ollama_call,
        (ollama.ResponseError,),
        expected.ollama_expected,
        {
            "api/chat": "chat",
            "api/generate": "text_completion",
            "api/embed": "embeddings",
            "api/embeddings": "embeddings",
        },
        lambda body: {**(body.get("options") or {}), "max_tokens": (body.get("options") or {}).get("num_predict")},
    ),
    "cohere": Case(
        sc.PROVIDER_COHERE,
        _cohere_clients,
        _cohere_call,
        (ApiError,),
        expected.cohere_expected,
        {  # v1's endpoints are named without their "v1/"
            f"{version}{endpoint}": operation
            for version in ("", "v2/")
            for endpoint, operation in (("chat", "chat"), ("embed", "embeddings"), ("rerank", "rerank"))
        },
        lambda body: {**body, "top_p": body.get("p")},
    ),
}

RECORDED = {
    "groq": ["chat_basic", "chat_params_via_openai_agents", "chat_then_stream", "error_invalid_api_key"],
    "mistral": ["chat_basic", "chat_streaming", "chat_streaming_tool_call", "chat_then_stream", "embeddings"],
    "cohere": ["v2_chat", "v2_chat_streaming", "v2_chat_tool_calls_history", "v2_embed", "v2_rerank"],
    "ollama": [
        "chat",
        "chat_error_model_not_found",
        "chat_streaming",
        "chat_thinking",
        "chat_tool_call",
        "chat_tool_result_history",
        "embeddings",
        "generate",
    ],
}
OWN = sorted(str(p.relative_to(FIXTURES_DIR)) for name in CASES for p in (FIXTURES_DIR / name).glob("*.json"))


def consume(result: Any) -> list[Any]:
    return list(result)


def replay_and_check(path: Path, name: str, server: ReplayServer, tracing: Any, capture: bool) -> None:
    case = CASES[name]
    tracing.instrument(capture_message_content=capture)
    interactions = server.load(path)
    client = case.client(server)
    for interaction in interactions:
        tracing.exporter.clear()
        request, response = interaction["request"], interaction["response"]
        endpoint = endpoint_of(request["uri"])
        body = json.loads(request["body"])
        stream = body.get("stream") is True
        error: BaseException | None = None
        try:
            result = case.call(client, endpoint, body)
            if stream:
                assert consume(result)
        except case.errors as exc:
            error = exc
        span = tracing.only_llm_span()
        operation = case.operations[endpoint]
        has_messages = capture and operation in ("chat", "text_completion")
        attrs = check_request(
            span,
            operation=operation,
            provider=case.provider,
            model=body["model"],
            server=server,
            stream=stream,
            input_messages=has_messages,
        )
        params = case.params(body)
        assert attrs.get(sc.GEN_AI_REQUEST_TEMPERATURE) == params.get("temperature")
        assert attrs.get(sc.GEN_AI_REQUEST_MAX_TOKENS) == params.get("max_tokens")
        assert attrs.get(sc.GEN_AI_REQUEST_SEED) == params.get("seed", params.get("random_seed"))
        assert attrs.get(sc.GEN_AI_REQUEST_TOP_P) == params.get("top_p")
        assert tracing.counter.ends[span.context.span_id] == 1
        if check_outcome(span, error, response["status"]):
            continue
        want = case.expected(endpoint, response["body"], stream)
        if endpoint not in ("api/embeddings", "rerank", "v2/rerank"):  # Ollama's old embeddings: a vector;
            # rerank: search units
            assert want.get(sc.GEN_AI_USAGE_INPUT_TOKENS) is not None
        assert response_attributes(span) == want
        for key in (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS):
            assert type(attrs.get(key, 0)) is int
        assert (sc.GEN_AI_OUTPUT_MESSAGES in attrs) is has_messages
        if has_messages:
            messages = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
            assert messages and all(m["role"] == "assistant" and m["parts"] for m in messages), messages


test_own_fixture, test_recorded, test_every_recording_is_replayed = replay_tests(replay_and_check, OWN, RECORDED)


NATIVE_SPANS_APP = """
import json, os, sys
os.environ["MISTRAL_SDK_TELEMETRY"] = "global"  # mistralai 2.x+ then traces requests with the global provider
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from agentops_otel.instrumentation import instrument, uninstrument
from tests.support.replay import FIXTURES_DIR, ReplayServer

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
import mistralai.client

if sys.argv[1] == "instrumented":
    instrument()
with ReplayServer() as server:
    server.load(FIXTURES_DIR / "mistral/chat.json")
    mistralai.client.Mistral(api_key="k", server_url=server.base_url).chat.complete(
        model="mistral-small-latest", messages=[{"role": "user", "content": "Name a river."}])
print(json.dumps([(s.instrumentation_scope.name, s.name) for s in exporter.get_finished_spans()]))
"""


@pytest.mark.parametrize("mode", ["plain", "instrumented"])
def test_mistral_own_spans_give_way_to_ours(mode: str, tmp_path: Path) -> None:
    from tests.instrumentation.test_lifecycle import run_script

    result = run_script(NATIVE_SPANS_APP.replace("sys.argv[1]", repr(mode)), tmp_path)
    assert result.returncode == 0, result.stderr
    spans = json.loads(result.stdout)
    if mode == "plain":  # the library's own span exists: the test would see it if it came through
        assert len(spans) == 1 and spans[0][0] != "agentops_otel.instrumentation", spans
    else:
        assert spans == [["agentops_otel.instrumentation", "chat mistral-small-latest"]]


MODULE_LEVEL_OLLAMA_APP = """
import json, os, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from agentops_otel.instrumentation import instrument
from tests.support.replay import FIXTURES_DIR, ReplayServer

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
with ReplayServer() as server:
    os.environ["OLLAMA_HOST"] = server.base_url  # read by the default client ollama creates on import
    instrument(tracer_provider=provider)
    assert "ollama" not in sys.modules
    import ollama

    server.load(FIXTURES_DIR / "ollama/chat.json")
    server.load(FIXTURES_DIR / "ollama/embed.json")
    ollama.chat(model="llama3.2", messages=[{"role": "user", "content": "Name a bird."}])
    ollama.embed(model="all-minilm", input=["a bird", "a fish"])
print(json.dumps([(s.name, s.attributes["gen_ai.usage.input_tokens"]) for s in exporter.get_finished_spans()]))
"""


def test_ollama_module_level_functions(tmp_path: Path) -> None:
    from tests.instrumentation.test_lifecycle import run_script

    result = run_script(MODULE_LEVEL_OLLAMA_APP, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["chat llama3.2", 13], ["embeddings all-minilm", 6]]
