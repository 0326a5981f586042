"""Instrumented real clients against the replay server, with spans collected in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import boto3
import openai
import pytest
from botocore.config import Config as BotoConfig
from google import genai
from google.oauth2.credentials import Credentials as GoogleCredentials
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentops_otel import semconv as sc
from agentops_otel.config import Configuration
from agentops_otel.instrumentation import instrument, uninstrument
from tests.support.replay import ReplayServer


class EndCounter(SpanProcessor):
    """Counts on_end per span: a span ended twice would show up as 2 (the SDK warns and drops it)."""

    def __init__(self) -> None:
        self.ends: dict[int, int] = {}

    def on_end(self, span: ReadableSpan) -> None:
        key = span.context.span_id
        self.ends[key] = self.ends.get(key, 0) + 1


@dataclass
class Tracing:
    provider: TracerProvider
    exporter: InMemorySpanExporter
    counter: EndCounter
    configs: list[Configuration] = field(default_factory=list)

    def instrument(self, **config: Any) -> None:
        instrument(tracer_provider=self.provider, config=Configuration(**config))

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def llm_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans() if (s.attributes or {}).get(sc.SPAN_KIND) == sc.KIND_LLM]

    def only_llm_span(self) -> ReadableSpan:
        spans = self.llm_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    """A provider with in-memory export; instrumented with default configuration, uninstrumented after."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    counter = EndCounter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(counter)
    t = Tracing(provider, exporter, counter)
    t.instrument()
    try:
        yield t
    finally:
        uninstrument()
        provider.shutdown()


@pytest.fixture
def openai_client(replay_server: ReplayServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=replay_server.openai_base_url, api_key="test-key", max_retries=0) as client:
        yield client


@pytest.fixture
async def async_openai_client(replay_server: ReplayServer) -> Any:
    async with openai.AsyncOpenAI(base_url=replay_server.openai_base_url, api_key="test-key", max_retries=0) as client:
        yield client


@pytest.fixture
def anthropic_client(replay_server: ReplayServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=replay_server.base_url, api_key="test-key", max_retries=0) as client:
        yield client


@pytest.fixture
async def async_anthropic_client(replay_server: ReplayServer) -> Any:
    async with anthropic.AsyncAnthropic(base_url=replay_server.base_url, api_key="test-key", max_retries=0) as client:
        yield client


def gemini_client(server: ReplayServer) -> genai.Client:
    """The Gemini Developer API backend, as the recordings were made (v1beta), one attempt per request."""
    options = {"base_url": server.base_url, "api_version": "v1beta", "retry_options": {"attempts": 1}}
    return genai.Client(api_key="test-key", http_options=options)


def vertex_client(
    server: ReplayServer,
    *,
    project: str = "test-project",
    location: str = "test-location",
    api_version: str = "v1beta1",
) -> genai.Client:
    """The Vertex AI backend with a fixed bearer token (no Google credentials looked up)."""
    options = {"base_url": server.base_url, "api_version": api_version, "retry_options": {"attempts": 1}}
    return genai.Client(
        vertexai=True,
        project=project,
        location=location,
        credentials=GoogleCredentials(token="test-token"),
        http_options=options,
    )


def bedrock_client(server: ReplayServer) -> Any:
    """A real bedrock-runtime client sending to the replay server, one attempt per request."""
    config = BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.client("bedrock-runtime", endpoint_url=server.base_url, config=config)
