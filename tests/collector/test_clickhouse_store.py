"""What only the ClickHouse store has, on the real engine in-process (chDB): store URLs, versioned
migrations, retention by TTL, and several collectors writing one database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel.collector.ingest import prepare
from agentops_otel.collector.store.base import ListQuery
from agentops_otel.collector.store.clickhouse import MIGRATIONS, ClickHouseStore, client_options
from tests.collector.conftest import SessionBuilder, otlp_request
from tests.support.store_collector import drop_database, new_database

T0 = 1_763_000_000 * 10**9


@pytest.fixture
def database(chdb_dir) -> Iterator[str]:
    name = new_database()
    try:
        yield name
    finally:
        drop_database(chdb_dir, name)


def open_store(chdb_dir, database: str, **options) -> ClickHouseStore:
    return ClickHouseStore.from_url(f"chdb://{chdb_dir}?database={database}", **options)


def write(store: ClickHouseStore, spans, project: str = "p") -> int:
    batch = prepare(ExportTraceServiceRequest.FromString(otlp_request(spans)), project)
    return store.write(batch).result(timeout=60).new


def query(store: ClickHouseStore, sql: str) -> list[tuple]:
    return store._client.query(sql.replace("{db}", store.database)).result_rows


def test_store_urls_name_the_engine_the_server_and_the_database():
    assert client_options("chdb:///var/lib/agentops/ch") == (
        {"interface": "chdb", "path": "/var/lib/agentops/ch"},
        "agentops",
    )
    assert client_options("chdb:///data?database=team_a")[1] == "team_a"
    kwargs, database = client_options("clickhouse://writer:p%40ss@ch.internal:9000/traces?connect_timeout=5")
    assert database == "traces"
    assert kwargs == {
        "host": "ch.internal",
        "port": 9000,
        "username": "writer",
        "password": "p@ss",
        "secure": False,
        "connect_timeout": "5",
    }
    kwargs, database = client_options("clickhouses://ch.example.com", {"verify": False})
    assert (kwargs["port"], kwargs["secure"], kwargs["username"], kwargs["verify"], database) == (
        8443,
        True,
        "default",
        False,
        "agentops",
    )
    for bad in ("sqlite:///x.db", "chdb://", "http://ch:8123"):
        with pytest.raises(ValueError):
            client_options(bad)
    with pytest.raises(ValueError) as refused:
        client_options("clickhouse://u:secret@host:notaport/db")
    assert "secret" not in str(refused.value)


def test_migrations_are_applied_once_in_order_and_again_changes_nothing(chdb_dir, database):
    store = open_store(chdb_dir, database)
    try:
        assert query(store, "SELECT version FROM {db}.schema_migrations FINAL ORDER BY version") == [(1,)]
        assert store.migrate() == []  # reopened: nothing to apply
        later = (
            (3, "a column on the table of 2", ("ALTER TABLE {db}.extra ADD COLUMN IF NOT EXISTS b UInt8",)),
            (2, "a table", ("CREATE TABLE IF NOT EXISTS {db}.extra (a UInt8) ENGINE = MergeTree ORDER BY a",)),
        )
        assert store.migrate((*MIGRATIONS, *later)) == [2, 3]
        assert [r[0] for r in query(store, "DESCRIBE TABLE {db}.extra")] == ["a", "b"]
        store._client.command(f"DELETE FROM {database}.schema_migrations WHERE version >= 2")
        assert store.migrate((*MIGRATIONS, *later)) == [2, 3]  # applied again: every statement is idempotent
        assert query(store, "SELECT version FROM {db}.schema_migrations FINAL ORDER BY version") == [(1,), (2,), (3,)]
    finally:
        store.close()


def test_retention_deletes_old_rows_and_is_changed_or_removed_at_the_next_open(chdb_dir, database):
    store = open_store(chdb_dir, database, retention_days=30)
    old, recent = SessionBuilder.new(T0 - 400 * 86_400 * 10**9, seed=1), SessionBuilder.new(time.time_ns(), seed=2)
    try:
        write(store, [old.llm("gpt-4o-mini", 1, 1), old.root(), recent.llm("gpt-4o-mini", 1, 1), recent.root()])
        for table in ("spans", "sessions"):
            store._client.command(f"OPTIMIZE TABLE {database}.{table} FINAL")  # merges apply the TTL
        listed = store.list_sessions(("p",), ListQuery())["sessions"]
        assert [s["session_id"] for s in listed] == [recent.session_id]
        assert query(store, "SELECT count() FROM {db}.spans") == [(2,)]
    finally:
        store.close()
    engine = "SELECT engine_full FROM system.tables WHERE database = '{db}' AND name = 'spans'"
    store = open_store(chdb_dir, database, retention_days=90)
    try:
        assert "toIntervalDay(90)" in query(store, engine)[0][0]
    finally:
        store.close()
    store = open_store(chdb_dir, database)
    try:
        assert " TTL " not in query(store, engine)[0][0]
    finally:
        store.close()


def test_two_collectors_on_one_database_count_a_span_sent_to_both_once(chdb_dir, database, monkeypatch):
    a, b = open_store(chdb_dir, database), open_store(chdb_dir, database)
    try:
        s = SessionBuilder.new(T0, seed=3)
        llm, tool, root = s.llm("gpt-4o", 100, 10), s.span("t", {"agentops.span.kind": "tool"}), s.root()
        assert write(a, [llm, root]) == 2
        assert write(b, [llm, tool]) == 1  # the other collector sees what the first stored
        # both take the span for new (they check at the same moment): stored twice, read once
        monkeypatch.setattr(b, "_existing_spans", lambda by_project: set())
        assert write(b, [llm, tool, root]) == 3
        for store in (a, b):
            stats = store.session(("p",), s.trace_id)
            assert (stats["events"], stats["llm_calls"], stats["tool_calls"], stats["prompt_tokens"]) == (2, 1, 1, 100)
            assert len(store.export(("p",), s.trace_id)["spans"]) == 3
            assert store.overview(("p",), None, None, None)["totals"]["llm_calls"] == 1
    finally:
        a.close()
        b.close()


def test_a_batch_retried_after_its_rollup_failed_is_stored_once_with_its_rollup(chdb_dir, database, monkeypatch):
    # Stored spans are looked for only in sessions that have a rollup: a batch whose spans went in
    # but whose rollup failed is inserted again on its retry, and FINAL still reads each span once.
    store = open_store(chdb_dir, database)
    try:
        s = SessionBuilder.new(T0, seed=11)
        spans = [s.llm("gpt-4o", 100, 10), s.span("t", {"agentops.span.kind": "tool"}), s.root()]
        roll_up = store.roll_up

        def fail(touched):
            raise RuntimeError("the engine went away")

        monkeypatch.setattr(store, "roll_up", fail)
        with pytest.raises(RuntimeError):
            write(store, spans)
        assert store.session(("p",), s.trace_id) is None  # spans stored, no rollup yet
        monkeypatch.setattr(store, "roll_up", roll_up)
        assert write(store, spans) == 3  # no rollup: taken for new, inserted again
        assert query(store, "SELECT count() FROM {db}.spans")[0][0] == 6
        stats = store.session(("p",), s.trace_id)
        assert (stats["events"], stats["llm_calls"], stats["tool_calls"], stats["prompt_tokens"]) == (2, 1, 1, 100)
        assert len(store.export(("p",), s.trace_id)["spans"]) == 3
        assert write(store, spans) == 0  # rolled up now: its stored spans are found
        assert write(store, [*spans, s.llm("gpt-4o", 7, 1)]) == 1
        assert store.session(("p",), s.trace_id)["prompt_tokens"] == 107
    finally:
        store.close()


def test_a_session_rolled_up_again_while_a_page_is_read_stays_on_it(chdb_dir, database, monkeypatch):
    # A list reads the first rows of every version, then which of them are current: a rollup landing
    # between the two (here: the dearest session gets another call) must not drop its session.
    store = open_store(chdb_dir, database)
    try:
        sessions = [SessionBuilder.new(T0 + i * 10**9, seed=50 + i) for i in range(8)]
        for i, s in enumerate(sessions):
            write(store, [s.llm("gpt-4o", 1000 * (i + 1), 10), s.root()])
        dearest = sessions[-1]
        read_current = store._current_versions
        pending = [dearest.llm("gpt-4o", 5000, 10)]

        def written_meanwhile(*args):
            if pending:
                write(store, [pending.pop()])
            return read_current(*args)

        monkeypatch.setattr(store, "_current_versions", written_meanwhile)
        page = store.list_sessions(("p",), ListQuery(limit=3, sort="cost"))["sessions"]
        assert [s["session_id"] for s in page] == [x.session_id for x in reversed(sessions[-3:])]
        assert page[0]["llm_calls"] == 2
    finally:
        store.close()


def test_times_at_the_ends_of_the_range_are_stored(chdb_dir, database):
    store = open_store(chdb_dir, database)
    try:
        first, last = SessionBuilder.new(1, seed=4), SessionBuilder.new(2**63 - 2_000_000_000, seed=5)
        assert write(store, [first.root(duration_ms=1), last.root(duration_ms=1)]) == 2
        listed = store.list_sessions(("p",), ListQuery(descending=False))["sessions"]
        assert [s["session_id"] for s in listed] == [first.session_id, last.session_id]
    finally:
        store.close()


def test_the_cluster_schema_parses_and_keeps_a_sessions_rows_on_one_shard(chdb_dir, database):
    from agentops_otel.collector.store.clickhouse import cluster_schema

    statements = cluster_schema("agentops", "fleet")
    store = open_store(chdb_dir, database)
    try:
        for statement in statements:  # ClickHouse's own parser (no cluster here to run them on)
            store._client.query("SELECT formatQuery({sql:String})", parameters={"sql": statement})
        single = {r[0] for r in query(store, "SELECT name FROM system.tables WHERE database = '{db}'")}
    finally:
        store.close()
    distributed = {s.split()[5].split(".")[1]: s for s in statements if "ENGINE = Distributed" in s}
    assert set(distributed) == single, "the store reads and writes the same table names on a cluster"
    for name in ("spans", "sessions", "span_logs"):
        assert distributed[name].endswith(f"'{name}_local', cityHash64(project, trace_id))")
    local = [s for s in statements if "_local ON CLUSTER 'fleet' (" in s]
    assert len(local) == len(single) and all(
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/" in s for s in local
    )
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agentops/sessions', '{replica}', version)" in (
        "".join(local)
    )


def test_the_cluster_ddl_in_the_docs_is_the_one_the_store_runs():
    from agentops_otel.collector.store.clickhouse import cluster_schema

    docs = (Path(__file__).resolve().parents[2] / "docs" / "clickhouse.md").read_text()
    shown = docs.split("```sql\n", 1)[1].split("\n```", 1)[0]
    statements = [s.strip() for s in shown.split(";") if s.strip()]
    assert statements and all(s in cluster_schema("agentops", "agentops_cluster") for s in statements)


def test_an_absurd_cost_a_sender_set_is_stored_capped_not_refused(chdb_dir, database):
    store = open_store(chdb_dir, database)
    try:
        s = SessionBuilder.new(T0, seed=6)
        attributes = {"gen_ai.usage.cost": 1e300, "gen_ai.request.model": "no-such-model-anywhere"}
        llm = s.llm("no-such-model-anywhere", 10, 1, **attributes)
        assert write(store, [llm, s.root()]) == 2
        stats = store.session(("p",), s.trace_id)
        assert stats["llm_calls"] == 1 and stats["cost"] == "1" + "0" * 40
        (span,) = store.export(("p",), s.trace_id)["llms"]
        assert span["attributes"]["gen_ai.usage.cost"] == 1e300  # the span as the sender sent it
    finally:
        store.close()
