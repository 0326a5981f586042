"""ClickHouse session store: a server or cluster over HTTP, or the same engine in-process (chDB).

The schema and why it is so are in ``docs/clickhouse.md``. In short: spans are kept in a
ReplacingMergeTree keyed by (project, trace id, span id), so a span sent twice, to this collector
or another, is one row once merged and is read through ``FINAL`` until then. What a span counts
for (its kind, its counts, tokens and cost, whether it ends its session) is computed at ingest by
:mod:`agentops_otel.meaning` into plain columns; SQL only adds them up. After each group of
inserts the writer recomputes the rollup of every session it touched from that session's
de-duplicated spans and writes it to ``sessions`` (a ReplacingMergeTree whose version is the
number of spans the rollup saw), so late, out-of-order and re-sent spans leave every rollup
exactly what its spans say, whichever collector wrote them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import re
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from agentops_otel import meaning
from agentops_otel.collector.format import iso, session_uuid
from agentops_otel.collector.ingest import PreparedBatch, SpanRecord
from agentops_otel.collector.otlp import attributes_dict
from agentops_otel.collector.span_logs import LogBatch, log_json
from agentops_otel.collector.store.base import STOP_WRITER, ListQuery, ProjectScope, WriteResult, run_group_writer
from agentops_otel.collector.store.clickhouse_copy import ClickHouseCopy
from agentops_otel.collector.store.sqlite import UNKNOWN_MODEL, decode_cursor, encode_cursor, span_json
from agentops_otel.meaning import INACTIVE_AFTER_NS, INDETERMINATE, SUMMED_FIELDS, SessionTotals, money
from agentops_otel.usage import MAX_COUNT

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "agentops"
# Money: exact decimals with 30 places (per-token prices have at most a dozen), 46 integer digits.
MONEY = "Decimal(76, 30)"
# A span's cost column holds at most this (a sender's cost of 1e300 USD is kept in its attributes
# but counts as this much); more would fail the whole insert.
MAX_COST = Decimal("1e40")
# ns since 1970 as a DateTime (seconds, up to 2106) for TTL and partitions; later times are clamped.
_SECONDS = "toDateTime(least(intDiv({column}, 1000000000), 4294967295))"
_COUNT_FIELDS = ("llm_calls", "tool_calls", "actions", "errors", "events", "unpriced_llm_calls")
_TOKEN_FIELDS = meaning.TOKEN_FIELDS

_COLUMN_BREAK = ",\n    "  # one column a line in the DDL (f-strings before Python 3.12 take no backslash)
# status_code is Int32: an OTLP enum, so any int32 a sender wrote (JSON says 7, or -1).
# Each migration: (version, what it does, statements). Applied in order, each statement idempotent
# (IF NOT EXISTS), then recorded in schema_migrations; collectors starting together may both apply
# one, which changes nothing. {db} is the database.
# sessions: granules of 1,024 rows in 8-64 KB blocks, as lists and stats read rows by key (one
# granule each, decompressed whole); the default 8,192 rows in 64 KB-1 MB blocks cost about twice the
# CPU for a page of 50 and ~20 % less for the overview's scans. Stores made before keep the default.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "spans, sessions, resources and span logs",
        (
            f"""CREATE TABLE IF NOT EXISTS {{db}}.spans (
    project LowCardinality(String),
    trace_id FixedString(16),
    span_id FixedString(8),
    start_ns Int64 CODEC(Delta, ZSTD(1)),
    end_ns Int64 CODEC(Delta, ZSTD(1)),
    kind LowCardinality(String),
    status_code Int32,
    root_rank UInt8,
    end_state LowCardinality(String),
    end_state_reason Nullable(String),
    tags Array(String),
    video Nullable(String),
    model LowCardinality(String),
    cost Nullable({MONEY}),
    {_COLUMN_BREAK.join(f"{name} UInt8" for name in _COUNT_FIELDS)},
    {_COLUMN_BREAK.join(f"{name} Int64 CODEC(T64, ZSTD(1))" for name in _TOKEN_FIELDS)},
    resource_key FixedString(16),
    body String CODEC(ZSTD(3))
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM({_SECONDS.format(column="start_ns")})
ORDER BY (project, trace_id, span_id)""",
            f"""CREATE TABLE IF NOT EXISTS {{db}}.sessions (
    project LowCardinality(String),
    trace_id FixedString(16),
    version UInt64,
    init_ns Int64,
    last_ns Int64,
    end_ns Nullable(Int64),
    duration_ns Int64,
    ended UInt8,
    end_state LowCardinality(String),
    end_state_reason Nullable(String),
    tags Array(String),
    video Nullable(String),
    resource_key FixedString(16),
    {_COLUMN_BREAK.join(f"{name} Int64" for name in SUMMED_FIELDS)},
    total_tokens Int64,
    cost {MONEY},
    cost_sort Float64,
    failed UInt8,
    model_names Array(LowCardinality(String)),
    model_calls Array(Int64),
    model_costs Array({MONEY}),
    model_prompt_tokens Array(Int64),
    model_completion_tokens Array(Int64)
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project, trace_id)
SETTINGS index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 65536""",
            """CREATE TABLE IF NOT EXISTS {db}.resources (
    key FixedString(16),
    body String CODEC(ZSTD(3))
) ENGINE = ReplacingMergeTree
ORDER BY key""",
            """CREATE TABLE IF NOT EXISTS {db}.span_logs (
    project LowCardinality(String),
    trace_id FixedString(16),
    span_id FixedString(8),
    digest FixedString(16),
    time_ns Int64,
    body String CODEC(ZSTD(3))
) ENGINE = ReplacingMergeTree
ORDER BY (project, trace_id, span_id, digest)""",
        ),
    ),
)
MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version UInt32,
    name String,
    applied_ns Int64
) ENGINE = ReplacingMergeTree
ORDER BY version"""
# What TTL each table gets with a retention: by the time column that says the row is old.
RETENTION_COLUMNS = {"spans": "start_ns", "sessions": "last_ns", "span_logs": "time_ns"}
# On a cluster each table is a replicated ``<name>_local`` on every node, and ``<name>`` a Distributed
# table over them, sharded so that a session's spans, rollup and logs live on one shard (FINAL and
# the rollup query then see all of a session's rows without a cross-shard merge).
SHARDING_KEYS = {"resources": "cityHash64(key)", "schema_migrations": "version"}
_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \{db\}\.(\w+) \(")
_ENGINE = re.compile(r"ENGINE = ReplacingMergeTree(?:\((\w+)\))?")
_ALTER = re.compile(r"ALTER TABLE \{db\}\.(\w+) ")


def cluster_statements(statement: str, cluster: str) -> list[str]:
    """A schema statement as it runs on a cluster (``ON CLUSTER``, replicated local tables and
    Distributed tables of the same names as on one server, which the store reads and writes)."""
    on = f"ON CLUSTER '{cluster}'"
    created = _CREATE.match(statement)
    if created:
        name = created.group(1)
        local = _CREATE.sub(f"CREATE TABLE IF NOT EXISTS {{db}}.{name}_local {on} (", statement, count=1)

        def replicated(engine: re.Match) -> str:
            version = f", {engine.group(1)}" if engine.group(1) else ""
            path = f"'/clickhouse/tables/{{shard}}/{{db}}/{name}', '{{replica}}'"  # {shard}, {replica}: macros
            return f"ENGINE = ReplicatedReplacingMergeTree({path}{version})"

        local = _ENGINE.sub(replicated, local, count=1)
        key = SHARDING_KEYS.get(name, "cityHash64(project, trace_id)")
        distributed = (
            f"CREATE TABLE IF NOT EXISTS {{db}}.{name} {on} AS {{db}}.{name}_local"
            f" ENGINE = Distributed('{cluster}', '{{db}}', '{name}_local', {key})"
        )
        return [local, distributed]
    altered = _ALTER.match(statement)
    if altered:  # columns and indexes change on both tables, TTL only on the local one
        name = altered.group(1)
        local = _ALTER.sub(f"ALTER TABLE {{db}}.{name}_local {on} ", statement, count=1)
        if " TTL" in statement or "INDEX" in statement:
            return [local]
        return [local, _ALTER.sub(f"ALTER TABLE {{db}}.{name} {on} ", statement, count=1)]
    return [statement]


def cluster_schema(database: str, cluster: str) -> list[str]:
    """Every statement that creates the store's schema on ``cluster`` (what a store opened with the
    ``cluster`` option runs, and docs/clickhouse.md shows)."""
    statements = [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER '{cluster}'"]
    for statement in (MIGRATIONS_TABLE, *(s for _, _, group in sorted(MIGRATIONS) for s in group)):
        statements += [s.replace("{db}", database) for s in cluster_statements(statement, cluster)]
    return statements


SPAN_COLUMNS = (
    "project",
    "trace_id",
    "span_id",
    "start_ns",
    "end_ns",
    "kind",
    "status_code",
    "root_rank",
    "end_state",
    "end_state_reason",
    "tags",
    "video",
    "model",
    "cost",
    *_COUNT_FIELDS,
    *_TOKEN_FIELDS,
    "resource_key",
    "body",
)
SESSION_COLUMNS = (
    "project",
    "trace_id",
    "version",
    "init_ns",
    "last_ns",
    "end_ns",
    "duration_ns",
    "ended",
    "end_state",
    "end_state_reason",
    "tags",
    "video",
    "resource_key",
    *SUMMED_FIELDS,
    "total_tokens",
    "cost",
    "cost_sort",
    "failed",
    "model_names",
    "model_calls",
    "model_costs",
    "model_prompt_tokens",
    "model_completion_tokens",
)
# A project's place in a list's order where sort value and session id tie (several projects in scope):
# a 63-bit hash of its id, which a cursor carries where SQLite's carries the project's row id.
PROJECT_KEY = "bitShiftRight(cityHash64(project), 1)"
SUMMARY_COLUMNS = (
    "project, trace_id, init_ns, last_ns, end_ns, duration_ns, ended, end_state, end_state_reason, tags, "
    + ", ".join(SUMMED_FIELDS)
    + ", toString(cost) AS cost, model_names"
)
SORT_COLUMNS = {
    "init_timestamp": "init_ns",
    "cost": "cost_sort",
    "duration": "duration_ns",
    "tokens": "total_tokens",
    "errors": "errors",
}
# root_rank: how a span ends its session (meaning.root_info): not at all, as a trace's local root,
# as our session root (which always wins).
NOT_ROOT, LOCAL_ROOT, OUR_ROOT = 0, 1, 2
# The session's root: ours over a local root, then the latest ending; its resource is the root's,
# else that of the session's first span.
_ROOT_ORDER = "(root_rank, end_ns, span_id)"
_SUM = "least(sum(toInt128({0})), {1})"


def _chunks(items: list, size: int) -> Iterable[list]:
    return (items[start : start + size] for start in range(0, len(items), size))


def _in(ids, width: int) -> str:
    """``IN`` these binary ids of ``width`` bytes, written into the query as one hex literal (hex
    digits and commas need no escaping; bound as parameters one by one they cost more than the
    query). As FixedString, so that ids ending in zero bytes compare equal."""
    listed = ",".join(value.hex() for value in ids)
    return f"IN (SELECT toFixedString(unhex(arrayJoin(splitByChar(',', '{listed}'))), {int(width)}))"


# A session's rollup from its stored spans, computed and written to ``sessions`` in the engine (the
# spans' rows never come back to Python): the summed columns add up what meaning.py said each span
# counts for; a session is ended once a span ended it (root_rank), else Indeterminate with its
# last span's end.
_ROLLUP_SPANS = (
    "SELECT project, trace_id, count() AS spans, min(start_ns) AS first_start, max(end_ns) AS last_end,"
    " max(root_rank) != 0 AS is_ended,"
    f" argMax(end_ns, {_ROOT_ORDER}) AS root_end, argMax(end_state, {_ROOT_ORDER}) AS root_state,"
    f" argMax(end_state_reason, {_ROOT_ORDER}) AS root_reason, argMax(tags, {_ROOT_ORDER}) AS root_tags,"
    f" argMax(video, {_ROOT_ORDER}) AS root_video, argMax(resource_key, (root_rank, -start_ns)) AS first_resource, "
    + ", ".join(f"{_SUM.format(name, MAX_COUNT)} AS sum_{name}" for name in SUMMED_FIELDS)
    + ", coalesce(sum(cost), 0) AS sum_cost,"
    # per model of its LLM calls: calls, cost, prompt and completion tokens (one query, one pass)
    " sumMapIf([model], [toInt64(1)], [coalesce(cost, 0)], [toInt128(prompt_tokens)], [toInt128(completion_tokens)],"
    " model != '') AS by_model"
    # PREWHERE: the rows of the sessions' keys are picked before FINAL merges them (a key's rows all
    # share its project and trace id, so the merge is the same) instead of merging every column of
    # every granule the keys fall in: ~4x less CPU per write group.
    " FROM {db}.spans FINAL PREWHERE project IN {projects:Array(String)} AND trace_id {traces}"
    " GROUP BY project, trace_id"
)  # {traces}: _in(the sessions' trace ids)
_CAPPED_TOKENS = f"arrayMap(tokens -> toInt64(least(tokens, {MAX_COUNT})), by_model.{{0}})"
ROLLUP_INSERT = (
    f"INSERT INTO {{db}}.sessions ({', '.join(SESSION_COLUMNS)})"
    " SELECT project, trace_id, spans, first_start, last_end, if(is_ended, root_end, NULL),"
    " if(is_ended, root_end, last_end) - first_start, is_ended,"
    " if(is_ended, root_state, {indeterminate:String}) AS state, if(is_ended, root_reason, NULL),"
    " if(is_ended, root_tags, []), if(is_ended, root_video, NULL), first_resource, "
    + ", ".join(f"sum_{name}" for name in SUMMED_FIELDS)
    + f", least(sum_prompt_tokens + sum_completion_tokens, {MAX_COUNT}), sum_cost, toFloat64(sum_cost),"
    " state = {failure:String} OR sum_errors > 0,"  # a failed session, for the error rates
    f" by_model.1, by_model.2, by_model.3, {_CAPPED_TOKENS.format(4)}, {_CAPPED_TOKENS.format(5)}"
    f" FROM ({_ROLLUP_SPANS})"
    # settings in the text, not the call's: the client would set and reset each one around it
    " SETTINGS max_insert_threads = 1"
)  # {traces}: as in _ROLLUP_SPANS
# One part per insert, written by one thread: chDB otherwise spends ~100 ms per insert starting
# parallel parsing for a handful of rows. Hostile start times may span many months: no limit on
# the partitions one insert touches.
INSERT_SETTINGS = {"max_threads": 1, "max_insert_threads": 1, "max_partitions_per_insert_block": 0}
# The writer's lookups name a group's ids in the query's text (:func:`_in`): up to GROUP_SPANS span
# ids, or more in one large batch, where the server's default limit (256 KiB) takes about 15,000.
LOOKUP_SETTINGS = {"max_query_size": 64 * 2**20}
BYTES = {"body": "bytes"}
# A list reads at most this many rows of every version (ClickHouseStore._first_sessions) before it
# reads the current ones through FINAL.
_WIDEST = 4096


class ClickHouseStore(ClickHouseCopy):
    """The ClickHouse store; open it with :meth:`from_url`. Read back whole (migrate): :mod:`.clickhouse_copy`."""

    def __init__(
        self,
        connect,
        database: str = DEFAULT_DATABASE,
        *,
        retention_days: int | None = None,
        max_pending: int = 256,
        migrations: tuple[tuple[int, str, tuple[str, ...]], ...] = MIGRATIONS,
        cluster: str | None = None,
    ) -> None:
        """``connect()`` returns a new clickhouse-connect client (one per thread: the writer, each reader).
        ``cluster``: the schema is created ``ON CLUSTER`` (replicated tables under Distributed ones)."""
        if not database.replace("_", "").isalnum():
            raise ValueError(f"database name must be letters, digits and underscores, got {database!r}")
        if cluster is not None and not cluster.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"cluster name must be letters, digits, '-' and '_', got {cluster!r}")
        self.cluster = cluster
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"retention must be at least one day, got {retention_days}")
        self.database = database
        self.retention_days = retention_days
        self._connect = connect
        self._client = connect()
        self._clients = [self._client]
        self._clients_lock = threading.Lock()
        self._local = threading.local()
        try:
            on = f" ON CLUSTER '{cluster}'" if cluster else ""
            self._client.command(f"CREATE DATABASE IF NOT EXISTS {database}{on}")
            self.migrate(migrations)
            self._apply_retention()
        except Exception:
            self._client.close()
            raise
        self._known_resources: set[bytes] = set()
        self._column_types: dict[str, list] = {}  # table -> its columns' types, for the writer's inserts
        self._resource_cache: dict[bytes, dict[str, Any]] = {}
        self._queue: queue.Queue = queue.Queue(max_pending)
        self._writer = threading.Thread(target=self._run_writer, name="agentops-clickhouse-writer", daemon=True)
        self._writer.start()

    @classmethod
    def from_url(cls, url: str, *, retention_days: int | None = None, **options: Any) -> ClickHouseStore:
        """A store at ``chdb:///path/to/dir`` (the engine in-process), ``clickhouse://user:password@host:8123/db``
        (a server over HTTP) or ``clickhouses://...`` (HTTPS); see :func:`client_options`.
        ``retention_days``: rows older than that many days are deleted (ClickHouse TTL); None keeps them.
        """
        try:
            import clickhouse_connect
        except ImportError:
            raise RuntimeError(
                "the ClickHouse store needs clickhouse-connect: pip install 'agentops-otel[clickhouse]'"
            ) from None
        kwargs, database = client_options(url, options)
        cluster = kwargs.pop("cluster", None)
        if cluster:  # a write is on its shard when acknowledged, so the rollup that follows sees it
            kwargs.setdefault("settings", {}).setdefault("distributed_foreground_insert", 1)
        return cls(
            lambda: clickhouse_connect.get_client(**kwargs), database, retention_days=retention_days, cluster=cluster
        )

    # --- schema -------------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text.replace("{db}", self.database)

    def _statements(self, statement: str) -> list[str]:
        if self.cluster is None:
            return [self._sql(statement)]
        return [self._sql(s) for s in cluster_statements(statement, self.cluster)]

    def migrate(self, migrations: tuple[tuple[int, str, tuple[str, ...]], ...] = MIGRATIONS) -> list[int]:
        """Apply the migrations not applied yet, in order; the versions applied now."""
        client = self._client
        for statement in self._statements(MIGRATIONS_TABLE):
            client.command(statement)
        done = {row[0] for row in client.query(self._sql("SELECT version FROM {db}.schema_migrations")).result_rows}
        applied = []
        for version, name, statements in sorted(migrations):
            if version in done:
                continue
            for statement in statements:
                for sql in self._statements(statement):
                    client.command(sql)
            client.insert(
                f"{self.database}.schema_migrations",
                [[version, name, time.time_ns()]],
                column_names=["version", "name", "applied_ns"],
                settings=INSERT_SETTINGS,
            )
            applied.append(version)
            logger.info("agentops-otel collector: ClickHouse schema migration %d applied (%s)", version, name)
        return applied

    def _apply_retention(self) -> None:
        """Each table's TTL as ``retention_days`` says (none: rows are kept), changed only when it differs."""
        rows = self._client.query(
            "SELECT name, engine_full FROM system.tables WHERE database = {db:String}", parameters={"db": self.database}
        ).result_rows
        engines = dict(rows)
        suffix, on = ("_local", f" ON CLUSTER '{self.cluster}'") if self.cluster else ("", "")
        for name, column in RETENTION_COLUMNS.items():
            table = name + suffix
            has_ttl = " TTL " in engines.get(table, "")
            if self.retention_days is None:
                if has_ttl:
                    self._client.command(f"ALTER TABLE {self.database}.{table}{on} REMOVE TTL")
                continue
            ttl = f"{_SECONDS.format(column=column)} + toIntervalDay({int(self.retention_days)})"
            if has_ttl and f"toIntervalDay({int(self.retention_days)})" in engines[table]:
                continue
            self._client.command(f"ALTER TABLE {self.database}.{table}{on} MODIFY TTL {ttl}")

    # --- writing ------------------------------------------------------------------------------

    def write(self, batch: PreparedBatch) -> Future[WriteResult]:
        """Queue ``batch``; raises ``queue.Full`` when the writer is too far behind (back-pressure).
        The future resolves once the spans and the rollups of their sessions are inserted."""
        future: Future[WriteResult] = Future()
        self._queue.put_nowait((batch, future))
        return future

    def write_logs(self, batch: LogBatch) -> Future[WriteResult]:
        """Queue log records of spans (re-sent ones are stored once); raises ``queue.Full`` like :meth:`write`."""
        future: Future[WriteResult] = Future()
        self._queue.put_nowait((batch, future))
        return future

    def _run_writer(self) -> None:
        run_group_writer(self._queue, self._commit)

    def _commit(self, items: list) -> None:
        try:
            results = self._write_group([batch for batch, _ in items])
        except Exception:
            if len(items) == 1:
                logger.exception("agentops-otel collector: storing a batch failed")
                results = [None]
            else:  # one bad batch must not fail its neighbours: each on its own
                for item in items:
                    self._commit([item])
                return
        for (_, future), result in zip(items, results, strict=True):
            if result is None:
                future.set_exception(RuntimeError("storing the batch in ClickHouse failed (see the collector log)"))
            else:
                future.set_result(result)

    def _write_group(self, batches: list) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(batches)
        span_batches = [(i, b) for i, b in enumerate(batches) if isinstance(b, PreparedBatch)]
        log_batches = [(i, b) for i, b in enumerate(batches) if isinstance(b, LogBatch)]
        if span_batches:
            written = self._write_spans([b for _, b in span_batches])
            for (i, _), result in zip(span_batches, written, strict=True):
                results[i] = result
        for i, batch in log_batches:
            results[i] = self._write_logs(batch)
        return results  # type: ignore[return-value]

    def _existing_spans(self, by_project: dict[str, list[SpanRecord]]) -> set[tuple[str, bytes, bytes]]:
        """(project, trace id, span id) of these spans that are stored already. Only sessions with a
        rollup can have stored spans (the writer rolls up every session it stores spans of), so the
        spans are looked for in those sessions only: ``sessions`` is a tenth of ``spans``, and a new
        session's spans, most of a write group's, need no lookup. A batch retried after a failure
        between its spans' insert and their rollup is stored again: ``FINAL`` reads each span once."""
        projects = list(by_project)
        traces = {r.trace_id for records in by_project.values() for r in records}
        rolled_up: set[tuple[str, bytes]] = set()
        for chunk in _chunks(sorted(traces), 5000):
            rows = self._client.query(
                self._sql(
                    "SELECT DISTINCT project, trace_id FROM {db}.sessions"
                    f" PREWHERE project IN {{projects:Array(String)}} AND trace_id {_in(chunk, 16)}"
                ),
                parameters={"projects": projects},
            ).result_rows
            rolled_up.update(rows)
        candidates = [
            r for project, records in by_project.items() for r in records if (project, r.trace_id) in rolled_up
        ]
        found: set[tuple[str, bytes, bytes]] = set()
        if not candidates:
            return found
        spans = _in({r.span_id for r in candidates}, 8)
        for chunk in _chunks(sorted({r.trace_id for r in candidates}), 5000):
            rows = self._client.query(
                self._sql(
                    "SELECT project, trace_id, span_id FROM {db}.spans"
                    f" PREWHERE project IN {{projects:Array(String)}} AND trace_id {_in(chunk, 16)}"
                    f" WHERE span_id {spans}"
                ),
                parameters={"projects": projects},
                settings=LOOKUP_SETTINGS,
            ).result_rows
            found.update(rows)
        return found

    def _write_spans(self, batches: list[PreparedBatch]) -> list[WriteResult]:
        by_project: dict[str, list[SpanRecord]] = {}
        for batch in batches:
            by_project.setdefault(batch.project_id, []).extend(batch.spans)
        known = self._existing_spans({project: records for project, records in by_project.items() if records})
        fresh: dict[str, list[SpanRecord]] = {}
        results, touched = [], {}
        for batch in batches:
            project = batch.project_id
            kept = fresh.setdefault(project, [])
            before = len(kept)
            for record in batch.spans:
                key = (project, record.trace_id, record.span_id)
                if key not in known:
                    known.add(key)
                    kept.append(record)
            results.append(WriteResult(accepted=len(batch.spans), new=len(kept) - before))
            # every session of the batch, re-sent spans' too: a retry after a failure between the
            # spans' insert and the rollups' gets its rollups
            touched.setdefault(batch.project_id, set()).update(r.trace_id for r in batch.spans)
        resources = {k: v for b in batches for k, v in b.resources.items() if k not in self._known_resources}
        if resources:
            self._insert("resources", [[k, v] for k, v in resources.items()], ("key", "body"))
        if any(fresh.values()):
            self._insert("spans", span_columns(fresh.items()), SPAN_COLUMNS, column_oriented=True)
        self._known_resources.update(resources)
        if len(self._known_resources) > 100_000:
            self._known_resources.clear()
        if touched:
            self.roll_up(touched)
        return results

    def _insert(self, table: str, data: list, columns: tuple[str, ...], *, column_oriented: bool = False) -> None:
        """Insert rows (or, ``column_oriented``, columns) into ``table``; its column types are asked
        for once, not before every insert."""
        types = self._column_types.get(table)
        if types is None:
            context = self._client.create_insert_context(f"{self.database}.{table}", list(columns))
            types = self._column_types[table] = context.column_types
        self._client.insert(
            f"{self.database}.{table}",
            data,
            column_names=list(columns),
            column_types=types,
            column_oriented=column_oriented,
            settings=INSERT_SETTINGS,
        )

    def roll_up(self, touched: dict[str, set[bytes]]) -> None:
        """Write the rollups of these sessions (trace ids by project) to ``sessions``, each from all of
        its stored spans. One query for all projects: a trace id that is also another project's
        session (never, but for a sender's choice) rolls that one up again too, to the same rollup."""
        projects = list(touched)
        for chunk in _chunks(sorted(set().union(*touched.values())), 5000):
            self._client.command(
                self._sql(ROLLUP_INSERT).replace("{traces}", _in(chunk, 16)),
                parameters={"projects": projects, "indeterminate": INDETERMINATE, "failure": meaning.FAILURE},
            )

    def _write_logs(self, batch: LogBatch) -> WriteResult:
        rows = [
            [
                batch.project_id,
                log.trace_id,
                log.span_id,
                hashlib.blake2b(log.body, digest_size=16).digest(),
                log.time_ns,
                log.body,
            ]
            for log in batch.logs
        ]
        if not rows:
            return WriteResult(accepted=0, new=0)
        known = {
            (t, s, d)
            for t, s, d in self._client.query(
                self._sql(
                    "SELECT trace_id, span_id, digest FROM {db}.span_logs WHERE project = {project:String}"
                    f" AND trace_id {_in({r[1] for r in rows}, 16)} AND digest {_in({r[3] for r in rows}, 16)}"
                ),
                parameters={"project": batch.project_id},
                settings=LOOKUP_SETTINGS,
            ).result_rows
        }
        fresh = []
        for row in rows:
            key = (row[1], row[2], row[3])
            if key not in known:
                known.add(key)
                fresh.append(row)
        if fresh:
            self._insert("span_logs", fresh, ("project", "trace_id", "span_id", "digest", "time_ns", "body"))
        return WriteResult(accepted=len(rows), new=len(fresh))

    def close(self) -> None:
        self._queue.put(STOP_WRITER)
        self._writer.join(timeout=60)
        with self._clients_lock:
            for client in self._clients:
                try:
                    client.close()
                except Exception:  # closing is best effort: the engine may already be gone
                    logger.debug("closing a ClickHouse client failed", exc_info=True)
            self._clients.clear()

    # --- reading ------------------------------------------------------------------------------

    def _reader(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._connect()
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _query(self, sql: str, **parameters: Any) -> list[tuple]:
        """Rows of ``sql``; a column named ``body`` (serialized protobuf) comes back as bytes."""
        return self._reader().query(self._sql(sql), parameters=parameters, column_formats=BYTES).result_rows

    def _find(self, projects: ProjectScope, trace_id: bytes, columns: str) -> tuple | None:
        """The session's row in the earliest project of the scope that has it."""
        names = list(dict.fromkeys(projects))
        if not names:
            return None
        rows = self._query(
            f"SELECT {columns} FROM {{db}}.sessions FINAL"
            " PREWHERE project IN {projects:Array(String)} AND trace_id = {trace:FixedString(16)}",
            projects=names,
            trace=trace_id,
        )
        return min(rows, key=lambda row: names.index(row[0]), default=None)

    @staticmethod
    def _summary(row: tuple) -> dict[str, Any]:
        project_id, trace_id, init_ns, last_ns, end_ns, duration_ns, ended, end_state, reason, tags = row[:10]
        row = row[1:]
        n = len(SUMMED_FIELDS)
        stored = meaning.SessionRow(
            session_id=session_uuid(trace_id),
            project_id=project_id,
            init_ns=init_ns,
            last_ns=last_ns,
            end_ns=end_ns,
            duration_ns=duration_ns,
            ended=bool(ended),
            end_state=end_state,
            end_state_reason=reason,
            tags=list(tags),
            counts=dict(zip(SUMMED_FIELDS, row[9 : 9 + n], strict=True)),
            cost=money(Decimal(row[9 + n])),
            models=list(row[10 + n]),
        )
        return meaning.summary_json(stored, time.time_ns(), iso)

    def session(self, projects: ProjectScope, trace_id: bytes) -> dict[str, Any] | None:
        row = self._find(projects, trace_id, SUMMARY_COLUMNS)
        return None if row is None else self._summary(row)

    def list_sessions(self, projects: ProjectScope, query: ListQuery) -> dict[str, Any]:
        position = decode_cursor(query.cursor) if query.cursor else None  # a bad one is an error, data or not
        if not projects:
            return {"sessions": [], "next_cursor": None}
        column = SORT_COLUMNS[query.sort]
        where, params = ["project IN {projects:Array(String)}"], {"projects": list(dict.fromkeys(projects))}
        if query.tags:
            where.append("hasAll(tags, {tags:Array(String)})")
            params["tags"] = list(query.tags)
        if query.end_state in (meaning.RUNNING, meaning.INACTIVE):  # meaning.session_state, in SQL
            op = ">=" if query.end_state == meaning.RUNNING else "<"
            where.append(f"ended = 0 AND last_ns {op} {{active_since:Int64}}")
            params["active_since"] = time.time_ns() - INACTIVE_AFTER_NS
        elif query.end_state:
            where.append("ended = 1 AND end_state = {end_state:String}")
            params["end_state"] = query.end_state
        if query.start_after_ns is not None:
            where.append("init_ns >= {after:Int64}")
            params["after"] = query.start_after_ns
        if query.start_before_ns is not None:
            where.append("init_ns < {before:Int64}")
            params["before"] = query.start_before_ns
        if position is not None:
            value, trace_id, after = position
            op = "<" if query.descending else ">"
            kind = "Float64" if isinstance(value, float) else "Int64"
            value_param, key_param = f"{{value:{kind}}}", "{key:FixedString(16)}"
            tie = f"trace_id {op} {key_param}"
            if after is not None:  # None: a cursor of a collector from before reads took several projects
                tie = f"({tie} OR (trace_id = {key_param} AND {PROJECT_KEY} {op} {{after:UInt64}}))"
                params["after"] = after
            where.append(f"({column} {op} {value_param} OR ({column} = {value_param} AND {tie}))")
            params.update(value=value, key=trace_id)
        keys = self._first_sessions(" AND ".join(where), params, column, query.descending, query.limit + 1)
        more = len(keys) > query.limit
        keys = keys[: query.limit]
        rows = self._rows_by_key(params["projects"], [key[:2] for key in keys], SUMMARY_COLUMNS)
        sessions = [self._summary(rows[key[:2]]) for key in keys if key[:2] in rows]
        next_cursor = encode_cursor(keys[-1][2], keys[-1][1], keys[-1][3]) if more else None
        return {"sessions": sessions, "next_cursor": next_cursor}

    def _first_sessions(
        self, where: str, params: dict[str, Any], column: str, descending: bool, count: int
    ) -> list[tuple[str, bytes, Any, int]]:
        """(project, trace id, sort value, project key) of the first ``count`` sessions in the order,
        by their current rollups. Without ``FINAL`` first: the first rows of every version (a few
        columns, no merge of the parts), kept where they are their session's current version; a
        current rollup that sorts among them is among them, so the kept rows are the order's first
        sessions. Stale versions ahead of them (a start moved back, unmerged) widen the read; a
        session rolled up again between the two reads (its new version sorts among the rows but was
        not read) reads again. Past ``_WIDEST`` rows, or a third such race, it reads ``FINAL``."""
        direction = "DESC" if descending else "ASC"
        order = f"{column} {direction}, trace_id {direction}, project_key {direction}"
        select = f"SELECT project, trace_id, {column} AS sort_value, {PROJECT_KEY} AS project_key"
        read, races = 2 * count, 0
        while read <= _WIDEST and races < 3:
            rows = self._query(
                f"{select}, version FROM {{db}}.sessions WHERE {where} ORDER BY {order} LIMIT {read}", **params
            )
            current = self._current_versions(where, params, column, {row[1] for row in rows})
            complete = len(rows) < read
            read_rows = {(project, trace_id, version, value) for project, trace_id, value, _, version in rows}
            edge = (rows[-1][2], rows[-1][1], rows[-1][3]) if rows else None
            missed = (
                (project, trace_id, version, value) not in read_rows
                and (complete or ((value, trace_id, key) >= edge if descending else (value, trace_id, key) <= edge))
                for (project, trace_id), (version, value, key) in current.items()
            )
            if any(missed):
                races += 1
                continue
            kept, seen = [], set()
            for project, trace_id, value, key, version in rows:
                if (project, trace_id) not in seen and current.get((project, trace_id)) == (version, value, key):
                    seen.add((project, trace_id))
                    kept.append((project, trace_id, value, key))
            if len(kept) >= count or complete:
                return kept[:count]
            read *= 4
        return self._query(
            f"{select} FROM {{db}}.sessions FINAL WHERE {where} ORDER BY {order} LIMIT {count}", **params
        )

    def _current_versions(
        self, where: str, params: dict[str, Any], column: str, trace_ids: set[bytes]
    ) -> dict[tuple[str, bytes], tuple[int, Any, int]]:
        """(version, sort value, project key) of the current rollups of these sessions that pass ``where``."""
        if not trace_ids:
            return {}
        rows = self._query(
            f"SELECT project, trace_id, version, {column}, {PROJECT_KEY} FROM {{db}}.sessions FINAL"
            f" PREWHERE project IN {{projects:Array(String)}} AND trace_id {_in(trace_ids, 16)} WHERE {where}",
            **params,
        )
        return {(project, trace_id): (version, value, key) for project, trace_id, version, value, key in rows}

    def _rows_by_key(
        self, projects: list[str], keys: list[tuple[str, bytes]], columns: str
    ) -> dict[tuple[str, bytes], tuple]:
        """The current rows of these sessions (``columns`` start with project, trace_id), by key:
        ``PREWHERE`` on the primary key reads the other columns only in granules that hold them."""
        if not keys:
            return {}
        rows = self._query(
            f"SELECT {columns} FROM {{db}}.sessions FINAL"
            f" PREWHERE project IN {{projects:Array(String)}} AND trace_id {_in({k[1] for k in keys}, 16)}",
            projects=projects,
        )
        return {(row[0], row[1]): row for row in rows}

    def _resources(self, keys: set[bytes]) -> None:
        missing = [k for k in keys if k not in self._resource_cache]
        if not missing:
            return
        if len(self._resource_cache) > 10_000:
            self._resource_cache.clear()
        found = dict(
            self._query(
                f"SELECT key, any(body) AS body FROM {{db}}.resources WHERE key {_in(missing, 16)} GROUP BY key",
            )
        )
        for key in missing:
            body = found.get(key)
            self._resource_cache[key] = attributes_dict(Resource.FromString(body).attributes) if body else {}

    def export(self, projects: ProjectScope, trace_id: bytes) -> dict[str, Any] | None:
        row = self._find(projects, trace_id, f"{SUMMARY_COLUMNS}, video, resource_key")
        if row is None:
            return None
        ids = {"project": row[0], "trace": trace_id}
        logs: dict[bytes, list[dict[str, Any]]] = {}
        for span_id, body in self._query(
            "SELECT span_id, body FROM {db}.span_logs FINAL PREWHERE project = {project:String}"
            " AND trace_id = {trace:FixedString(16)} ORDER BY time_ns, span_id, digest",
            **ids,
        ):
            logs.setdefault(span_id, []).append(log_json(body, iso))
        spans = self._query(
            "SELECT kind, if(cost IS NULL, NULL, toString(cost)), resource_key, body FROM {db}.spans FINAL"
            " PREWHERE project = {project:String} AND trace_id = {trace:FixedString(16)} ORDER BY start_ns, span_id",
            **ids,
        )
        self._resources({row[-1], *(s[2] for s in spans)})
        cache = self._resource_cache
        shaped = (
            span_json(kind or None, None if cost is None else money(Decimal(cost)), body, cache.get(key, {}), logs)
            for kind, cost, key, body in spans
        )
        return meaning.export_json(self._summary(row), cache.get(row[-1], {}), row[-2], shaped)

    def overview(
        self, projects: ProjectScope, start_after_ns: int | None, start_before_ns: int | None, bucket: str | None
    ) -> dict[str, Any]:
        where, params = "project IN {projects:Array(String)}", {"projects": list(dict.fromkeys(projects))}
        if start_after_ns is not None:
            where += " AND init_ns >= {after:Int64}"
            params["after"] = start_after_ns
        if start_before_ns is not None:
            where += " AND init_ns < {before:Int64}"
            params["before"] = start_before_ns
        # One pass over the sessions, by hour of start: the totals and the buckets (whole hours) are
        # added up from these hours by meaning.overview_sums.
        rows = self._query(
            f"SELECT intDiv(init_ns, {meaning.HOUR_NS}) * {meaning.HOUR_NS} AS h, count(), toString(sum(cost)),"
            " sum(toInt128(llm_calls)), sum(toInt128(errors)), sum(toInt128(prompt_tokens)),"
            " sum(toInt128(completion_tokens)), sum(failed), min(init_ns), max(init_ns)"
            f" FROM {{db}}.sessions FINAL WHERE {where} GROUP BY h ORDER BY h",
            **params,
        )
        hours = [(h, n, Decimal(cost), *sums) for h, n, cost, *sums in rows]
        totals, bucket, buckets = meaning.overview_sums(hours, bucket)
        sat = lambda name: _SUM.format(name, MAX_COUNT)  # noqa: E731 - sums saturate like the columns
        # the LLM calls of the same sessions (by session start), so the costs add up to the total
        by_model = self._query(
            f"SELECT m, {sat('c')}, toString(sum(mc)), {sat('p')}, {sat('o')} FROM {{db}}.sessions FINAL"
            " ARRAY JOIN model_names AS m, model_calls AS c, model_costs AS mc,"
            f" model_prompt_tokens AS p, model_completion_tokens AS o WHERE {where} GROUP BY m",
            **params,
        )
        first = self._first_sessions(where, params, "cost_sort", True, 10)
        rows = self._rows_by_key(params["projects"], [key[:2] for key in first], SUMMARY_COLUMNS)
        top = [self._summary(rows[key[:2]]) for key in first if key[:2] in rows]
        return meaning.overview_json(totals, bucket, buckets, by_model, top, iso)


def client_options(url: str, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """``clickhouse_connect.get_client`` arguments and the database name for a store URL.

    ``chdb:///path/to/dir``: the engine in this process, its data in that directory;
    ``clickhouse://user:password@host:8123/database`` (HTTP, port 8123 by default) and
    ``clickhouses://...`` (HTTPS, 8443). The database defaults to ``agentops`` (a chdb URL names it
    with ``?database=``). Other query parameters and ``options`` go to ``get_client`` as they are
    (``?connect_timeout=5``, ``verify=false``, ``ca_cert=/path``...). ValueError for another scheme.
    """
    parts = urlsplit(url)
    params: dict[str, Any] = dict(parse_qsl(parts.query))
    params.update(options or {})
    scheme = parts.scheme.lower()
    if scheme == "chdb":
        path = unquote(parts.netloc + parts.path)
        if not path or path in ("memory", ":memory:"):
            raise ValueError("a chdb URL needs a directory: chdb:///path/to/dir")
        database = params.pop("database", DEFAULT_DATABASE)
        return {"interface": "chdb", "path": path, **params}, database
    if scheme in ("clickhouse", "clickhouses"):
        secure = scheme == "clickhouses"
        database = unquote(parts.path.strip("/")) or params.pop("database", DEFAULT_DATABASE)
        params.pop("database", None)
        try:
            port = parts.port or (8443 if secure else 8123)
        except ValueError:
            raise ValueError(f"bad port in the ClickHouse URL {parts.hostname}:...") from None
        server = {
            "host": parts.hostname or "localhost",
            "port": port,
            "username": unquote(parts.username or "default"),
            "password": unquote(parts.password or ""),
            "secure": secure,
        }
        return {**server, **params}, database
    raise ValueError(f"not a ClickHouse store URL (chdb://, clickhouse://, clickhouses://): {scheme!r}")


_ALL_USAGE = (1,) * len(_TOKEN_FIELDS)
_NO_TOKENS = (0,) * len(_TOKEN_FIELDS)
_NO_TAGS: tuple[str, ...] = ()


@functools.cache
def _contribution(kind: str | None, status_code: int, unpriced: bool) -> tuple[tuple[int, ...], bool]:
    """What one span of this kind, status and pricing adds to its session's counts (meaning.SessionTotals),
    and whether its usage counts, learnt from a span whose usage is all ones."""
    totals = SessionTotals()
    totals.add(kind, status_code, _ALL_USAGE, None if unpriced else Decimal(0))
    counts = totals.counts()
    return tuple(counts[name] for name in _COUNT_FIELDS), counts["prompt_tokens"] == 1


def _capped(cost_text: str) -> Decimal:
    cost = Decimal(cost_text)
    return cost if len(cost_text) < 40 or cost < MAX_COST else MAX_COST  # short text: far below the cap


def _columns(rows: list[tuple[int, ...]], width: int) -> list[list[int]]:
    """Rows of ``width`` values as ``width`` columns (no tuple per row: a group holds tens of thousands)."""
    return [[row[i] for row in rows] for i in range(width)]


def span_columns(groups: Iterable[tuple[str, list[SpanRecord]]]) -> list[list]:
    """The ``spans`` rows of each project's spans, column by column in :data:`SPAN_COLUMNS`' order
    (inserted so, without building a row per span): what meaning.py says each span counts for, in
    columns that SQL only adds up."""
    projects: list[str] = []
    records: list[SpanRecord] = []
    for project, spans in groups:
        projects += [project] * len(spans)
        records += spans
    contributions = [_contribution(r.kind, r.status_code, r.cost is None) for r in records]
    roots = [r.root for r in records]
    counts = _columns([c for c, _ in contributions], len(_COUNT_FIELDS))
    usage = _columns(
        [r.usage if counted else _NO_TOKENS for r, (_, counted) in zip(records, contributions, strict=True)],
        len(_TOKEN_FIELDS),
    )
    return [
        projects,
        [r.trace_id for r in records],
        [r.span_id for r in records],
        [r.start_ns for r in records],
        [r.end_ns for r in records],
        [r.kind or "" for r in records],
        [r.status_code for r in records],
        [NOT_ROOT if root is None else OUR_ROOT if root.ours else LOCAL_ROOT for root in roots],
        [root.end_state if root else "" for root in roots],
        [root.end_state_reason if root else None for root in roots],
        [root.tags if root else _NO_TAGS for root in roots],
        [root.video if root else None for root in roots],
        [(r.model or UNKNOWN_MODEL) if r.is_llm else "" for r in records],
        [None if r.cost_text is None else _capped(r.cost_text) for r in records],
        *counts,
        *usage,
        [r.resource_key for r in records],
        [r.body for r in records],
    ]
