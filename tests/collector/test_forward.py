"""--forward: enriched spans go on to other OTLP/HTTP backends; a dead one never slows ingestion."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentops_otel import pricing
from agentops_otel import semconv as sc
from agentops_otel.collector.auth import derived_project_id, key_hash
from agentops_otel.collector.process import CollectorProcess, start_collector
from tests.collector.conftest import KEY, SessionBuilder, otlp_request, post, send, stored_span_count
from tests.support.otlp_sink import OtlpSink


def forward_stats(collector: CollectorProcess) -> dict:
    """The collector's counters of KEY's spans at its one forward target."""
    _, status = collector.get("/v2/status", KEY)
    (target,) = status["forward"]
    return target


@contextmanager
def flaky_backend(failures: int) -> Iterator[dict]:
    """A real OTLP/HTTP backend on 127.0.0.1, in a thread of the test: 503 to its first ``failures`` exports.

    Yields ``{"endpoint", "attempts", "span_ids"}`` (the span ids of every export it accepted).
    """
    state: dict = {"attempts": 0, "span_ids": []}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = gzip.decompress(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state["attempts"] += 1
                accept = state["attempts"] > failures
                if accept:
                    request = ExportTraceServiceRequest.FromString(body)
                    state["span_ids"] += [
                        span.span_id for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
                    ]
            answer = ExportTraceServiceResponse().SerializeToString() if accept else b"busy"
            self.send_response(200 if accept else 503)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["endpoint"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_forwards_enriched_spans_with_headers(tmp_path):
    with OtlpSink() as sink:
        collector = start_collector(
            tmp_path / "c", args=["--forward", sink.endpoint, "--forward-header", "X-Agentops-Api-Key=downstream"]
        )
        try:
            session = SessionBuilder.new(seed=30)
            llm = session.llm("gpt-4o", 1000, 100, **{sc.GEN_AI_USAGE_COST: 123.0})
            send(collector, [llm, session.root()])
            spans = sink.wait_for(lambda found: len(found) == 2)
        finally:
            collector.stop()
    by_name = {s["name"]: s for s in spans}
    forwarded = by_name["chat gpt-4o"]["attributes"]
    cost = pricing.cost_of(pricing.TokenUsage(1000, 100), pricing.rates_for("gpt-4o", "openai"))
    assert forwarded[sc.GEN_AI_USAGE_COST] == float(cost.total) != 123.0
    assert Decimal(repr(forwarded[sc.COST_INPUT])) > 0 and forwarded[sc.COST_SOURCE] == pricing.PRICE_SOURCE
    assert forwarded[sc.PROJECT_ID] == derived_project_id(key_hash(KEY))
    assert by_name["session"]["attributes"][sc.SESSION_END_STATE] == "Success"
    assert {s["api_key"] for s in spans} == {"downstream"}


def test_hanging_backend_never_slows_ingestion_and_drops_are_counted(tmp_path):
    # a backend that accepts connections and never answers: every forward waits for its timeout
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(64)
        target_url = f"http://127.0.0.1:{hanging.getsockname()[1]}"
        collector = start_collector(
            tmp_path / "c", args=["--forward", target_url, "--forward-retries", "0", "--forward-queue", "2"]
        )
        try:
            slowest = 0.0
            for n in range(40):
                session = SessionBuilder.new(seed=1000 + n)
                started = time.monotonic()
                answer = post(collector, otlp_request([session.llm("gpt-4o-mini", 5, 5), session.root()]))
                slowest = max(slowest, time.monotonic() - started)
                assert answer.status == 200
            assert stored_span_count(collector) == 80
            assert slowest < 5, f"an ingest request waited {slowest:.1f}s on the hanging forward target"
            target = forward_stats(collector)
            assert target["url"] == f"{target_url}/v1/traces" and target["sent_spans"] == 0
            # one request in flight, two queued, one being handed from the queue to the sender: the rest dropped
            assert target["dropped_spans"] >= 80 - 2 * 4
            assert "dropped" in collector.log() and "forwarding to" in collector.log()
        finally:
            collector.stop()
        assert "dropped 80 spans in all" in collector.log(), "what was still queued or in flight at shutdown too"


def test_a_transient_503_is_retried_until_every_span_is_delivered_once(tmp_path):
    with flaky_backend(failures=2) as backend:
        collector = start_collector(tmp_path / "c", args=["--forward", backend["endpoint"]])
        try:
            sent = []
            for n in range(3):
                session = SessionBuilder.new(seed=1100 + n)
                spans = [session.llm("gpt-4o-mini", 5, 5), session.root()]
                send(collector, spans)
                sent += [span.span_id for span in spans]
            deadline = time.monotonic() + 60
            while (target := forward_stats(collector))["sent_spans"] < 6 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            collector.stop()
        assert (target["sent_spans"], target["dropped_spans"], target["failed_requests"]) == (6, 0, 0)
        assert backend["attempts"] >= 3 and sorted(backend["span_ids"]) == sorted(sent)


def test_forward_queue_is_bounded_in_bytes_and_what_is_left_at_shutdown_is_counted(tmp_path):
    with socket.socket() as hanging:  # accepts connections, never answers: the first export waits
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(64)
        target_url = f"http://127.0.0.1:{hanging.getsockname()[1]}"
        args = ["--forward", target_url, "--forward-retries", "0", "--forward-queue-bytes", "2000"]
        collector = start_collector(tmp_path / "c", args=args)
        try:
            for n in range(10):  # about 600 bytes each, far below the 1024-request bound
                session = SessionBuilder.new(seed=1200 + n)
                send(collector, [session.llm("gpt-4o-mini", 5, 5), session.root()])
            dropped = forward_stats(collector)["dropped_spans"]
            assert 0 < dropped <= 20 - 2 * 2, "a full byte bound drops new requests; one in flight, some queued"
        finally:
            stopped = time.monotonic()
            collector.stop()
        assert time.monotonic() - stopped < 15, "shutdown waits a few seconds for the hanging backend, not longer"
        log = collector.log()
        assert f"dropped 20 spans in all, {20 - dropped} of them at shutdown" in log, log
