"""Real openai/anthropic clients, instrumented by agentops-otel, exporting through otel-collector.yaml.

Each recorded exchange is replayed by the real client libraries against the replay server; the
instrumentors' spans go both to memory (what the SDK sent) and over OTLP/HTTP to the real
collector. Every LLM span the collector writes must equal the Python collector's enrichment of
what the SDK sent, except that a model outside the YAML's curated list is marked unknown there.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import botocore.exceptions
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentops_otel import semconv as sc
from agentops_otel import usage
from agentops_otel.collector.enrich import enrich_attributes
from agentops_otel.config import Configuration
from agentops_otel.instrumentation import instrument, uninstrument
from agentops_otel.otelcol_config import price_groups
from agentops_otel.pricing import PRICE_SOURCE, UNKNOWN_MODEL_SOURCE, split_model_ref
from tests.conftest import recorded_path
from tests.instrumentation.test_recordings import OWN, RECORDED, as_kwargs, method_for
from tests.otelcol.otelcol import Otelcol, attribute_differences
from tests.support.replay import FIXTURES_DIR, ReplayServer, endpoint_of, load_interactions

pytestmark = [pytest.mark.otelcol, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COST_KEYS = {sc.GEN_AI_USAGE_COST, sc.COST_INPUT, sc.COST_OUTPUT, sc.COST_SOURCE}


class Pipeline:
    """An instrumented TracerProvider exporting to memory and to the collector."""

    def __init__(self, otelcol: Otelcol) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        exporter = OTLPSpanExporter(endpoint=otelcol.http_endpoint + "/v1/traces")
        self.provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=10_000))


@pytest.fixture
def pipeline(otelcol: Otelcol, monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Iterator[Pipeline]:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")  # anthropic's own spans would double ours
    p = Pipeline(otelcol)
    instrument(tracer_provider=p.provider, config=Configuration())
    try:
        yield p
    finally:
        uninstrument()
        p.provider.shutdown()


def replay(path: Path, server: ReplayServer) -> None:
    """Every exchange of a recording, made by the real client library (errors are expected for 4xx)."""
    provider = path.parent.name
    if provider in ("gemini", "vertexai", "bedrock"):
        replay_google_aws(path, server)
        return
    interactions = server.load(path)
    if provider == "openai":
        client: Any = openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0)
    else:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test-key", max_retries=0)
    with client:
        for interaction in interactions:
            body = json.loads(interaction["request"]["body"])
            method = method_for(provider, endpoint_of(interaction["request"]["uri"]), client)
            try:
                result = method(**as_kwargs(method, body))
                if body.get("stream"):
                    list(result)
            except (openai.APIStatusError, anthropic.APIStatusError):
                pass


def replay_google_aws(path: Path, server: ReplayServer) -> None:
    """google-genai and boto3 replays, made as tests/instrumentation makes them."""
    from google.genai import errors as genai_errors

    from tests.instrumentation import test_bedrock, test_gemini
    from tests.instrumentation.conftest import bedrock_client

    folder = path.parent.name
    if folder == "bedrock":
        client = bedrock_client(server)
        for interaction in test_bedrock.load(server, path):
            try:
                test_bedrock.call(client, interaction["request"])
            except botocore.exceptions.ClientError:
                pass
        return
    interactions = load_interactions(path)
    genai_client = test_gemini.client_for(folder, interactions[0]["request"]["uri"], server)
    for recorded in interactions:
        if recorded["request"]["uri"].endswith("/interactions"):
            server.load([recorded])
            test_gemini.create_interaction(genai_client, recorded["request"])
            continue
        legacy = "enum-encoding%3Dint" in recorded["request"]["uri"]
        interaction = test_gemini.as_google_genai_sends_it(recorded)
        server.load([interaction])
        method, _, kwargs = test_gemini.call_arguments(interaction["request"], legacy)
        try:
            result = getattr(genai_client.models, method)(**kwargs)
            if method == "generate_content_stream":
                list(result)
        except genai_errors.APIError:
            pass


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@functools.cache
def _yaml_names() -> frozenset[str]:
    return frozenset(name for group in price_groups() for name in group.names)


def _yaml_prices(model: str | None) -> bool:
    return bool(model) and split_model_ref(model)[0].lower() in _yaml_names()


def check_through_collector(paths: list[Path], server: ReplayServer, pipeline: Pipeline, otelcol: Otelcol) -> int:
    for path in paths:
        replay(path, server)
    assert pipeline.provider.force_flush(60_000)
    sent = [s for s in pipeline.memory.get_finished_spans() if (s.attributes or {}).get(sc.SPAN_KIND) == sc.KIND_LLM]
    assert sent, "the instrumentors made no LLM span"
    ids = {format(s.context.span_id, "016x"): s for s in sent}
    received = {s["span_id"]: s for s in otelcol.wait_for(lambda found: ids.keys() <= {s["span_id"] for s in found})}
    problems, priced = {}, 0
    for span_id, span in ids.items():
        original = {k: _plain(v) for k, v in span.attributes.items()}
        expected = enrich_attributes(original)
        got = received[span_id]["attributes"]
        if got.get(sc.COST_SOURCE) == UNKNOWN_MODEL_SOURCE and expected.get(sc.COST_SOURCE) == PRICE_SOURCE:
            # a model the YAML does not curate: tokens still equal, and it really is not curated
            assert not _yaml_prices(usage.llm_model(original)), (span.name, usage.llm_model(original))
            expected = {k: v for k, v in expected.items() if k not in COST_KEYS}
            got = {k: v for k, v in got.items() if k not in COST_KEYS}
        elif expected.get(sc.GEN_AI_USAGE_COST) is not None:
            priced += 1
        diff = attribute_differences(got, expected)
        if diff:
            problems[f"{span.name} {span_id}"] = diff
    assert not problems, problems
    return priced


def test_own_fixtures_through_the_collector(replay_server: ReplayServer, pipeline: Pipeline, otelcol: Otelcol) -> None:
    paths = [FIXTURES_DIR / name for name in OWN]
    priced = check_through_collector(paths, replay_server, pipeline, otelcol)
    assert priced >= 8


@pytest.mark.recorded
def test_recorded_exchanges_through_the_collector(
    replay_server: ReplayServer, pipeline: Pipeline, otelcol: Otelcol
) -> None:
    paths = [recorded_path(f"{provider}/{name}.json") for provider, names in RECORDED.items() for name in names]
    priced = check_through_collector(paths, replay_server, pipeline, otelcol)
    assert priced >= 20


GOOGLE_AWS = ("gemini", "vertexai", "bedrock")


def test_google_and_bedrock_fixtures_through_the_collector(
    replay_server: ReplayServer, pipeline: Pipeline, otelcol: Otelcol
) -> None:
    paths = sorted(p for folder in GOOGLE_AWS for p in (FIXTURES_DIR / folder).glob("*.json"))
    priced = check_through_collector(paths, replay_server, pipeline, otelcol)
    assert priced >= 8


@pytest.mark.recorded
def test_google_and_bedrock_recordings_through_the_collector(
    replay_server: ReplayServer, pipeline: Pipeline, otelcol: Otelcol
) -> None:
    from tests.instrumentation import test_bedrock, test_gemini

    names = [f"{folder}/{name}" for folder, names in test_gemini.RECORDED.items() for name in names]
    names.append("gemini/interactions_create")
    names += [f"bedrock/{name}" for name in test_bedrock.RECORDED]
    priced = check_through_collector([recorded_path(f"{n}.json") for n in names], replay_server, pipeline, otelcol)
    assert priced >= 20
