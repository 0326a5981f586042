"""One meaning of a span (agentops_otel.meaning) through the real collector: other instrumentations'
spans get their kind in REST, every LLM call counts (unpriced ones flagged), a cost the sender set
follows one rule, and a trace without our session root ends with its local root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agentops_otel import meaning, pricing
from agentops_otel import semconv as sc
from agentops_otel.pricing import TokenUsage
from agentops_otel.usage import MAX_COUNT, NO_USAGE_SOURCE, SENDER_SOURCE
from tests.collector.conftest import KEY, SessionBuilder, send
from tests.support.replay import REPO_ROOT


@pytest.fixture
def collector(any_store_collector):
    """Every test here runs on each store (SQLite, chDB) with the same expected answers."""
    return any_store_collector


T0 = 1_763_000_000 * 10**9  # 2025-11-13T02:13:20Z: long ago, whatever today is
OFFICIAL_CHAT = {  # as opentelemetry-instrumentation-openai-v2 writes a chat span
    sc.GEN_AI_OPERATION_NAME: "chat",
    sc.GEN_AI_SYSTEM: "openai",
    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
    sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
}


def _cost(model: str, i: int, o: int) -> Decimal:
    return pricing.cost_of(TokenUsage(i, o), pricing.rates_for(model, "openai")).total


def local_root(session: SessionBuilder, name: str, attrs: dict[str, Any], *, status: int = 0, message: str = ""):
    """The trace's first span, without parent (what a zero-code app or another language sends)."""
    span = session.span(name, attrs, offset_ms=0, duration_ms=500)
    span.span_id = session.root_id
    span.ClearField("parent_span_id")
    span.status.code = status
    span.status.message = message
    return span


@pytest.mark.parametrize(
    ("attrs", "kind"),
    [
        ({sc.SPAN_KIND: "tool", sc.GEN_AI_OPERATION_NAME: "chat"}, "tool"),  # ours first
        ({sc.SPAN_KIND: "bogus", sc.GEN_AI_OPERATION_NAME: "chat"}, "llm"),
        ({sc.GEN_AI_OPERATION_NAME: "chat"}, "llm"),  # no usage, no model: still an LLM call
        ({sc.GEN_AI_OPERATION_NAME: "text_completion"}, "llm"),
        ({sc.GEN_AI_OPERATION_NAME: "embeddings"}, "llm"),
        ({sc.GEN_AI_OPERATION_NAME: "generate_content"}, "llm"),
        ({sc.GEN_AI_OPERATION_NAME: "execute_tool"}, "tool"),
        ({sc.GEN_AI_OPERATION_NAME: "invoke_agent"}, "agent"),
        ({sc.GEN_AI_OPERATION_NAME: "create_agent"}, "agent"),
        ({sc.OPENINFERENCE_SPAN_KIND: "LLM"}, "llm"),
        ({sc.OPENINFERENCE_SPAN_KIND: "EMBEDDING"}, "llm"),
        ({sc.OPENINFERENCE_SPAN_KIND: "TOOL"}, "tool"),
        ({sc.OPENINFERENCE_SPAN_KIND: "AGENT"}, "agent"),
        ({sc.OPENINFERENCE_SPAN_KIND: "CHAIN"}, None),
        ({sc.OPENINFERENCE_SPAN_KIND: "RETRIEVER"}, None),
        ({sc.TRACELOOP_SPAN_KIND: "task"}, "action"),
        ({sc.TRACELOOP_SPAN_KIND: "tool"}, "tool"),
        ({sc.TRACELOOP_SPAN_KIND: "agent"}, "agent"),
        ({sc.TRACELOOP_SPAN_KIND: "workflow"}, None),
        ({sc.LEGACY_LLM_REQUEST_TYPE: "chat"}, "llm"),
        ({sc.LEGACY_LLM_REQUEST_TYPE: "embedding"}, "llm"),
        ({sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.LEGACY_PROMPT_TOKENS: 3}, "llm"),
        ({sc.OPENINFERENCE_MODEL_NAME: "gpt-4o", sc.OPENINFERENCE_PROMPT_TOKENS: 3}, "llm"),
        ({sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}, None),  # a model alone is not a call
        ({sc.OPENINFERENCE_SPAN_KIND: "CHAIN", sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.LEGACY_PROMPT_TOKENS: 3}, None),
        ({sc.GEN_AI_OPERATION_NAME: "rerank", sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.LEGACY_PROMPT_TOKENS: 3}, "llm"),
        ({"http.method": "POST"}, None),
    ],
)
def test_classify(attrs, kind):
    assert meaning.classify(attrs) == kind


def test_session_state_rule():
    now = T0 + 10 * meaning.INACTIVE_AFTER_NS
    assert meaning.session_state(False, None, now - 1, now) == "Running"
    assert meaning.session_state(False, None, now - meaning.INACTIVE_AFTER_NS - 1, now) == "Inactive"
    assert meaning.session_state(True, "Failure", T0, now) == "Failure"
    assert [meaning.end_state_of_status(code) for code in (0, 1, 2)] == ["Indeterminate", "Success", "Failure"]


HOUR, DAY = meaning.BUCKETS_NS["hour"], meaning.BUCKETS_NS["day"]


def hour_sums(start_ns: int, cost: str, sessions: int = 1, **counts: int) -> meaning.OverviewHour:
    """An hour's sums as a store's query gives them; its sessions start within it, truncated toward zero."""
    fields = {"llm_calls": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "failed_sessions": 0, **counts}
    inside = start_ns + 5 if start_ns >= 0 else start_ns - 5
    return (start_ns, sessions, Decimal(cost), *fields.values(), inside, inside)


def test_overview_sums_add_hours_into_buckets_truncating_toward_zero_exactly_and_saturating():
    hours = [
        hour_sums(-25 * HOUR, "0.1", prompt_tokens=5),  # day -1
        # an hour before 1970 in day 0, truncated toward zero as SQL does (flooring would give day -1)
        hour_sums(-HOUR, "0.2", sessions=2, errors=3, failed_sessions=1, prompt_tokens=MAX_COUNT),
        hour_sums(0, "1e-30", llm_calls=2),
        hour_sums(23 * HOUR, "0.3", prompt_tokens=MAX_COUNT),
        hour_sums(24 * HOUR, "12345678901234567890.000000000001", prompt_tokens=MAX_COUNT, completion_tokens=7),
        hour_sums(47 * HOUR, "0"),
    ]
    totals, bucket, rows = meaning.overview_sums(hours, None)
    assert bucket == "day"  # three days of data
    assert totals == meaning.OverviewTotals(
        7,
        2,
        3,
        Decimal("12345678901234567890.600000000001000000000000000001"),
        MAX_COUNT,
        7,
        1,
        -25 * HOUR - 5,
        47 * HOUR + 5,
    )
    assert [(start, n, meaning.money(cost), *rest) for start, n, cost, *rest in rows] == [
        (-DAY, 1, "0.1", 5, 0, 0, 0),
        (0, 4, "0.500000000000000000000000000001", MAX_COUNT, 0, 3, 1),
        (DAY, 2, "12345678901234567890.000000000001", MAX_COUNT, 7, 0, 0),
    ]
    _, bucket, rows = meaning.overview_sums(hours, "hour")
    assert bucket == "hour" and [row[:3] for row in rows] == [hour[:3] for hour in hours]
    assert meaning.overview_sums(hours[1:4], None)[1] == "hour"  # up to two days of data


def test_overview_sums_round_a_cost_past_80_digits_once():
    """1e79 USD and two 0.4 USD in other hours: their sum rounded once (1e79 + 1), not hour by hour (1e79)."""
    totals, _, rows = meaning.overview_sums(
        [hour_sums(0, "1e79"), *(hour_sums(n * HOUR, "0.4") for n in (1, 2))], "day"
    )
    assert meaning.money(totals.cost) == meaning.money(rows[0][2]) == "1" + "0" * 78 + "1"


def test_overview_sums_of_an_empty_period():
    totals, bucket, rows = meaning.overview_sums([], None)
    assert totals == meaning.OverviewTotals(0, 0, 0, Decimal(0), 0, 0, 0, None, None)
    assert bucket == "hour" and rows == []
    assert meaning.overview_json(totals, bucket, rows, [], [], str)["totals"]["cost"] == "0"


def test_other_instrumentations_spans_get_their_kind_in_rest_and_count(collector):
    session = SessionBuilder.new(start_ns=T0, seed=300)
    spans = [
        session.span("chat gpt-4o-mini", OFFICIAL_CHAT),
        session.span(
            "openai.chat",
            {
                sc.LEGACY_LLM_REQUEST_TYPE: "chat",
                sc.GEN_AI_SYSTEM: "openai",
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                sc.LEGACY_PROMPT_TOKENS: 100,
                sc.LEGACY_COMPLETION_TOKENS: 10,
            },
            offset_ms=20,
        ),
        session.span(
            "ChatCompletion",
            {
                sc.OPENINFERENCE_SPAN_KIND: "LLM",
                sc.OPENINFERENCE_MODEL_NAME: "gpt-4o-mini",
                sc.OPENINFERENCE_PROVIDER: "openai",
                sc.OPENINFERENCE_PROMPT_TOKENS: 5,
                sc.OPENINFERENCE_COMPLETION_TOKENS: 5,
            },
            offset_ms=40,
        ),
        session.span("execute_tool search", {sc.GEN_AI_OPERATION_NAME: "execute_tool"}, offset_ms=60),
        session.span("lookup", {sc.OPENINFERENCE_SPAN_KIND: "TOOL"}, offset_ms=70),
        session.span("plan.task", {sc.TRACELOOP_SPAN_KIND: "task"}, offset_ms=80),
        session.span("chain", {sc.OPENINFERENCE_SPAN_KIND: "CHAIN"}, offset_ms=90, error=True),
        local_root(session, "invoke_agent trip", {sc.GEN_AI_OPERATION_NAME: "invoke_agent"}, status=1),
    ]
    send(collector, spans)
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    expected_cost = _cost("gpt-4o-mini-2024-07-18", 12, 7) + _cost("gpt-4o", 100, 10) + _cost("gpt-4o-mini", 5, 5)
    assert (stats["llm_calls"], stats["tool_calls"], stats["actions"], stats["errors"], stats["events"]) == (
        3,
        2,
        1,
        1,
        8,
    )
    assert Decimal(stats["cost"]) == expected_cost and stats["unpriced_llm_calls"] == 0
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (117, 22)
    assert stats["state"] == stats["end_state"] == "Success" and not stats["in_progress"], "its local root ended OK"
    for path in ("spans", "export"):
        _, body = collector.get(f"/v2/sessions/{session.session_id}/{path}", KEY)
        kinds = {span["name"]: span["kind"] for span in body["spans"]}
        assert kinds == {
            "chat gpt-4o-mini": "llm",
            "openai.chat": "llm",
            "ChatCompletion": "llm",
            "execute_tool search": "tool",
            "lookup": "tool",
            "plan.task": "action",
            "chain": None,
            "invoke_agent trip": "agent",
        }, path
        assert all(span["cost"] is not None for span in body["spans"] if span["kind"] == "llm")
    _, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert [s["name"] for s in export["llms"]] == ["chat gpt-4o-mini", "openai.chat", "ChatCompletion"]
    assert [s["name"] for s in export["tools"]] == ["execute_tool search", "lookup"]
    assert [s["name"] for s in export["agents"]] == ["invoke_agent trip"]
    assert [s["name"] for s in export["actions"]] == ["plan.task"]


def test_every_llm_call_counts_and_one_without_a_cost_is_flagged(collector):
    session = SessionBuilder.new(start_ns=T0, seed=301)
    stream = {k: v for k, v in OFFICIAL_CHAT.items() if "usage" not in k}  # a stream without include_usage
    stream[sc.GEN_AI_REQUEST_STREAM] = True
    unknown = {**OFFICIAL_CHAT, sc.GEN_AI_REQUEST_MODEL: "my-own-model", sc.GEN_AI_RESPONSE_MODEL: "my-own-model"}
    send(
        collector,
        [
            session.span("chat stream", stream),
            session.span("chat unknown", unknown, offset_ms=20),
            session.span("chat failed", {sc.GEN_AI_OPERATION_NAME: "chat"}, offset_ms=40, error=True),
            session.span("chat ok", OFFICIAL_CHAT, offset_ms=60),
            session.root(),
        ],
    )
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert stats["llm_calls"] == 4 and stats["unpriced_llm_calls"] == 3 and stats["cost_partial"]
    assert Decimal(stats["cost"]) == _cost("gpt-4o-mini-2024-07-18", 12, 7)
    _, page = collector.get("/v2/sessions", KEY)
    assert page["sessions"][0]["unpriced_llm_calls"] == 3 and page["sessions"][0]["cost_partial"]
    _, body = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    spans = {span["name"]: span for span in body["spans"]}
    assert {name: (s["cost"], s["cost_source"]) for name, s in spans.items() if s["kind"] == "llm"} == {
        "chat stream": (None, NO_USAGE_SOURCE),
        "chat unknown": (None, pricing.UNKNOWN_MODEL_SOURCE),
        "chat failed": (None, NO_USAGE_SOURCE),
        "chat ok": (str(_cost("gpt-4o-mini-2024-07-18", 12, 7).normalize()), pricing.PRICE_SOURCE),
    }
    assert spans["chat stream"]["attributes"][sc.COST_SOURCE] == NO_USAGE_SOURCE
    assert sc.GEN_AI_USAGE_COST not in spans["chat stream"]["attributes"]
    _, overview = collector.get("/v2/overview", KEY)
    assert overview["totals"]["llm_calls"] == 4


def test_a_cost_the_sender_set_is_kept_visible_and_used_only_without_our_price(collector):
    session = SessionBuilder.new(start_ns=T0, seed=302)
    openlit_known = {**OFFICIAL_CHAT, sc.GEN_AI_USAGE_COST: 5.0}  # OpenLIT sets its own price
    openlit_unknown = {
        **OFFICIAL_CHAT,
        sc.GEN_AI_REQUEST_MODEL: "my-own-model",
        sc.GEN_AI_RESPONSE_MODEL: "my-own-model",
        sc.GEN_AI_USAGE_COST: 0.00045,
    }
    # OpenLIT sends 0 for a model it has no price for: not a price
    openlit_zero = {**openlit_unknown, sc.GEN_AI_USAGE_COST: 0.0}
    send(
        collector,
        [
            session.span("known", openlit_known),
            session.span("unknown", openlit_unknown),
            session.span("zero", openlit_zero),
            session.root(),
        ],
    )
    _, body = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    spans = {span["name"]: span for span in body["spans"]}
    ours = _cost("gpt-4o-mini-2024-07-18", 12, 7)
    known = spans["known"]["attributes"]
    assert known[sc.COST_SENDER] == 5.0 and known[sc.GEN_AI_USAGE_COST] == float(ours)
    assert known[sc.COST_SOURCE] == pricing.PRICE_SOURCE and Decimal(spans["known"]["cost"]) == ours
    unknown = spans["unknown"]["attributes"]
    assert unknown[sc.COST_SENDER] == unknown[sc.GEN_AI_USAGE_COST] == 0.00045
    assert unknown[sc.COST_SOURCE] == SENDER_SOURCE and sc.COST_INPUT not in unknown
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    zero = spans["zero"]
    assert zero["cost"] is None and zero["cost_source"] == pricing.UNKNOWN_MODEL_SOURCE
    assert zero["attributes"][sc.COST_SENDER] == 0.0 and sc.GEN_AI_USAGE_COST not in zero["attributes"]
    assert Decimal(stats["cost"]) == ours + Decimal("0.00045") and stats["unpriced_llm_calls"] == 1
    assert stats["cost_partial"]


def test_a_trace_without_our_root_is_running_then_ends_with_its_local_root(collector):
    now = time.time_ns()
    live = SessionBuilder.new(start_ns=now - 60 * 10**9, seed=303)
    send(collector, [live.span("chat", OFFICIAL_CHAT)])
    _, stats = collector.get(f"/v2/sessions/{live.session_id}/stats", KEY)
    assert stats["state"] == "Running" and stats["in_progress"] and stats["end_state"] is None
    send(collector, [local_root(live, "POST /run", {}, status=2, message="boom")])
    _, stats = collector.get(f"/v2/sessions/{live.session_id}/stats", KEY)
    assert (stats["state"], stats["end_state"], stats["end_state_reason"]) == ("Failure", "Failure", "boom")
    assert not stats["in_progress"] and stats["end_timestamp"] is not None
    assert stats["errors"] == 1, "the failed local root is an error event too"

    old = SessionBuilder.new(start_ns=T0, seed=304)  # a zero-code run that ended long ago
    send(collector, [old.span("chat", OFFICIAL_CHAT), local_root(old, "main", {})])
    silent = SessionBuilder.new(start_ns=T0, seed=305)  # never ended, silent for long
    send(collector, [silent.span("chat", OFFICIAL_CHAT)])
    _, stats = collector.get(f"/v2/sessions/{old.session_id}/stats", KEY)
    assert (stats["state"], stats["end_state"], stats["in_progress"]) == ("Indeterminate", "Indeterminate", False)
    for state, expected in (("Indeterminate", [old]), ("Inactive", [silent]), ("Failure", [live]), ("Running", [])):
        _, page = collector.get(f"/v2/sessions?end_state={state}", KEY)
        assert [s["session_id"] for s in page["sessions"]] == [s.session_id for s in expected], state
        assert all(s["state"] == state for s in page["sessions"])


def test_our_session_root_wins_over_a_local_root_in_the_same_trace(collector):
    session = SessionBuilder.new(start_ns=T0, seed=306)
    stray = local_root(session, "stray", {}, status=2)
    stray.span_id = b"\x01" * 8
    send(collector, [stray])
    send(collector, [session.root(end_state="Success", tags=("sdk",))])
    stray2 = local_root(session, "late stray", {}, status=2)
    stray2.span_id = b"\x02" * 8
    send(collector, [stray2])
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert (
        stats["state"] == "Success" and stats["tags"] == ["sdk"] and stats["end_timestamp"].endswith("21.000000+00:00")
    )


def test_get_analytics_and_end_session_equal_the_collectors_stats_with_foreign_spans(collector):
    run = run_app(collector, Path(__file__).with_name("foreign_span_app.py"))
    analytics = run["analytics"]
    _, stats = collector.get(f"/v2/sessions/{run['session_id']}/stats", KEY)
    assert analytics["LLM calls"] == stats["llm_calls"] == 4
    assert analytics["Tool calls"] == stats["tool_calls"] == 1
    assert analytics["Errors"] == stats["errors"] == 1
    assert analytics["Actions"] == stats["actions"] == 0
    assert analytics["Unpriced LLM calls"] == stats["unpriced_llm_calls"] == 2  # the stream, the bare span
    assert Decimal(run["cost"]) == Decimal(stats["cost"]) == _cost("gpt-4o-mini", 30, 12) + Decimal("0.00045")
    assert analytics["Cost"] == f"{Decimal(stats['cost']):.6f}"


def run_app(collector, app: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "OTEL_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, str(app), collector.url, KEY],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("flags", "ended"),
    [
        (0x300, True),  # the parent is known to be remote: this span is the trace's local root here
        (0x100, False),  # the parent is known to be local: its root has not arrived yet
        (0x000, False),  # the sender does not say (older SDKs): the parent is taken as local
    ],
)
def test_a_span_whose_parent_is_remote_is_a_local_root(collector, flags, ended):
    session = SessionBuilder.new(start_ns=time.time_ns() - 60 * 10**9, seed=310)
    handler = local_root(session, "POST /run", {}, status=1)
    handler.parent_span_id = b"\x0a" * 8  # the span of a caller that propagated its context
    handler.flags = flags
    send(collector, [session.span("chat", OFFICIAL_CHAT), handler])
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    expected = ("Success", "Success", False) if ended else ("Running", None, True)
    assert (stats["state"], stats["end_state"], stats["in_progress"]) == expected


def test_a_server_span_of_a_propagated_trace_ends_its_session_through_the_real_exporter(collector):
    """The OpenTelemetry SDK marks a parent extracted from traceparent as remote in the span's
    flags; a zero-code server behind a caller that does not report here still ends its sessions."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers={"x-agentops-api-key": KEY})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_hex = "4bf92f3577b34da6a3ce929d0e0e4736"
    carrier = {"traceparent": f"00-{trace_hex}-00f067aa0ba902b7-01"}
    try:
        tracer = provider.get_tracer("server")
        with tracer.start_as_current_span("POST /chat", context=TraceContextTextMapPropagator().extract(carrier)):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=OFFICIAL_CHAT):
                pass
            trace.get_current_span().set_status(trace.Status(trace.StatusCode.OK))
    finally:
        provider.shutdown()
    session_id = str(uuid.UUID(trace_hex))
    _, stats = collector.get(f"/v2/sessions/{session_id}/stats", KEY)
    assert (stats["state"], stats["end_state"], stats["llm_calls"]) == ("Success", "Success", 1)
