"""--forward: enriched spans go on to other OTLP/HTTP backends; a dead one never slows ingestion."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

from agentops_otel import pricing
from agentops_otel import semconv as sc
from agentops_otel.collector.auth import derived_project_id, key_hash
from agentops_otel.collector.process import start_collector
from tests.collector.conftest import KEY, SessionBuilder, otlp_request, post, send, stored_span_count
from tests.support.otlp_sink import OtlpSink


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
            deadline = time.monotonic() + 90
            while True:
                _, health = collector.get("/health", None)
                (target,) = health["forward"]
                if target["dropped_spans"] == 80 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert target["url"] == f"{target_url}/v1/traces"
            assert target["dropped_spans"] == 80 and target["sent_spans"] == 0
            assert "dropped" in collector.log() and "forwarding to" in collector.log()
        finally:
            collector.stop()
