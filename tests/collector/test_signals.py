"""OTLP logs and metrics, over real HTTP and gRPC into the real collector: accepted as the OTLP
specification says; GenAI events sent as logs show with their span in /export and /spans."""

from __future__ import annotations

import json

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from agentops_otel.collector.otlp import key_value
from tests.collector.conftest import KEY, SessionBuilder, post, send


@pytest.fixture
def collector(any_store_collector):
    """Every test here runs on each store (SQLite, chDB) with the same expected answers."""
    return any_store_collector


T0 = 1_763_000_000 * 10**9


def logs_request(session: SessionBuilder, span_id: bytes, *, without_ids: int = 0) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    user = records.add(trace_id=session.trace_id, span_id=span_id, time_unix_nano=T0 + 2_000_000)
    user.event_name = "gen_ai.user.message"
    user.body.kvlist_value.values.append(key_value("content", "Pack for Lisbon?"))
    choice = records.add(trace_id=session.trace_id, span_id=span_id, time_unix_nano=T0 + 9_000_000)
    choice.attributes.append(key_value("event.name", "gen_ai.choice"))  # the older place of the name
    choice.attributes.append(key_value("gen_ai.system", "openai"))
    choice.body.kvlist_value.values.append(key_value("finish_reason", "stop"))
    for _ in range(without_ids):
        records.add(time_unix_nano=T0).body.string_value = "a plain log line"
    return request


def metrics_request(points: int) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="gen_ai.client.token.usage")
    for n in range(points):
        metric.histogram.data_points.add(count=1, sum=float(n))
    return request


def test_genai_events_sent_as_logs_are_attached_to_their_span(collector):
    session = SessionBuilder.new(start_ns=T0, seed=400)
    llm = session.llm("gpt-4o-mini", 10, 2)
    body = logs_request(session, llm.span_id, without_ids=2).SerializeToString()
    answer = post(collector, body, path="/v1/logs")  # before the span: kept until it comes
    assert answer.status == 200 and answer.headers["content-type"] == "application/x-protobuf"
    assert ExportLogsServiceResponse.FromString(answer.body) == ExportLogsServiceResponse()
    assert post(collector, body, path="/v1/logs").status == 200  # re-sent: stored once
    send(collector, [llm, session.root()])
    for path in ("export", "spans"):
        _, found = collector.get(f"/v2/sessions/{session.session_id}/{path}", KEY)
        spans = {span["span_id"]: span for span in found["spans"]}
        logs = spans[llm.span_id.hex()]["logs"]
        assert [(log["name"], log["body"]) for log in logs] == [
            ("gen_ai.user.message", {"content": "Pack for Lisbon?"}),
            ("gen_ai.choice", {"finish_reason": "stop"}),
        ], path
        assert logs[0]["timestamp"] == "2025-11-13T02:13:20.002000+00:00"
        assert spans[session.root_id.hex()]["logs"] == []
    _, status = collector.get("/v2/status", KEY)
    assert status["ingest"]["log_records_stored"] == 4 and status["ingest"]["log_records_dropped"] == 4


def test_logs_and_metrics_in_otlp_json(collector):
    session = SessionBuilder.new(start_ns=T0, seed=401)
    llm = session.llm("gpt-4o-mini", 10, 2)
    send(collector, [llm])
    record = {
        "traceId": session.trace_id.hex(),
        "spanId": llm.span_id.hex(),
        "timeUnixNano": str(T0 + 5_000_000),
        "eventName": "gen_ai.assistant.message",
        "body": {"stringValue": "Sunscreen."},
    }
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}).encode()
    answer = post(collector, body, path="/v1/logs", content_type="application/json")
    assert answer.status == 200 and answer.json() == {}
    _, found = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    assert [log["body"] for log in found["spans"][0]["logs"]] == ["Sunscreen."]
    metrics = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "sum": {"dataPoints": [{}, {}]}}]}]}]}
    answer = post(collector, json.dumps(metrics).encode(), path="/v1/metrics", content_type="application/json")
    assert answer.status == 200 and answer.json() == {}
    _, status = collector.get("/v2/status", KEY)
    assert status["ingest"]["metric_points_dropped"] == 2


def test_metrics_are_accepted_counted_and_dropped(collector):
    answer = post(collector, metrics_request(3).SerializeToString(), path="/v1/metrics")
    assert answer.status == 200
    assert ExportMetricsServiceResponse.FromString(answer.body) == ExportMetricsServiceResponse()
    _, status = collector.get("/v2/status", KEY)
    assert status["ingest"]["metric_points_dropped"] == 3


def test_logs_and_metrics_need_the_key_and_well_formed_bodies(collector):
    assert post(collector, b"", path="/v1/logs", key=None).status == 401
    assert post(collector, b"", path="/v1/metrics", key="").status == 401
    assert post(collector, b"\xff\xff", path="/v1/logs").status == 400
    assert post(collector, b"{", path="/v1/metrics", content_type="application/json").status == 400
    assert post(collector, b"x", path="/v1/logs", content_type="text/plain").status == 415


def test_logs_and_metrics_over_grpc(collector):
    session = SessionBuilder.new(start_ns=T0, seed=402)
    llm = session.llm("gpt-4o-mini", 10, 2)
    send(collector, [llm])
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as channel:
        export_logs = channel.unary_unary(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            request_serializer=ExportLogsServiceRequest.SerializeToString,
            response_deserializer=ExportLogsServiceResponse.FromString,
        )
        export_metrics = channel.unary_unary(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            request_serializer=ExportMetricsServiceRequest.SerializeToString,
            response_deserializer=ExportMetricsServiceResponse.FromString,
        )
        metadata = (("x-agentops-api-key", KEY),)
        assert export_logs(logs_request(session, llm.span_id), metadata=metadata, timeout=30) is not None
        assert export_metrics(metrics_request(2), metadata=metadata, timeout=30) is not None
        try:
            export_metrics(metrics_request(1), timeout=30)
            raise AssertionError("no key must be refused")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
    _, found = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    assert [log["name"] for log in found["spans"][0]["logs"]] == ["gen_ai.user.message", "gen_ai.choice"]
