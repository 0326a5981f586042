"""Collector tests run the real collector process on free 127.0.0.1 ports with a real SQLite file."""

from __future__ import annotations

import gzip
import http.client
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agentops_otel import semconv as sc
from agentops_otel.collector.otlp import key_value
from agentops_otel.collector.process import CollectorProcess, start_collector

KEY = "test-key-a"
OTHER_KEY = "test-key-b"


@pytest.fixture
def collector(tmp_path) -> Iterator[CollectorProcess]:
    process = start_collector(tmp_path / "collector")
    try:
        yield process
    finally:
        process.stop()


STORES = ("sqlite", "chdb")


@pytest.fixture(params=STORES)
def any_store_collector(request: pytest.FixtureRequest, tmp_path) -> Iterator[Any]:
    """The collector on each store: its own process on SQLite; in this process on chDB (the run's
    chDB directory, a fresh database). Modules whose tests every store must pass alias it as
    ``collector``."""
    if request.param == "sqlite":
        process = start_collector(tmp_path / "collector")
        try:
            yield process
        finally:
            process.stop()
        return
    from tests.support.store_collector import chdb_collector

    with chdb_collector(request.getfixturevalue("chdb_dir"), tmp_path / "collector") as collector:
        yield collector


@pytest.fixture(params=STORES)
def any_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Any]:
    """Each store, opened empty: SQLite in a new file, ClickHouse on a fresh database of the run's chDB directory."""
    if request.param == "sqlite":
        from agentops_otel.collector.store import SQLiteStore

        opened = SQLiteStore(tmp_path / "store.sqlite3")
        try:
            yield opened
        finally:
            opened.close()
        return
    from tests.support.store_collector import chdb_store

    with chdb_store(request.getfixturevalue("chdb_dir")) as opened:
        yield opened


def sqlite_only(collector: Any) -> None:
    """Skip a test reading the SQLite file itself when its collector runs on another store."""
    if not isinstance(collector, CollectorProcess):
        pytest.skip("reads the SQLite file itself")


@dataclass
class SessionBuilder:
    """Hand-made OTLP spans of one session (trace id = session id), as the span contract says."""

    trace_id: bytes
    root_id: bytes
    start_ns: int
    rng: random.Random

    @classmethod
    def new(cls, start_ns: int = 1_700_000_000_000_000_000, seed: int | None = None) -> SessionBuilder:
        rng = random.Random(seed)
        return cls(rng.randbytes(16), rng.randbytes(8), start_ns, rng)

    @property
    def session_id(self) -> str:
        return str(uuid.UUID(bytes=self.trace_id))

    def span(
        self,
        name: str,
        attributes: dict[str, Any],
        *,
        offset_ms: int = 1,
        duration_ms: int = 10,
        error: bool = False,
        span_id: bytes | None = None,
    ) -> Span:
        span = Span(
            trace_id=self.trace_id,
            span_id=span_id or self.rng.randbytes(8),
            parent_span_id=self.root_id,
            name=name,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=self.start_ns + offset_ms * 1_000_000,
            end_time_unix_nano=self.start_ns + (offset_ms + duration_ms) * 1_000_000,
        )
        span.attributes.extend(key_value(k, v) for k, v in attributes.items())
        if error:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="failed"))
        return span

    def llm(self, model: str, input_tokens: int, output_tokens: int, **extra: Any) -> Span:
        attributes = {
            sc.SPAN_KIND: sc.KIND_LLM,
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            **extra,
        }
        return self.span(f"chat {model}", attributes)

    def root(
        self, end_state: str = "Success", tags: tuple[str, ...] = (), reason: str | None = None, duration_ms: int = 1000
    ) -> Span:
        attributes: dict[str, Any] = {
            sc.SPAN_KIND: sc.KIND_SESSION,
            sc.SESSION_ID: self.session_id,
            sc.SESSION_END_STATE: end_state,
            sc.SESSION_TAGS: list(tags),
        }
        if reason:
            attributes[sc.SESSION_END_STATE_REASON] = reason
        span = Span(
            trace_id=self.trace_id,
            span_id=self.root_id,
            name="session",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=self.start_ns,
            end_time_unix_nano=self.start_ns + duration_ms * 1_000_000,
        )
        span.attributes.extend(key_value(k, v) for k, v in attributes.items())
        return span


def otlp_request(spans: list[Span], service: str = "test-agent", resource: dict[str, Any] | None = None) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        key_value(k, v) for k, v in {sc.SERVICE_NAME: service, **(resource or {})}.items()
    )
    resource_spans.scope_spans.add().spans.extend(spans)
    return request.SerializeToString()


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    def otlp(self) -> ExportTraceServiceResponse:
        return ExportTraceServiceResponse.FromString(self.body)


def post(
    collector: CollectorProcess,
    body: bytes,
    *,
    key: str | None = KEY,
    content_type: str = "application/x-protobuf",
    encoding: str | None = None,
    path: str = "/v1/traces",
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = {"Content-Type": content_type, **(headers or {})}
    if key is not None:
        sent["X-Agentops-Api-Key"] = key
    if encoding:
        sent["Content-Encoding"] = encoding
    conn = http.client.HTTPConnection("127.0.0.1", collector.http_port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=sent)
        response = conn.getresponse()
        return Answer(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def send(collector: CollectorProcess, spans: list[Span], key: str = KEY, **options: Any) -> Answer:
    answer = post(collector, otlp_request(spans, **options), key=key)
    assert answer.status == 200, answer
    return answer


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def stored_span_count(collector: CollectorProcess) -> int:
    import sqlite3

    with sqlite3.connect(collector.db_path) as db:
        return db.execute("SELECT count(*) FROM spans").fetchone()[0]
