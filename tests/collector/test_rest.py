"""The REST export API over real HTTP: listing, filters, cursors, sorting, export, overview, lifecycle."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from agentops_otel import pricing
from agentops_otel import semconv as sc
from agentops_otel.collector.format import iso
from agentops_otel.pricing import TokenUsage
from tests.collector.conftest import KEY, SessionBuilder, send


@pytest.fixture
def collector(any_store_collector):
    """Every test here runs on each store (SQLite, chDB) with the same expected answers."""
    return any_store_collector


HOUR_NS = 3600 * 10**9
T0 = 1_763_000_000 * 10**9  # 2025-11-13T02:13:20Z


def _cost(model: str, i: int, o: int) -> Decimal:
    return pricing.cost_of(TokenUsage(i, o), pricing.rates_for(model, "openai")).total


def _seed_sessions(collector) -> list[SessionBuilder]:
    sessions = []
    for n in range(7):
        s = SessionBuilder.new(start_ns=T0 + n * HOUR_NS, seed=100 + n)
        spans = [s.llm("gpt-4o-mini", 100 * (n + 1), 10)]
        if n % 3 == 0:
            spans.append(s.span("fail", {sc.SPAN_KIND: sc.KIND_TOOL}, error=True))
        tags = ("even",) if n % 2 == 0 else ("odd",)
        if n in (2, 4):
            tags += ("special",)
        spans.append(s.root(end_state="Failure" if n == 5 else "Success", tags=tags, duration_ms=1000 * (7 - n)))
        send(collector, spans)
        sessions.append(s)
    return sessions


def _ids(page) -> list[str]:
    return [s["session_id"] for s in page["sessions"]]


def test_list_newest_first_with_cursor_pages(collector):
    sessions = _seed_sessions(collector)
    newest_first = [s.session_id for s in reversed(sessions)]
    seen, cursor = [], None
    while True:
        path = "/v2/sessions?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = collector.get(path, KEY)
        assert status == 200
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    status, page = collector.get("/v2/sessions?order=asc&limit=50", KEY)
    assert _ids(page) == list(reversed(newest_first)) and page["next_cursor"] is None


def test_filters_and_sorting(collector):
    sessions = _seed_sessions(collector)
    ids = [s.session_id for s in sessions]
    _, page = collector.get("/v2/sessions?tags=even,special", KEY)
    assert _ids(page) == [ids[4], ids[2]]
    _, page = collector.get("/v2/sessions?tags=odd", KEY)
    assert _ids(page) == [ids[5], ids[3], ids[1]]
    _, page = collector.get("/v2/sessions?end_state=Failure", KEY)
    assert _ids(page) == [ids[5]]
    _, page = collector.get("/v2/sessions?end_state=Fail", KEY)  # the AgentOps alias
    assert _ids(page) == [ids[5]]
    after = "2025-11-13T04:13:20%2B00:00"  # T0 + 2h
    before = "2025-11-13T06:13:20Z"  # T0 + 4h, exclusive
    _, page = collector.get(f"/v2/sessions?start_after={after}&start_before={before}", KEY)
    assert _ids(page) == [ids[3], ids[2]]
    _, page = collector.get("/v2/sessions?sort=cost&limit=2", KEY)
    assert _ids(page) == [ids[6], ids[5]]
    _, page2 = collector.get(f"/v2/sessions?sort=cost&limit=2&cursor={page['next_cursor']}", KEY)
    assert _ids(page2) == [ids[4], ids[3]]
    _, page = collector.get("/v2/sessions?sort=duration&order=asc&limit=1", KEY)
    assert _ids(page) == [ids[6]]
    _, page = collector.get("/v2/sessions?sort=errors&limit=50", KEY)
    assert set(_ids(page)[:3]) == {ids[0], ids[3], ids[6]}
    _, page = collector.get("/v2/sessions?sort=tokens&limit=1", KEY)
    assert _ids(page) == [ids[6]]
    for bad in ("limit=0", "limit=x", "sort=name", "order=up", "end_state=Done", "start_after=yesterday", "cursor=zz"):
        status, body = collector.get(f"/v2/sessions?{bad}", KEY)
        assert status == 400 and body["error"], bad


def test_end_state_filter_tells_running_inactive_and_ended_indeterminate_apart(collector):
    now = time.time_ns()
    running = SessionBuilder.new(start_ns=now - 60 * 10**9, seed=60)  # last span a minute ago, no end yet
    inactive = SessionBuilder.new(start_ns=now - 3 * HOUR_NS, seed=61)  # no end, silent for hours
    indeterminate = SessionBuilder.new(start_ns=now - 2 * HOUR_NS, seed=62)
    succeeded = SessionBuilder.new(start_ns=now - 2 * HOUR_NS, seed=63)
    send(collector, [running.llm("gpt-4o-mini", 1, 1)])
    send(collector, [inactive.llm("gpt-4o-mini", 1, 1)])
    send(collector, [indeterminate.llm("gpt-4o-mini", 1, 1), indeterminate.root(end_state="Indeterminate")])
    send(collector, [succeeded.root(end_state="Success")])
    expected = {
        "Running": [running],
        "Inactive": [inactive],
        "Indeterminate": [indeterminate],  # ended so: in-progress sessions are not among them
        "Success": [succeeded],
        "Failure": [],
    }
    for state, sessions in expected.items():
        status, page = collector.get(f"/v2/sessions?end_state={state}", KEY)
        assert status == 200 and _ids(page) == [s.session_id for s in sessions], state
        assert all(found["state"] == state for found in page["sessions"]), "the filter finds what the field says"
    _, page = collector.get(f"/v2/sessions?end_state=Inactive&start_after={iso(now - 2 * HOUR_NS)}", KEY)
    assert _ids(page) == [], "combines with the other filters"
    _, page = collector.get(f"/v2/sessions?end_state=Running&start_after={iso(now - 2 * HOUR_NS)}", KEY)
    assert _ids(page) == [running.session_id]


def test_stats_shape_and_agentops_keys(collector):
    session = SessionBuilder.new(start_ns=T0, seed=1)
    spans = [
        session.llm("gpt-4o", 1500, 200, **{sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1024}),
        session.llm("gpt-4o-mini", 10, 5, **{sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 3}),
        session.span("execute_tool search", {sc.SPAN_KIND: sc.KIND_TOOL}),
        session.span("act", {sc.SPAN_KIND: sc.KIND_ACTION}),
        session.span("boom", {sc.SPAN_KIND: sc.KIND_ERROR, sc.ERROR_TYPE: "ValueError"}, error=True),
        session.root(end_state="Fail", tags=("t1", "t2"), reason="gave up", duration_ms=2500),
    ]
    send(collector, spans)
    status, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert status == 200
    cost = pricing.cost_of(TokenUsage(1500, 200, 1024), pricing.rates_for("gpt-4o", "openai")).total + _cost(
        "gpt-4o-mini", 10, 5
    )
    assert stats["cost"] == format(cost.normalize(), "f") and Decimal(stats["cost"]) == cost
    assert stats == {
        "session_id": session.session_id,
        "project_id": stats["project_id"],
        "init_timestamp": "2025-11-13T02:13:20.000000+00:00",
        "end_timestamp": "2025-11-13T02:13:22.500000+00:00",
        "last_activity_timestamp": "2025-11-13T02:13:22.500000+00:00",
        "duration_s": 2.5,
        "state": "Failure",
        "end_state": "Failure",
        "end_state_reason": "gave up",
        "in_progress": False,
        "tags": ["t1", "t2"],
        "llm_calls": 2,
        "tool_calls": 1,
        "actions": 1,
        "errors": 1,
        "events": 5,
        "prompt_tokens": 1510,
        "completion_tokens": 205,
        "cache_read_tokens": 1024,
        "cache_creation_tokens": 0,
        "reasoning_tokens": 3,
        "unpriced_llm_calls": 0,
        "cost": stats["cost"],
        "cost_partial": False,
        "models": ["gpt-4o", "gpt-4o-mini"],
    }


def test_session_lifecycle_in_progress_then_ended(collector):
    session = SessionBuilder.new(start_ns=T0, seed=2)
    send(collector, [session.llm("gpt-4o-mini", 10, 1)])
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert stats["in_progress"] and stats["end_state"] is None and stats["end_timestamp"] is None
    assert stats["state"] == "Inactive", "not ended, and its last span is from long ago"
    assert stats["duration_s"] == 0.01 and stats["llm_calls"] == 1
    assert stats["last_activity_timestamp"] == "2025-11-13T02:13:20.011000+00:00"  # the LLM span's end
    send(collector, [session.root(end_state="Success", tags=("done",))])
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert not stats["in_progress"] and stats["end_state"] == stats["state"] == "Success" and stats["tags"] == ["done"]
    assert stats["duration_s"] == 1.0
    # spans arriving after the root (another process of the session) still count
    send(collector, [session.span("late tool", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=900)])
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert stats["tool_calls"] == 1 and stats["end_state"] == "Success"


def test_export_groups_every_span(collector):
    session = SessionBuilder.new(start_ns=T0, seed=3)
    llm = session.llm("gpt-4o-mini", 10, 1)
    llm.events.add(name="gen_ai.choice", time_unix_nano=T0 + 5_000_000).attributes.add(key="index").value.int_value = 0
    spans = [
        llm,
        session.span("tool", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=2),
        session.span("act", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=3),
        session.span("err", {sc.SPAN_KIND: sc.KIND_ERROR}, offset_ms=4, error=True),
        session.span("agent", {sc.SPAN_KIND: sc.KIND_AGENT}, offset_ms=5),
        session.root(tags=("x",)),
    ]
    spans[-1].attributes.add(key=sc.SESSION_VIDEO).value.string_value = "https://example.com/v.mp4"
    send(collector, spans, resource={"host.name": "box-1", "os.type": "linux"})
    status, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert status == 200
    assert [s["name"] for s in export["spans"]] == ["session", "chat gpt-4o-mini", "tool", "act", "err", "agent"]
    assert [s["name"] for s in export["llms"]] == ["chat gpt-4o-mini"]
    assert [s["name"] for s in export["tools"]] == ["tool"]
    assert [s["name"] for s in export["actions"]] == ["act"]
    assert [s["name"] for s in export["errors"]] == ["err"]
    root = export["spans"][0]
    assert root["parent_span_id"] is None and root["kind"] == "session" and root["cost"] is None
    llm_json = export["llms"][0]
    assert llm_json["events"] == [
        {"name": "gen_ai.choice", "timestamp": "2025-11-13T02:13:20.005000+00:00", "attributes": {"index": 0}}
    ]
    assert llm_json["duration_ms"] == 10.0 and llm_json["status_code"] == "UNSET"
    assert Decimal(llm_json["cost"]) == _cost("gpt-4o-mini", 10, 1)
    assert llm_json["attributes"][sc.COST_SOURCE] == pricing.PRICE_SOURCE
    assert export["errors"][0]["status_code"] == "ERROR" and export["errors"][0]["status_message"] == "failed"
    meta = export["session"]
    assert meta["video"] == "https://example.com/v.mp4" and meta["tags"] == ["x"]
    assert meta["host_env"]["host.name"] == "box-1" and meta["host_env"][sc.SERVICE_NAME] == "test-agent"
    assert export["stats"]["session_id"] == session.session_id and export["stats"]["events"] == 5


def test_inherited_session_gathers_every_process(collector):
    session = SessionBuilder.new(start_ns=T0, seed=4)
    # process 1 (the parent) and process 2 (inherited id) export separately, with their own resources
    send(collector, [session.llm("gpt-4o-mini", 100, 10)], resource={"process.pid": 1})
    send(collector, [session.llm("gpt-4o-mini", 200, 20)], resource={"process.pid": 2})
    send(collector, [session.span("tool", {sc.SPAN_KIND: sc.KIND_TOOL})], resource={"process.pid": 2})
    send(collector, [session.root()], resource={"process.pid": 1})
    _, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
    assert (stats["llm_calls"], stats["tool_calls"], stats["prompt_tokens"]) == (2, 1, 300)
    assert Decimal(stats["cost"]) == _cost("gpt-4o-mini", 100, 10) + _cost("gpt-4o-mini", 200, 20)
    _, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert {s["resource"]["process.pid"] for s in export["spans"]} == {1, 2}
    assert export["session"]["host_env"]["process.pid"] == 1, "host env comes from the root's process"


def test_overview(collector):
    sessions = _seed_sessions(collector)
    status, overview = collector.get("/v2/overview?bucket=hour", KEY)
    assert status == 200
    total = sum((_cost("gpt-4o-mini", 100 * (n + 1), 10) for n in range(7)), Decimal(0))
    assert overview["totals"] == {
        "sessions": 7,
        "llm_calls": 7,
        "errors": 3,
        "cost": format(total.normalize(), "f"),
        "prompt_tokens": 2800,
        "completion_tokens": 70,
        "failed_sessions": 4,
    }
    assert overview["error_rate"] == 4 / 7  # three with errors, one more ending Failure
    assert [b["sessions"] for b in overview["buckets"]] == [1] * 7
    failed = [n % 3 == 0 or n == 5 for n in range(7)]
    assert [b["failed_sessions"] for b in overview["buckets"]] == [int(f) for f in failed]
    assert [b["error_rate"] for b in overview["buckets"]] == [float(f) for f in failed]
    assert overview["buckets"][0]["start"] == "2025-11-13T02:00:00.000000+00:00"
    assert overview["cost_by_model"] == [
        {
            "model": "gpt-4o-mini",
            "calls": 7,
            "cost": overview["totals"]["cost"],
            "prompt_tokens": 2800,
            "completion_tokens": 70,
        }
    ]
    assert [s["session_id"] for s in overview["top_sessions"]] == [s.session_id for s in reversed(sessions)]
    _, day = collector.get("/v2/overview?bucket=day&start_after=2025-11-13T05:00:00Z", KEY)
    assert day["totals"]["sessions"] == 4 and [b["sessions"] for b in day["buckets"]] == [4]
    assert day["cost_by_model"][0]["calls"] == 4
    assert collector.get("/v2/overview?bucket=week", KEY)[0] == 400


def test_overview_figures_share_one_time_basis_the_session_start(collector):
    # started before the range, with an LLM call inside it: none of its figures count
    early = SessionBuilder.new(start_ns=T0 - HOUR_NS // 2, seed=70)
    late_call = early.llm("gpt-4o", 1000, 100)
    late_call.start_time_unix_nano += HOUR_NS
    late_call.end_time_unix_nano += HOUR_NS
    send(collector, [late_call, early.root(duration_ms=2 * 3600 * 1000)])
    inside = SessionBuilder.new(start_ns=T0 + HOUR_NS // 6, seed=71)
    send(collector, [inside.llm("gpt-4o-mini", 100, 10), inside.span("x", {}, error=True), inside.root()])
    inside_failed = SessionBuilder.new(start_ns=T0 + HOUR_NS // 3, seed=72)
    send(collector, [inside_failed.llm("gpt-4o-mini", 200, 20), inside_failed.root(end_state="Failure")])
    _, overview = collector.get(f"/v2/overview?bucket=hour&start_after={iso(T0)}", KEY)
    totals = overview["totals"]
    assert (totals["sessions"], totals["llm_calls"], totals["failed_sessions"]) == (2, 2, 2)
    assert sum(Decimal(m["cost"]) for m in overview["cost_by_model"]) == Decimal(totals["cost"])
    assert [m["model"] for m in overview["cost_by_model"]] == ["gpt-4o-mini"]
    assert sum(m["calls"] for m in overview["cost_by_model"]) == totals["llm_calls"]
    assert sum(b["failed_sessions"] for b in overview["buckets"]) == totals["failed_sessions"]
    assert [b["error_rate"] for b in overview["buckets"]] == [overview["error_rate"]] == [1.0]


def test_openapi_and_docs(collector):
    status, doc = collector.get("/openapi.json", None)
    assert status == 200 and doc["openapi"].startswith("3.")
    assert {
        "/v2/sessions",
        "/v2/sessions/{session_id}/stats",
        "/v2/sessions/{session_id}/export",
        "/v2/overview",
    } <= set(doc["paths"])
    import urllib.request

    with urllib.request.urlopen(f"{collector.url}/docs", timeout=30) as response:
        page = response.read().decode()
    assert response.headers["content-type"].startswith("text/html") and "/v2/sessions/{session_id}/export" in page
