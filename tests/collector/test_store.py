"""The SQLite store on a real database file: what a failed batch leaves behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel.collector.ingest import PreparedBatch, prepare
from agentops_otel.collector.store import SQLiteStore
from agentops_otel.collector.store.base import ListQuery
from tests.collector.conftest import SessionBuilder, otlp_request


@pytest.fixture
def store(tmp_path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "store.sqlite3")
    try:
        yield opened
    finally:
        opened.close()


def batch_of(project_id: str, session: SessionBuilder, tags: tuple[str, ...]) -> PreparedBatch:
    request = ExportTraceServiceRequest.FromString(otlp_request([session.root(tags=tags)]))
    return prepare(request, project_id)


def failing_batch(project_id: str) -> PreparedBatch:
    """A batch SQLite refuses half-way, after its span and resource rows (an end time past int64,
    which ingest never lets through)."""
    batch = batch_of(project_id, SessionBuilder.new(seed=90), ("never-stored",))
    batch.spans[0] = batch.spans[0]._replace(end_ns=2**64 - 1)
    return batch


def tags_listed(store: SQLiteStore, project_id: str) -> list[list[str]]:
    return [s["tags"] for s in store.list_sessions((project_id,), ListQuery())["sessions"]]


def test_a_failed_first_batch_of_a_project_leaves_no_trace_for_the_next_project(store):
    with pytest.raises(OverflowError):
        store.write(failing_batch("project-a")).result(timeout=30)
    store.write(batch_of("project-b", SessionBuilder.new(seed=91), ("b",))).result(timeout=30)
    later = SessionBuilder.new(seed=92)
    store.write(batch_of("project-a", later, ("a",))).result(timeout=30)
    assert tags_listed(store, "project-b") == [["b"]]
    assert tags_listed(store, "project-a") == [["a"]]
    export = store.export(("project-a",), later.trace_id)
    assert export is not None and export["session"]["host_env"] == {"service.name": "test-agent"}, (
        "the resource row rolled back with the failed batch is written again"
    )


def stored_overview(path, spans) -> dict:
    """Store ``spans`` for project-a in a new database at ``path``; its overview."""
    store = SQLiteStore(path)
    try:
        store.write(prepare(ExportTraceServiceRequest.FromString(otlp_request(spans)), "project-a")).result(30)
        return store.overview(("project-a",), None, None, None)
    finally:
        store.close()


def test_a_database_from_before_session_models_gets_cost_by_model_from_its_spans(tmp_path):
    path = tmp_path / "old.sqlite3"
    session = SessionBuilder.new(seed=93)
    spans = [session.llm("gpt-4o", 1000, 100), session.llm("gpt-4o-mini", 10, 1), session.root()]
    before = stored_overview(path, spans)
    with sqlite3.connect(path) as db:  # as an older collector left it
        db.execute("DROP TABLE session_models")
        db.execute("CREATE TABLE model_usage (pid INTEGER, hour_ns INTEGER, model TEXT)")
    store = SQLiteStore(path)
    try:
        after = store.overview(("project-a",), None, None, None)
        tables = {row[0] for row in store._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        store.close()
    assert after["cost_by_model"] == before["cost_by_model"] and len(after["cost_by_model"]) == 2
    assert sum(Decimal(m["cost"]) for m in after["cost_by_model"]) == Decimal(after["totals"]["cost"])
    assert "model_usage" not in tables


@pytest.mark.parametrize("session_models", ["emptied", "kept"])
def test_cost_by_model_is_rebuilt_whole_while_the_old_table_is_there(tmp_path, session_models):
    """The old table outlives an interrupted rebuild (session_models created, left empty), or comes back
    when an older collector opens the database again (session_models kept): rebuilt, never counted twice."""
    path = tmp_path / "old.sqlite3"
    session = SessionBuilder.new(seed=94)
    spans = [session.llm("gpt-4o", 1000, 100), session.llm("gpt-4o", 10, 1), session.root()]
    before = stored_overview(path, spans)
    with sqlite3.connect(path) as db:
        if session_models == "emptied":
            db.execute("DELETE FROM session_models")
        db.execute("CREATE TABLE model_usage (pid INTEGER, hour_ns INTEGER, model TEXT)")
    for _ in range(2):  # and once more, the rebuild done
        store = SQLiteStore(path)
        try:
            after = store.overview(("project-a",), None, None, None)
        finally:
            store.close()
        assert after["cost_by_model"] == before["cost_by_model"] and after["cost_by_model"][0]["calls"] == 2


def test_spans_ending_before_they_start_are_stored_as_sent_and_last_no_time(store):
    """The OTel SDK stamps start and end from the wall clock: one stepped back between them gives such spans."""
    ended, running = SessionBuilder.new(seed=95), SessionBuilder.new(seed=96)
    backwards = ended.span("act", {"agentops.span.kind": "action"}, offset_ms=5, duration_ms=-3)
    spans = [ended.root(duration_ms=-2), backwards, running.span("act", {}, offset_ms=10, duration_ms=-7)]
    request = ExportTraceServiceRequest.FromString(otlp_request(spans))
    assert store.write(prepare(request, "project-a")).result(timeout=30).new == 3
    sessions = {s["session_id"]: s for s in store.list_sessions(("project-a",), ListQuery())["sessions"]}
    assert sessions[ended.session_id]["duration_s"] == 0.0  # up to its root's end: its start, not 2 ms before
    assert sessions[running.session_id]["duration_s"] == 0.0  # up to its last end: its only span's start
    export = store.export(("project-a",), ended.trace_id)
    (act,) = export["actions"]
    assert act["end_time"] < act["start_time"] and act["duration_ms"] == 0.0


def test_a_database_from_before_span_meaning_is_upgraded_from_its_spans(tmp_path):
    """Schema 0 (no kind for other instrumentations' spans, LLM calls without usage priced 0 or not
    counted, no end for a trace without our root): reopened, every session reads as if sent today."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from agentops_otel import semconv as sc
    from agentops_otel.collector.otlp import key_value

    path = tmp_path / "old.sqlite3"
    ours, foreign = SessionBuilder.new(seed=97), SessionBuilder.new(seed=98)
    chat = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_SYSTEM: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}
    root = foreign.span("main", {}, offset_ms=0, duration_ms=500)
    root.span_id = foreign.root_id
    root.ClearField("parent_span_id")
    root.status.code = 1
    spans = [
        ours.llm("gpt-4o", 1000, 100),
        ours.span("stream", {**chat, sc.SPAN_KIND: sc.KIND_LLM}),  # our stream without usage
        ours.root(),
        foreign.span("chat", {**chat, sc.GEN_AI_USAGE_INPUT_TOKENS: 9, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3}),
        foreign.span("stream", chat),
        foreign.span("tool", {sc.GEN_AI_OPERATION_NAME: "execute_tool"}),
        root,
    ]
    store = SQLiteStore(path)
    try:
        store.write(prepare(ExportTraceServiceRequest.FromString(otlp_request(spans)), "project-a")).result(30)
        expected = {s.trace_id: store.export(("project-a",), s.trace_id) for s in (ours, foreign)}
    finally:
        store.close()
    with sqlite3.connect(path) as db:  # as a collector of schema 0 left it
        db.execute("PRAGMA user_version = 0")
        db.execute("ALTER TABLE sessions DROP COLUMN unpriced_llm_calls")
        db.execute("UPDATE sessions SET has_root = 0, end_state = 'Indeterminate', llm_calls = 1 WHERE has_root = 2")
        db.execute("UPDATE spans SET kind = NULL, llm = 0, cost = NULL WHERE kind != 'llm' AND kind != 'session'")
        db.execute("UPDATE spans SET kind = NULL WHERE kind = 'llm' AND body NOT LIKE '%agentops.span.kind%'")
        db.execute("DELETE FROM session_models")
        for seq, span_id, body in db.execute("SELECT seq, span_id, body FROM spans WHERE cost IS NULL AND llm = 1"):
            span = Span.FromString(body)  # our stream, priced 0 by the old rule
            kept = [kv for kv in span.attributes if kv.key != sc.COST_SOURCE]
            del span.attributes[:]
            span.attributes.extend(
                [*kept, key_value(sc.COST_SOURCE, "genai-prices 0.0.1"), key_value(sc.GEN_AI_USAGE_COST, 0.0)]
            )
            db.execute(
                "UPDATE spans SET cost = '0', body = ? WHERE seq = ? AND span_id = ?",
                (span.SerializeToString(), seq, span_id),
            )
    for _ in range(2):  # and once more, nothing left to upgrade
        store = SQLiteStore(path)
        try:
            for trace_id, before in expected.items():
                after = store.export(("project-a",), trace_id)
                assert after["stats"] == before["stats"]
                assert [(s["name"], s["kind"], s["cost"]) for s in after["spans"]] == [
                    (s["name"], s["kind"], s["cost"]) for s in before["spans"]
                ]
                assert after["spans"] == before["spans"]
            overview = store.overview(("project-a",), None, None, None)
        finally:
            store.close()
        stats = expected[foreign.trace_id]["stats"]
        assert stats["state"] == "Success" and stats["llm_calls"] == 2 and stats["tool_calls"] == 1
        assert stats["unpriced_llm_calls"] == 1 == expected[ours.trace_id]["stats"]["unpriced_llm_calls"]
        assert overview["totals"]["llm_calls"] == 4 and sum(m["calls"] for m in overview["cost_by_model"]) == 4


def costly_sessions() -> list:
    """Sessions a day apart whose costs SQL sums as integer units (our prices, a sender's 0.1 USD),
    and two it cannot: a sender's absurd 1e300 USD, and 2.5e-17 USD (finer than the units)."""
    spans = []
    for n, sender_cost in enumerate([None, 0.1, 1e300, None, 2.5e-17, None]):
        session = SessionBuilder.new(start_ns=1_700_000_000_000_000_000 + n * 86_400 * 10**9, seed=200 + n)
        spans += [session.llm("gpt-4o", 1000 + n, 7 * n), session.llm("gpt-4o-mini", 3, 1)]
        if sender_cost is not None:
            spans.append(session.llm("no-such-model-anywhere", 10, 1, **{"gen_ai.usage.cost": sender_cost}))
        spans.append(session.root(end_state="Failure" if n == 3 else "Success"))
    return spans


def assert_costs_add_up(store: SQLiteStore) -> dict:
    """Every sum of the overview (totals, buckets, by model) is exactly the sum of the sessions' costs."""
    listed = store.list_sessions(("project-a",), ListQuery(limit=100))["sessions"]
    exact = sum((Decimal(s["cost"]) for s in listed), Decimal(0))
    for bucket in ("hour", "day", None):
        overview = store.overview(("project-a",), None, None, bucket)
        assert Decimal(overview["totals"]["cost"]) == exact and overview["totals"]["sessions"] == len(listed)
        assert sum(Decimal(b["cost"]) for b in overview["buckets"]) == exact
        assert sum(Decimal(m["cost"]) for m in overview["cost_by_model"]) == exact
        assert sum(b["sessions"] for b in overview["buckets"]) == len(listed)
    return overview


def test_costs_with_and_without_integer_units_add_up_exactly(store):
    request = ExportTraceServiceRequest.FromString(otlp_request(costly_sessions()))
    store.write(prepare(request, "project-a")).result(timeout=30)
    overview = assert_costs_add_up(store)
    assert overview["bucket"] == "day" and len(overview["buckets"]) == 6
    assert overview["totals"]["failed_sessions"] == 1
    without_units = store._conn.execute("SELECT count(*) FROM sessions WHERE cost_units IS NULL").fetchone()[0]
    assert without_units == 2  # the 1e300 and 2.5e-17 USD senders'
    by_cost = store.list_sessions(("project-a",), ListQuery(sort="cost"))["sessions"]
    assert [Decimal(s["cost"]) for s in by_cost] == sorted((Decimal(s["cost"]) for s in by_cost), reverse=True)


def test_a_cost_past_80_digits_is_rounded_once_over_the_period(store):
    """A sender's 1e79 USD (text) and 0.4 USD (units) in one hour, 0.4 USD in the next: the period's
    cost is their sum rounded once to 80 digits (1e79 + 1), not each hour's rounded sum (1e79)."""
    day = 1_700_000_000_000_000_000 - 1_700_000_000_000_000_000 % (86_400 * 10**9)
    spans = []
    for n, (offset_h, sender_cost) in enumerate([(0, 1e79), (0, 0.4), (1, 0.4)]):
        session = SessionBuilder.new(start_ns=day + offset_h * 3600 * 10**9 + n, seed=220 + n)
        spans += [session.llm("no-such-model-anywhere", 1, 1, **{"gen_ai.usage.cost": sender_cost}), session.root()]
    store.write(prepare(ExportTraceServiceRequest.FromString(otlp_request(spans)), "project-a")).result(timeout=30)
    rounded_once = "1" + "0" * 78 + "1"
    hours = store.overview(("project-a",), None, None, "hour")
    assert hours["totals"]["cost"] == rounded_once
    assert [b["cost"] for b in hours["buckets"]] == ["1" + "0" * 79, "0.4"]  # 1e79 + 0.4, rounded
    days = store.overview(("project-a",), None, None, "day")
    assert days["totals"]["cost"] == rounded_once and [b["cost"] for b in days["buckets"]] == [rounded_once]


def test_a_database_of_schema_1_is_upgraded_with_the_same_answers(tmp_path):
    path = tmp_path / "v1.sqlite3"
    store = SQLiteStore(path)
    try:
        request = ExportTraceServiceRequest.FromString(otlp_request(costly_sessions()))
        store.write(prepare(request, "project-a")).result(timeout=30)
        before = store.overview(("project-a",), None, None, None)
        listed = store.list_sessions(("project-a",), ListQuery(sort="cost"))
    finally:
        store.close()
    with sqlite3.connect(path) as db:  # as a collector of schema 1 left it
        for name in ("sessions_cost_units", "session_models_cost_units", "session_models_init"):
            db.execute(f"DROP TRIGGER {name}")
        for name in ("sessions_by_init", "sessions_by_cost", "session_models_by_model"):
            db.execute(f"DROP INDEX {name}")
        db.execute("ALTER TABLE sessions DROP COLUMN cost_units")
        for column in ("cost_units", "pid", "init_ns"):
            db.execute(f"ALTER TABLE session_models DROP COLUMN {column}")
        db.execute("CREATE INDEX sessions_by_init ON sessions (pid, init_ns, trace_id)")
        db.execute("PRAGMA user_version = 1")
    for _ in range(2):  # and once more, nothing left to upgrade
        store = SQLiteStore(path)
        try:
            assert store.overview(("project-a",), None, None, None) == before
            assert store.list_sessions(("project-a",), ListQuery(sort="cost")) == listed
            assert_costs_add_up(store)
            units = store._conn.execute("SELECT count(*) FROM sessions WHERE cost_units IS NOT NULL").fetchone()[0]
            assert units == 4  # all but the 1e300 and 2.5e-17 USD senders'
        finally:
            store.close()


def test_a_cost_an_older_collector_updates_is_summed_from_its_text(tmp_path):
    """A collector of schema 1 writing to this database changes cost and not cost_units: the stale
    units are dropped (a trigger), and the sums read that session's text."""
    path = tmp_path / "shared.sqlite3"
    session = SessionBuilder.new(seed=210)
    before = stored_overview(path, [session.llm("gpt-4o", 1000, 100), session.root()])
    with sqlite3.connect(path) as db:  # the older collector's upserts, which know no cost_units
        db.execute("UPDATE sessions SET cost = '12.5', cost_sort = 12.5")
        db.execute("UPDATE session_models SET cost = '12.5'")
    store = SQLiteStore(path)
    try:
        after = store.overview(("project-a",), None, None, None)
    finally:
        store.close()
    assert before["totals"]["cost"] != "12.5"
    assert after["totals"]["cost"] == "12.5" == after["cost_by_model"][0]["cost"] == after["buckets"][0]["cost"]


def test_cost_by_model_follows_its_session_to_an_earlier_start(store):
    """The root (sent last) starts before the LLM calls: the session's start moves back, and its cost
    by model with it, so a period holding only that start counts the calls too."""
    session = SessionBuilder.new(seed=211)
    for spans in ([session.llm("gpt-4o", 1000, 100)], [session.root()]):  # the call starts 1 ms in
        store.write(prepare(ExportTraceServiceRequest.FromString(otlp_request(spans)), "project-a")).result(30)
    start = session.start_ns
    overview = store.overview(("project-a",), start, start + 1000, None)
    assert overview["totals"]["sessions"] == 1 and overview["totals"]["llm_calls"] == 1
    (model,) = overview["cost_by_model"]
    assert model["calls"] == 1 and model["cost"] == overview["totals"]["cost"] != "0"


def test_cost_by_model_an_older_collector_wrote_is_placed_when_the_store_opens(tmp_path):
    path = tmp_path / "shared.sqlite3"
    before = stored_overview(path, costly_sessions())
    with sqlite3.connect(path) as db:  # rows of a collector of schema 2 or older: no project, no start
        db.execute("UPDATE session_models SET pid = NULL, init_ns = NULL")
    store = SQLiteStore(path)
    try:
        assert store.overview(("project-a",), None, None, None) == before
        assert_costs_add_up(store)
    finally:
        store.close()
