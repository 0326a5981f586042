"""Store reads over a scope of several projects (a parent key's): one list, one cursor, one overview."""

from __future__ import annotations

import base64
import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel.collector.ingest import prepare
from agentops_otel.collector.store import SQLiteStore
from agentops_otel.collector.store.base import ListQuery
from tests.collector.conftest import SessionBuilder, otlp_request

START = 1_700_000_000_000_000_000
SECOND = 10**9


@pytest.fixture
def store(any_store) -> SQLiteStore:
    """Every test here runs on each store (SQLite, chDB) with the same expected answers."""
    return any_store


def put(store: SQLiteStore, project_id: str, session: SessionBuilder, tags=(), tokens=100, state="Success") -> None:
    spans = [session.llm("gpt-4o", tokens, tokens), session.root(end_state=state, tags=tags)]
    request = ExportTraceServiceRequest.FromString(otlp_request(spans))
    store.write(prepare(request, project_id)).result(timeout=30)


@pytest.fixture
def stored(store) -> dict[str, list[tuple[str, str]]]:
    """Projects a, b (in scope) and c (not): ties in start time and cost across projects, and one
    session id stored under both a and b. ``{tag: [(project, session id), ...]}`` of what was stored."""
    shared = SessionBuilder.new(START + 5 * SECOND, seed=1)
    sessions = {
        "a": [SessionBuilder.new(START + i * SECOND, seed=10 + i) for i in range(4)] + [shared],
        "b": [SessionBuilder.new(START + i * SECOND, seed=20 + i) for i in range(4)] + [shared],
        "c": [SessionBuilder.new(START + i * SECOND, seed=30 + i) for i in range(4)],
    }
    by_tag: dict[str, list[tuple[str, str]]] = {"all": [], "even": []}
    for project, builders in sessions.items():
        for i, builder in enumerate(builders):
            tags = ("all", "even") if i % 2 == 0 else ("all",)
            state = "Failure" if project == "b" else "Success"
            put(store, project, builder, tags=tags, tokens=100 * (i % 2 + 1), state=state)
            for tag in tags:
                by_tag[tag].append((project, builder.session_id))
    return by_tag


def page_through(store: SQLiteStore, scope, **query) -> list[tuple[str, str]]:
    seen, cursor = [], None
    for _ in range(50):
        page = store.list_sessions(scope, ListQuery(limit=1, cursor=cursor, **query))
        seen += [(s["project_id"], s["session_id"]) for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ran out")


@pytest.mark.parametrize("sort", ["init_timestamp", "cost", "tokens"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("tags", [(), ("even",), ("all", "even")])
def test_a_scope_lists_every_session_of_its_projects_once_across_pages(store, stored, sort, descending, tags):
    found = page_through(store, ("a", "b"), sort=sort, descending=descending, tags=tags)
    tag = tags[-1] if tags else "all"
    expected = [entry for entry in stored[tag] if entry[0] in ("a", "b")]
    assert sorted(found) == sorted(expected) and len(found) == len(set(found))
    whole = store.list_sessions(("a", "b"), ListQuery(limit=500, sort=sort, descending=descending, tags=tags))
    assert [(s["project_id"], s["session_id"]) for s in whole["sessions"]] == found, "pages in one order"


def test_a_scope_of_one_project_reads_only_that_project(store, stored):
    assert {p for p, _ in page_through(store, ("b",))} == {"b"}
    assert page_through(store, ()) == [] and page_through(store, ("nobody",)) == []


def test_a_session_stored_under_two_projects_is_read_from_the_first_in_scope(store, stored):
    shared = SessionBuilder.new(START + 5 * SECOND, seed=1)
    assert store.session(("a", "b"), shared.trace_id)["project_id"] == "a"
    assert store.session(("b", "a"), shared.trace_id)["state"] == "Failure"
    assert store.export(("b", "a"), shared.trace_id)["session"]["project_id"] == "b"
    assert store.export(("c",), shared.trace_id) is None and store.session((), shared.trace_id) is None
    only_c = SessionBuilder.new(START, seed=30)
    assert store.session(("a", "b", "c"), only_c.trace_id)["project_id"] == "c"


def test_the_overview_of_a_scope_adds_up_its_projects(store, stored):
    one = {p: store.overview((p,), None, None, None) for p in "abc"}
    both = store.overview(("a", "b"), None, None, None)
    assert both["totals"]["sessions"] == 10 == one["a"]["totals"]["sessions"] + one["b"]["totals"]["sessions"]
    assert both["totals"]["failed_sessions"] == 5
    assert both["cost_by_model"][0]["calls"] == 10
    assert sum(b["sessions"] for b in both["buckets"]) == 10
    assert {s["project_id"] for s in both["top_sessions"]} == {"a", "b"}
    assert store.overview((), None, None, None)["totals"]["sessions"] == 0


def test_a_cursor_of_an_older_collector_still_pages(store, stored):
    first = store.list_sessions(("a",), ListQuery(limit=2))
    value, trace_hex, _pid = json.loads(base64.urlsafe_b64decode(first["next_cursor"]))
    old = base64.urlsafe_b64encode(json.dumps([value, trace_hex]).encode()).decode()
    rest = store.list_sessions(("a",), ListQuery(limit=500, cursor=old))["sessions"]
    assert len(first["sessions"]) + len(rest) == 5


@pytest.mark.parametrize("position", [[-1], [True], [1, 2], ["1"]])
def test_a_cursor_with_a_bad_project_position_is_refused(store, position):
    text = base64.urlsafe_b64encode(json.dumps([1, "00" * 16, *position]).encode()).decode()
    with pytest.raises(ValueError, match="invalid cursor"):
        store.list_sessions(("a",), ListQuery(cursor=text))
