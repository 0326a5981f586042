"""OTLP in over real HTTP and gRPC: formats, retries stored once, every bad-input case."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal

from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from agentops_otel import pricing
from agentops_otel import semconv as sc
from agentops_otel.collector.process import start_collector
from agentops_otel.pricing import TokenUsage
from tests.collector.conftest import KEY, SessionBuilder, gzipped, otlp_request, post, send, stored_span_count


def _session_with_sdk(exporter) -> str:
    provider = TracerProvider(resource=Resource.create({sc.SERVICE_NAME: "sdk-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "session",
        attributes={sc.SPAN_KIND: sc.KIND_SESSION, sc.SESSION_END_STATE: "Failure", sc.SESSION_TAGS: ["sdk"]},
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                sc.SPAN_KIND: sc.KIND_LLM,
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
            },
        ):
            pass
        with tracer.start_as_current_span("execute_tool search", attributes={sc.SPAN_KIND: sc.KIND_TOOL}) as tool:
            tool.set_status(Status(StatusCode.ERROR, "tool broke"))
        with tracer.start_as_current_span("act", attributes={sc.SPAN_KIND: sc.KIND_ACTION}):
            pass
        root.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    return f"{root.get_span_context().trace_id:032x}"


def _check_sdk_session(collector, trace_hex: str) -> None:
    import uuid

    session_id = str(uuid.UUID(hex=trace_hex))
    status, stats = collector.get(f"/v2/sessions/{session_id}/stats", KEY)
    assert status == 200, stats
    cost = pricing.cost_of(TokenUsage(1000, 100), pricing.rates_for("gpt-4o-mini", "openai"))
    assert Decimal(stats["cost"]) == cost.total
    assert (stats["llm_calls"], stats["tool_calls"], stats["actions"], stats["errors"], stats["events"]) == (
        1,
        1,
        1,
        1,
        3,
    )
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (1000, 100)
    assert stats["end_state"] == "Failure" and stats["tags"] == ["sdk"] and not stats["in_progress"]


def test_otel_sdk_http_exporter(collector):
    exporter = HttpSpanExporter(endpoint=f"{collector.url}/v1/traces", headers={"X-Agentops-Api-Key": KEY})
    _check_sdk_session(collector, _session_with_sdk(exporter))


def test_otel_sdk_http_exporter_gzip_and_bearer(collector):
    from opentelemetry.exporter.otlp.proto.http import Compression

    exporter = HttpSpanExporter(
        endpoint=f"{collector.url}/v1/traces", headers={"Authorization": f"Bearer {KEY}"}, compression=Compression.Gzip
    )
    _check_sdk_session(collector, _session_with_sdk(exporter))


def test_otel_sdk_grpc_exporter(collector):
    exporter = GrpcSpanExporter(
        endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True, headers={"x-agentops-api-key": KEY}
    )
    _check_sdk_session(collector, _session_with_sdk(exporter))


def test_grpc_without_key_is_refused(collector):
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    session = SessionBuilder.new(seed=5)
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        request = ExportTraceServiceRequest.FromString(otlp_request([session.root()]))
        try:
            stub.Export(request, timeout=30)
            raise AssertionError("expected UNAUTHENTICATED")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
        response = stub.Export(request, timeout=30, metadata=[("x-agentops-api-key", KEY)])
        assert not response.partial_success.rejected_spans
    assert stored_span_count(collector) == 1


def test_otlp_json_with_hex_ids(collector):
    session = SessionBuilder.new(seed=1)
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-agent"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": session.trace_id.hex(),
                                "spanId": "0102030405060708",
                                "parentSpanId": session.root_id.hex(),
                                "name": "chat gpt-4o",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000500000000",
                                "attributes": [
                                    {"key": sc.GEN_AI_REQUEST_MODEL, "value": {"stringValue": "gpt-4o"}},
                                    {"key": sc.GEN_AI_SYSTEM, "value": {"stringValue": "openai"}},
                                    {"key": sc.LEGACY_PROMPT_TOKENS, "value": {"intValue": "40"}},
                                    {"key": sc.LEGACY_COMPLETION_TOKENS, "value": {"intValue": 2}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    answer = post(collector, json.dumps(body).encode(), content_type="application/json")
    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("application/json")
    assert "partialSuccess" not in answer.json()
    status, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert status == 200
    (span,) = export["spans"]
    assert span["span_id"] == "0102030405060708" and span["parent_span_id"] == session.root_id.hex()
    assert span["span_kind"] == "CLIENT" and span["service_name"] == "js-agent"
    assert span["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] == 40, "normalised from the older name"
    expected = pricing.cost_of(TokenUsage(40, 2), pricing.rates_for("gpt-4o", "openai")).total
    assert Decimal(span["cost"]) == expected
    assert export["stats"]["in_progress"] and export["stats"]["end_state"] is None
    assert export["stats"]["state"] == "Inactive", "no root and its last span long ago"
    assert export["llms"] == [span], "an LLM span from another instrumentation counts as an LLM call"


def test_deflate_encoding(collector):
    session = SessionBuilder.new(seed=2)
    answer = post(collector, zlib.compress(otlp_request([session.root()])), encoding="deflate")
    assert answer.status == 200, answer
    assert stored_span_count(collector) == 1


def test_resent_spans_are_stored_and_counted_once(collector):
    session = SessionBuilder.new(seed=3)
    llm = session.llm("gpt-4o", 100, 10)
    tool = session.span("tool", {sc.SPAN_KIND: sc.KIND_TOOL})
    send(collector, [llm, tool])
    send(collector, [llm, tool])  # a retry of the whole request
    send(collector, [tool, session.root(), llm, tool])  # overlapping, with duplicates inside
    status, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert status == 200
    assert (stats["events"], stats["llm_calls"], stats["tool_calls"], stats["prompt_tokens"]) == (2, 1, 1, 100)
    expected = pricing.cost_of(TokenUsage(100, 10), pricing.rates_for("gpt-4o", "openai")).total
    assert Decimal(stats["cost"]) == expected
    assert stored_span_count(collector) == 3
    _, counters = collector.get("/v2/status", KEY)
    assert (counters["ingest"]["spans_stored"], counters["ingest"]["spans_duplicate"]) == (3, 5)


def test_invalid_ids_are_rejected_and_counted(collector):
    session = SessionBuilder.new(seed=4)
    good = session.llm("gpt-4o", 1, 1)
    zero_trace = session.span("zero trace", {})
    zero_trace.trace_id = bytes(16)
    short_span = session.span("short span", {})
    short_span.span_id = b"\x01\x02"
    bad_parent = session.span("bad parent", {})
    bad_parent.parent_span_id = b"\x01"
    answer = send(collector, [zero_trace, good, short_span, bad_parent])
    partial = answer.otlp().partial_success
    assert partial.rejected_spans == 3
    assert "trace id" in partial.error_message and "span id" in partial.error_message
    assert stored_span_count(collector) == 1
    # a request with only invalid spans stores nothing at all
    answer = send(collector, [zero_trace])
    assert answer.otlp().partial_success.rejected_spans == 1
    assert stored_span_count(collector) == 1


def test_bad_input_is_refused_and_changes_nothing(tmp_path):
    collector = start_collector(tmp_path / "c", args=["--max-body-bytes", "100000"])
    try:
        session = SessionBuilder.new(seed=6)
        good = otlp_request([session.root()])

        malformed = post(collector, b"\x0a\xff\xff\xff\xff\x0f garbage")
        assert malformed.status == 400
        assert "malformed OTLP protobuf" in status_pb2.Status.FromString(malformed.body).message

        for bad_json in (b"{not json", b"[1, 2]", json.dumps({"resourceSpans": "nope"}).encode()):
            answer = post(collector, bad_json, content_type="application/json")
            assert answer.status == 400, (bad_json, answer)
            assert "malformed OTLP JSON" in answer.json()["error"]

        answer = post(collector, good, content_type="text/plain")
        assert answer.status == 415 and "unsupported content type" in answer.json()["error"]
        assert post(collector, good, encoding="br").status == 415

        too_big = otlp_request([session.span("x", {"blob": "x" * 200_000})])
        assert post(collector, too_big).status == 413
        bomb = gzipped(b"\0" * 50_000_000)  # 50 MB of zeros in ~50 KB
        assert len(bomb) < 100_000
        answer = post(collector, bomb, encoding="gzip")
        assert answer.status == 413, answer
        assert post(collector, gzipped(good)[:-10], encoding="gzip").status == 400  # truncated gzip

        assert post(collector, good, key=None).status == 401
        assert stored_span_count(collector) == 0

        assert post(collector, gzipped(good), encoding="gzip").status == 200, "and the collector is still up"
        assert stored_span_count(collector) == 1
        status, counters = collector.get("/v2/status", KEY)
        assert status == 200 and counters["ingest"]["spans_stored"] == 1
    finally:
        collector.stop()


def test_otlp_json_bad_hex_id_is_rejected_in_partial_success(collector):
    session = SessionBuilder.new(seed=7)
    span = {
        "traceId": session.trace_id.hex(),
        "name": "x",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000000000001",
    }
    body = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [{**span, "spanId": "not-hex!"}, {**span, "spanId": "0a0b0c0d0e0f0102"}]}]}
        ]
    }
    answer = post(collector, json.dumps(body).encode(), content_type="application/json; charset=utf-8")
    assert answer.status == 200, answer
    assert answer.json()["partialSuccess"]["rejectedSpans"] in ("1", 1)
    assert stored_span_count(collector) == 1


def test_full_sync_mode(tmp_path):
    collector = start_collector(tmp_path / "c", args=["--sync", "full", "--no-grpc"])
    try:
        assert collector.grpc_port is None
        session = SessionBuilder.new(seed=8)
        send(collector, [session.llm("gpt-4o", 1, 1), session.root()])
        assert stored_span_count(collector) == 2
    finally:
        collector.stop()


def _spans_with_out_of_range_values(session: SessionBuilder) -> list:
    """Two spans to reject (times unset or past int64), and LLM spans whose counts do not fit int64."""
    unset = session.span("unset times", {})
    unset.start_time_unix_nano = 0
    future = session.span("past int64", {})
    future.start_time_unix_nano, future.end_time_unix_nano = 2**63, 2**64 - 1
    too_big = session.span(
        "chat gpt-4o",
        {
            sc.SPAN_KIND: sc.KIND_LLM,
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.LEGACY_PROMPT_TOKENS: "99999999999999999999",
            sc.LEGACY_COMPLETION_TOKENS: 1e30,
        },
    )
    huge = [session.llm("gpt-4o", 2**62, 1), session.llm("gpt-4o", 2**62, 1)]  # each fits; their sum does not
    return [unset, session.llm("gpt-4o", 100, 10), future, too_big, *huge, session.root()]


def _check_out_of_range_session(collector, session: SessionBuilder, rejected: int, message: str) -> None:
    assert rejected == 2
    assert "start and end time are required" in message and "below 2**63" in message
    status, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert status == 200, export
    stats = export["stats"]
    assert (stats["events"], stats["llm_calls"]) == (4, 4)
    assert stats["prompt_tokens"] == 2**63 - 1, "sums saturate at the largest int64"
    assert stats["init_timestamp"].startswith("2023-11-14T22:13:20"), "no unset time pulls the start back to 1970"
    (kept,) = [s for s in export["spans"] if s["attributes"].get(sc.LEGACY_PROMPT_TOKENS) == "99999999999999999999"]
    assert kept["attributes"][sc.LEGACY_COMPLETION_TOKENS] == 1e30, "left as sent"
    assert (
        sc.GEN_AI_USAGE_INPUT_TOKENS not in kept["attributes"]
        and sc.GEN_AI_USAGE_OUTPUT_TOKENS not in kept["attributes"]
    )


def test_out_of_range_values_reject_only_their_span_over_http(collector):
    session = SessionBuilder.new(seed=9)
    partial = send(collector, _spans_with_out_of_range_values(session)).otlp().partial_success
    _check_out_of_range_session(collector, session, partial.rejected_spans, partial.error_message)


def test_out_of_range_values_reject_only_their_span_over_grpc(collector):
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    session = SessionBuilder.new(seed=10)
    request = ExportTraceServiceRequest.FromString(otlp_request(_spans_with_out_of_range_values(session)))
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        partial = stub.Export(request, timeout=30, metadata=[("x-agentops-api-key", KEY)]).partial_success
    _check_out_of_range_session(collector, session, partial.rejected_spans, partial.error_message)


def test_every_member_of_a_gzip_body_is_stored_and_trailing_garbage_refused(collector):
    session = SessionBuilder.new(seed=11)
    first, second = otlp_request([session.llm("gpt-4o", 5, 5)]), otlp_request([session.root()])
    # two concatenated protobuf messages parse as one with both resource_spans; each gzipped on its own
    answer = post(collector, gzipped(first) + b"\0\0" + gzipped(second), encoding="gzip")
    assert answer.status == 200, answer
    assert stored_span_count(collector) == 2

    other = SessionBuilder.new(seed=12)
    answer = post(collector, gzipped(otlp_request([other.root()])) + b"not gzip", encoding="gzip")
    assert answer.status == 400 and b"trailing data" in answer.body
    assert stored_span_count(collector) == 2
