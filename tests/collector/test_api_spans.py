"""``GET /v2/sessions/{id}/spans``: the detail page's lean view of a session, over real HTTP."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from agentops_otel import semconv as sc
from agentops_otel.collector.otlp import attributes_dict
from tests.collector.conftest import KEY, OTHER_KEY, SessionBuilder, send, sqlite_only


@pytest.fixture
def collector(any_store_collector):
    """Every test here runs on each store (SQLite, chDB) with the same expected answers."""
    return any_store_collector


T0 = 1_763_000_000 * 10**9  # 2025-11-13T02:13:20Z


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")


def _session_with_every_kind(collector) -> tuple[SessionBuilder, list[Span]]:
    session = SessionBuilder.new(start_ns=T0, seed=30)
    llm = session.llm("gpt-4o-mini", 120, 30, **{sc.GEN_AI_INPUT_MESSAGES: '[{"role": "user", "parts": []}]'})
    choice = llm.events.add(name="gen_ai.choice", time_unix_nano=T0 + 4_000_000)
    choice.attributes.add(key="index").value.int_value = 0
    failing = session.span("execute_tool lookup", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=3, error=True)
    exception = failing.events.add(name=sc.EXCEPTION_EVENT, time_unix_nano=T0 + 9_000_000)
    exception.attributes.add(key=sc.EXCEPTION_TYPE).value.string_value = "TimeoutError"
    exception.attributes.add(key=sc.EXCEPTION_STACKTRACE).value.string_value = "Traceback (most recent call last):"
    agent = session.span("agent step", {sc.SPAN_KIND: sc.KIND_AGENT}, offset_ms=2, duration_ms=50)
    child = session.span("record action", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=5)
    child.parent_span_id = agent.span_id  # nested below the agent, not the root
    root = session.root(end_state="Failure", tags=("t1",), reason="lookup timed out")
    root.attributes.add(key=sc.SESSION_VIDEO).value.string_value = "https://example.com/v.mp4"
    spans = [llm, failing, agent, child, root]
    send(collector, spans, resource={"host.name": "box-1", "os.type": "linux"})
    return session, spans


def test_spans_are_the_export_spans_once_without_resource(collector):
    session, _ = _session_with_every_kind(collector)
    status, lean = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    assert status == 200
    _, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert set(lean) == {"session", "stats", "spans"}
    assert lean["session"] == export["session"] and lean["stats"] == export["stats"]
    assert lean["session"]["host_env"]["host.name"] == "box-1"
    assert lean["session"]["video"] == "https://example.com/v.mp4"
    # every span once, in the export's order (start time), with every field but trace_id and resource
    assert lean["spans"] == [
        {k: v for k, v in span.items() if k not in ("trace_id", "resource")} for span in export["spans"]
    ]
    assert [s["name"] for s in lean["spans"]] == [
        "session",
        "chat gpt-4o-mini",
        "agent step",
        "execute_tool lookup",
        "record action",
    ]
    assert all(s["service_name"] == "test-agent" for s in lean["spans"])
    failing = next(s for s in lean["spans"] if s["name"] == "execute_tool lookup")
    assert failing["status_code"] == "ERROR" and failing["events"][0]["attributes"][sc.EXCEPTION_TYPE] == "TimeoutError"


def test_spans_content_equals_the_stored_spans(collector):
    sqlite_only(collector)
    session, sent = _session_with_every_kind(collector)
    _, lean = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    with sqlite3.connect(collector.db_path) as db:
        stored = [Span.FromString(body) for (body,) in db.execute("SELECT body FROM spans")]
    stored = {s.span_id.hex(): s for s in stored if s.trace_id == session.trace_id}
    assert set(stored) == {s.span_id.hex() for s in sent}
    assert len(lean["spans"]) == len(stored) == lean["stats"]["events"] + 1
    for span in lean["spans"]:
        raw = stored[span["span_id"]]
        assert span["parent_span_id"] == (raw.parent_span_id.hex() or None)
        assert span["name"] == raw.name
        assert (span["start_time"], span["end_time"]) == (_iso(raw.start_time_unix_nano), _iso(raw.end_time_unix_nano))
        assert span["duration_ms"] == (raw.end_time_unix_nano - raw.start_time_unix_nano) / 1e6
        assert span["attributes"] == attributes_dict(raw.attributes)
        assert span["kind"] == span["attributes"][sc.SPAN_KIND]
        assert [e["name"] for e in span["events"]] == [e.name for e in raw.events]
    # what was sent is kept (the collector only adds: project id, cost, normalised tokens)
    for raw in sent:
        returned = next(s for s in lean["spans"] if s["span_id"] == raw.span_id.hex())
        assert attributes_dict(raw.attributes).items() <= returned["attributes"].items()
    llm = next(s for s in lean["spans"] if s["kind"] == sc.KIND_LLM)
    assert llm["cost"] and llm["attributes"][sc.GEN_AI_INPUT_MESSAGES].startswith("[")


def test_spans_of_a_session_from_several_processes(collector):
    session = SessionBuilder.new(start_ns=T0, seed=31)
    send(collector, [session.llm("gpt-4o-mini", 10, 1)], service="worker", resource={"process.pid": 2})
    send(collector, [session.root()], service="main", resource={"process.pid": 1})
    _, lean = collector.get(f"/v2/sessions/{session.session_id}/spans", KEY)
    assert lean["session"]["host_env"]["process.pid"] == 1, "host env comes from the root's process"
    assert {s["name"]: s["service_name"] for s in lean["spans"]} == {"session": "main", "chat gpt-4o-mini": "worker"}


def test_spans_auth_isolation_and_bad_ids(collector):
    mine = SessionBuilder.new(seed=32)
    theirs = SessionBuilder.new(seed=33)
    send(collector, [mine.root()], key=KEY)
    send(collector, [theirs.root()], key=OTHER_KEY)
    path = f"/v2/sessions/{mine.session_id}/spans"
    for key in (None, ""):
        status, body = collector.get(path, key)
        assert status == 401 and "API key" in body["error"]
    request = urllib.request.Request(collector.url + path, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and json.loads(response.read())["stats"]["session_id"] == mine.session_id
    # another project's session is a 404 exactly like a missing one: no existence leak
    assert collector.get(f"/v2/sessions/{theirs.session_id}/spans", KEY) == (404, {"error": "no such session"})
    assert collector.get(f"/v2/sessions/{mine.session_id}/spans", OTHER_KEY) == (404, {"error": "no such session"})
    missing = "00000000-0000-4000-8000-000000000001"
    assert collector.get(f"/v2/sessions/{missing}/spans", KEY) == (404, {"error": "no such session"})
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", "1234"):
        status, body = collector.get(f"/v2/sessions/{bad}/spans", KEY)
        assert status == 400 and "malformed session id" in body["error"], bad
    # the same session id without dashes is the same session
    status, body = collector.get(f"/v2/sessions/{mine.trace_id.hex()}/spans", KEY)
    assert status == 200 and body["stats"]["session_id"] == mine.session_id


def test_spans_is_documented(collector):
    _, doc = collector.get("/openapi.json", None)
    operation = doc["paths"]["/v2/sessions/{session_id}/spans"]["get"]
    assert {"200", "400", "401", "404"} <= set(operation["responses"])
    schemas = doc["components"]["schemas"]
    assert set(schemas["SessionSpan"]["properties"]) == set(schemas["Span"]["properties"]) - {"trace_id", "resource"}
    assert schemas["SessionSpans"]["properties"]["spans"]["items"] == {"$ref": "#/components/schemas/SessionSpan"}
    with urllib.request.urlopen(f"{collector.url}/docs", timeout=30) as response:
        assert "/v2/sessions/{session_id}/spans" in response.read().decode()
