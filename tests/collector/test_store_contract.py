"""The store contract, the same tests and answers on every store (SQLite, ClickHouse on chDB):
rollups, spans that arrive late, out of order or twice, sessions across processes, live and
inactive sessions, and log records attached to their spans."""

from __future__ import annotations

import random
import time
from decimal import Decimal

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from agentops_otel import meaning, pricing
from agentops_otel import semconv as sc
from agentops_otel.collector.ingest import prepare
from agentops_otel.collector.otlp import key_value
from agentops_otel.collector.span_logs import log_batch
from agentops_otel.collector.store.base import ListQuery
from agentops_otel.pricing import TokenUsage
from tests.collector.conftest import SessionBuilder, otlp_request

T0 = 1_763_000_000 * 10**9
MS = 10**6


@pytest.fixture
def store(any_store):
    return any_store


def write(store, spans: list[Span], project: str = "p", **request) -> tuple[int, int]:
    batch = prepare(ExportTraceServiceRequest.FromString(otlp_request(spans, **request)), project)
    result = store.write(batch).result(timeout=60)
    return result.accepted, result.new


def cost(model: str, i: int, o: int) -> Decimal:
    return pricing.cost_of(TokenUsage(i, o), pricing.rates_for(model, "openai")).total


def session_spans(s: SessionBuilder) -> list[Span]:
    """A session of every kind of event: two priced LLM calls, one without usage, a failing tool."""
    unpriced = s.span("chat", {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}, offset_ms=7)
    return [
        s.llm("gpt-4o", 1000, 100),
        s.llm("gpt-4o-mini", 10, 1),
        unpriced,
        s.span("lookup", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=3, error=True),
        s.span("step", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=5),
        s.root(tags=("x", "y"), duration_ms=2000),
    ]


def test_a_sessions_rollup_is_the_sum_of_its_spans_meaning(store):
    s = SessionBuilder.new(T0, seed=1)
    assert write(store, session_spans(s)) == (6, 6)
    stats = store.session(("p",), s.trace_id)
    assert {k: stats[k] for k in ("llm_calls", "tool_calls", "actions", "errors", "events", "unpriced_llm_calls")} == {
        "llm_calls": 3,
        "tool_calls": 1,
        "actions": 1,
        "errors": 1,
        "events": 5,
        "unpriced_llm_calls": 1,
    }
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (1010, 101)
    assert Decimal(stats["cost"]) == cost("gpt-4o", 1000, 100) + cost("gpt-4o-mini", 10, 1)
    assert stats["cost_partial"] and stats["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert stats["state"] == "Success" and stats["tags"] == ["x", "y"] and stats["duration_s"] == 2.0
    overview = store.overview(("p",), None, None, None)
    assert overview["totals"]["llm_calls"] == 3 and overview["totals"]["cost"] == stats["cost"]
    assert {m["model"]: m["calls"] for m in overview["cost_by_model"]} == {"gpt-4o": 2, "gpt-4o-mini": 1}
    assert sum(Decimal(m["cost"]) for m in overview["cost_by_model"]) == Decimal(stats["cost"])


def test_late_out_of_order_and_repeated_spans_give_the_rollup_of_one_clean_send(store):
    clean, messy = SessionBuilder.new(T0, seed=2), SessionBuilder.new(T0, seed=2)
    spans = session_spans(clean)
    early = clean.span("warmup", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=-500)  # starts before the root
    write(store, [*spans, early], project="clean")
    replay = [*session_spans(messy), messy.span("warmup", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=-500)]
    root, children = replay[5], replay[:5] + replay[6:]
    assert write(store, [root], project="messy") == (1, 1)  # the root first (its process ended first)
    assert write(store, list(reversed(children[:3])), project="messy") == (3, 3)
    assert write(store, [*children[1:4], root], project="messy") == (4, 1)  # re-sent with one new span
    assert write(store, children, project="messy") == (6, 2)  # the early span arrives last
    assert write(store, replay, project="messy") == (7, 0)  # a whole retry
    want, got = store.session(("clean",), clean.trace_id), store.session(("messy",), messy.trace_id)
    assert {**got, "project_id": "clean"} == want
    assert want["init_timestamp"] < want["end_timestamp"] and want["duration_s"] == 2.5
    assert want["events"] == 6 and want["actions"] == 2
    clean_export, messy_export = store.export(("clean",), clean.trace_id), store.export(("messy",), messy.trace_id)
    assert [s["span_id"] for s in messy_export["spans"]] == [s["span_id"] for s in clean_export["spans"]]
    assert len(messy_export["spans"]) == 7
    clean_overview, messy_overview = (store.overview((p,), None, None, None) for p in ("clean", "messy"))
    assert clean_overview["totals"] == messy_overview["totals"]
    assert clean_overview["cost_by_model"] == messy_overview["cost_by_model"]


def test_a_session_not_ended_has_the_host_of_its_earliest_span_whatever_arrived_first(store):
    s = SessionBuilder.new(T0, seed=4)
    write(store, [s.span("late worker", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=300)], resource={"process.pid": 3})
    write(store, [s.span("first step", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=100)], resource={"process.pid": 2})
    write(store, [s.span("later step", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=200)], resource={"process.pid": 4})
    export = store.export(("p",), s.trace_id)
    assert export["session"]["end_timestamp"] is None
    assert export["session"]["host_env"]["process.pid"] == 2
    write(store, [s.root()], resource={"process.pid": 1})
    assert store.export(("p",), s.trace_id)["session"]["host_env"]["process.pid"] == 1  # ended: the root's


def test_a_session_whose_spans_come_from_several_processes_is_one_session(store):
    s = SessionBuilder.new(T0, seed=3)
    write(store, [s.llm("gpt-4o-mini", 5, 5)], service="worker", resource={"process.pid": 2})
    write(store, [s.root()], service="main", resource={"process.pid": 1})
    write(store, [s.span("tool", {sc.SPAN_KIND: sc.KIND_TOOL})], service="worker", resource={"process.pid": 3})
    listed = store.list_sessions(("p",), ListQuery())["sessions"]
    assert [x["session_id"] for x in listed] == [s.session_id]
    export = store.export(("p",), s.trace_id)
    assert export["session"]["host_env"] == {"service.name": "main", "process.pid": 1}  # the root's process
    assert sorted(x["service_name"] for x in export["spans"]) == ["main", "worker", "worker"]
    assert export["stats"]["llm_calls"] == 1 and export["stats"]["tool_calls"] == 1


def test_our_root_wins_over_a_local_root_whatever_arrives_first(store):
    s = SessionBuilder.new(T0, seed=4)
    local = s.span("main", {}, offset_ms=0, duration_ms=100, error=True)
    local.ClearField("parent_span_id")  # a span without parent: the trace's local root
    write(store, [local])
    assert store.session(("p",), s.trace_id)["state"] == meaning.FAILURE
    write(store, [s.root(end_state="Success", reason="done")])
    stats = store.session(("p",), s.trace_id)
    assert (stats["state"], stats["end_state_reason"], stats["duration_s"]) == ("Success", "done", 1.0)
    write(store, [local])  # re-sent: changes nothing
    assert store.session(("p",), s.trace_id) == stats


def test_running_inactive_and_ended_sessions_are_told_apart_and_filtered(store):
    now = time.time_ns()
    running, quiet, ended = (SessionBuilder.new(t, seed=10 + i) for i, t in enumerate((now - 60 * 10**9, T0, T0)))
    write(store, [running.llm("gpt-4o-mini", 1, 1), quiet.llm("gpt-4o-mini", 1, 1)])
    write(store, [ended.root(end_state="Fail")])
    states = {x["session_id"]: x["state"] for x in store.list_sessions(("p",), ListQuery())["sessions"]}
    assert states == {running.session_id: "Running", quiet.session_id: "Inactive", ended.session_id: "Failure"}
    for state, session in (("Running", running), ("Inactive", quiet), ("Failure", ended)):
        listed = store.list_sessions(("p",), ListQuery(end_state=state))["sessions"]
        assert [x["session_id"] for x in listed] == [session.session_id]
        assert listed[0]["in_progress"] == (state != "Failure")
    assert store.list_sessions(("p",), ListQuery(end_state="Success"))["sessions"] == []


@pytest.mark.parametrize("sort", ["init_timestamp", "cost", "duration", "tokens", "errors"])
def test_every_sort_pages_through_every_session_once(store, sort):
    sessions = [SessionBuilder.new(T0 + (i % 3) * MS, seed=20 + i) for i in range(7)]
    for i, s in enumerate(sessions):
        extra = [s.span("bad", {}, error=True)] * (i % 2)
        write(store, [s.llm("gpt-4o-mini", 10 * (i % 4), 1), *extra, s.root(tags=("t",), duration_ms=i % 3)])
    for descending in (True, False):
        whole = store.list_sessions(("p",), ListQuery(limit=100, sort=sort, descending=descending))["sessions"]
        paged, cursor = [], None
        while True:
            page = store.list_sessions(("p",), ListQuery(limit=2, cursor=cursor, sort=sort, descending=descending))
            paged += page["sessions"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [x["session_id"] for x in paged] == [x["session_id"] for x in whole]
        assert sorted(x["session_id"] for x in whole) == sorted(s.session_id for s in sessions)
        key = {"init_timestamp": "init_timestamp", "cost": "cost", "duration": "duration_s"}.get(sort)
        values = [Decimal(x[key]) if sort == "cost" else x[key] for x in whole] if key else None
        if sort in ("tokens", "errors"):
            values = [x["errors"] if sort == "errors" else x["prompt_tokens"] + x["completion_tokens"] for x in whole]
        assert values == sorted(values, reverse=descending)


def test_tags_and_time_range_filter_the_list_and_the_overview(store):
    sessions = [SessionBuilder.new(T0 + i * 3600 * 10**9, seed=40 + i) for i in range(4)]
    for i, s in enumerate(sessions):
        write(store, [s.llm("gpt-4o-mini", 100, 10), s.root(tags=("a", "b") if i % 2 else ("a",))])
    both = store.list_sessions(("p",), ListQuery(tags=("a", "b")))["sessions"]
    assert [x["session_id"] for x in both] == [sessions[3].session_id, sessions[1].session_id]
    window = ListQuery(start_after_ns=T0 + 3600 * 10**9, start_before_ns=T0 + 3 * 3600 * 10**9)
    assert [x["session_id"] for x in store.list_sessions(("p",), window)["sessions"]] == [
        sessions[2].session_id,
        sessions[1].session_id,
    ]
    overview = store.overview(("p",), window.start_after_ns, window.start_before_ns, "hour")
    assert overview["totals"]["sessions"] == 2 and [b["sessions"] for b in overview["buckets"]] == [1, 1]
    assert overview["bucket"] == "hour" and store.overview(("p",), None, None, "day")["buckets"][0]["sessions"] == 4


def test_unknown_projects_and_sessions_read_as_nothing(store):
    s = SessionBuilder.new(T0, seed=50)
    write(store, [s.root()])
    assert store.session(("other",), s.trace_id) is None and store.export(("other",), s.trace_id) is None
    assert store.session(("p",), bytes(range(16))) is None
    assert store.list_sessions(("other",), ListQuery()) == {"sessions": [], "next_cursor": None}
    overview = store.overview(("other",), None, None, None)
    assert overview["totals"]["sessions"] == 0 and overview["totals"]["cost"] == "0" and overview["buckets"] == []


def logs_for(s: SessionBuilder, span_id: bytes, texts: list[tuple[int, str]]) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for offset_ms, text in texts:
        record = records.add(trace_id=s.trace_id, span_id=span_id, time_unix_nano=T0 + offset_ms * MS)
        record.event_name = "gen_ai.choice"
        record.body.kvlist_value.values.append(key_value("content", text))
    return request


def test_log_records_are_attached_to_their_span_once_in_time_order(store):
    s = SessionBuilder.new(T0, seed=60)
    llm = s.llm("gpt-4o-mini", 1, 1)
    write(store, [llm, s.root()])
    request = logs_for(s, llm.span_id, [(9, "second"), (2, "first")])
    assert store.write_logs(log_batch(request, "p")).result(timeout=60).new == 2
    assert store.write_logs(log_batch(request, "p")).result(timeout=60).new == 0  # re-sent
    assert store.write_logs(log_batch(request, "other")).result(timeout=60).new == 2  # another project's
    (span,) = store.export(("p",), s.trace_id)["llms"]
    assert [(log["name"], log["body"]) for log in span["logs"]] == [
        ("gen_ai.choice", {"content": "first"}),
        ("gen_ai.choice", {"content": "second"}),
    ]
    assert all(not x["logs"] for x in store.export(("p",), s.trace_id)["spans"] if x["kind"] == "session")


def test_ids_ending_in_zero_bytes_are_ids_like_any_other(store):
    """ClickHouse turns a FixedString into a String without its trailing zero bytes: an id ending in
    them must still find its rows (the rollup, the re-sent check, the span's logs, its resource)."""
    s = SessionBuilder(bytes(range(1, 15)) + bytes(2), bytes(range(1, 7)) + bytes(2), T0, random.Random(70))
    llm = s.llm("gpt-4o-mini", 10, 1)
    llm.span_id = bytes([9] * 7) + bytes(1)
    assert write(store, [llm, s.root()]) == (2, 2)
    assert write(store, [llm, s.root()]) == (2, 0)
    stats = store.session(("p",), s.trace_id)
    assert (stats["events"], stats["llm_calls"], stats["state"]) == (1, 1, "Success")
    request = logs_for(s, llm.span_id, [(2, "hello")])
    assert store.write_logs(log_batch(request, "p")).result(timeout=60).new == 1
    assert store.write_logs(log_batch(request, "p")).result(timeout=60).new == 0
    export = store.export(("p",), s.trace_id)
    assert [len(x["logs"]) for x in export["llms"]] == [1]
    assert export["session"]["host_env"] == {"service.name": "test-agent"}
    assert store.overview(("p",), None, None, None)["totals"]["sessions"] == 1


def test_a_status_code_outside_otlps_three_is_stored_as_sent(store):
    """OTLP's status code is an open enum: a sender may write any int32 (OTLP/JSON: 7, -1)."""
    s = SessionBuilder.new(T0, seed=80)
    odd, negative = s.span("odd", {}), s.span("negative", {})
    odd.status.code, negative.status.code = 7, -1
    assert write(store, [odd, negative, s.root()]) == (3, 3)
    export = store.export(("p",), s.trace_id)
    assert sorted(x["status_code"] for x in export["spans"]) == ["-1", "7", "UNSET"]
    assert export["stats"]["events"] == 2 and export["stats"]["errors"] == 0


def test_sessions_whose_early_spans_came_last_are_listed_by_their_current_rollup(store):
    # Each session's first rollup starts 1000 s late; an earlier span then moves its start back. On
    # ClickHouse the older rollups may still be unmerged rows, all of them at the head of "newest
    # first" (more of them than a page's first read takes): the list must follow the current ones.
    sessions = [SessionBuilder.new(T0 + i * MS, seed=1000 + i) for i in range(300)]
    write(store, [s.span("late", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=1_000_000) for s in sessions])
    write(store, [s.span("early", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=0) for s in sessions])
    newest = [s.session_id for s in reversed(sessions)]
    page = store.list_sessions(("p",), ListQuery(limit=5))
    assert [x["session_id"] for x in page["sessions"]] == newest[:5]
    assert all(x["tool_calls"] == 1 and x["actions"] == 1 for x in page["sessions"])
    page = store.list_sessions(("p",), ListQuery(limit=5, cursor=page["next_cursor"]))
    assert [x["session_id"] for x in page["sessions"]] == newest[5:10]
    top = store.overview(("p",), None, None, None)["top_sessions"]
    assert len(top) == 10 and len({x["session_id"] for x in top}) == 10


def test_a_batch_of_twenty_thousand_spans_is_stored_whole_and_once(store):
    # ClickHouse: the spans of a write group are looked up by id in one query; its text must not
    # outgrow the server's max_query_size (256 KiB by default: about 15,000 span ids).
    sessions = [SessionBuilder.new(T0 + i * MS, seed=2000 + i) for i in range(2000)]
    spans = [x for s in sessions for x in (*(s.span(f"step {n}", {}, offset_ms=n) for n in range(9)), s.root())]
    assert write(store, spans) == (20_000, 20_000)
    assert write(store, spans[::2]) == (10_000, 0)
    assert store.overview(("p",), None, None, None)["totals"]["sessions"] == 2000
    assert store.session(("p",), sessions[-1].trace_id)["events"] == 9
