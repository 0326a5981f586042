"""SQLite session store: spans plus a per-session rollup kept up to date on ingest.

One writer thread owns the write connection and commits queued batches together (group commit:
one transaction, one WAL sync for many requests); a request's future resolves only after its
commit, so an acknowledged span survives ``kill -9``. WAL checkpoints (copying pages back into the
database file, with an fsync) run in a checkpointer thread so they never hold up a commit.
Reads use one connection per reader thread (WAL lets them run beside the writer). Money is stored
as exact decimal TEXT, and beside it as integer units of 1e-12 USD where that is exact
(``cost_units``), which SQL sums natively; the rest is summed with Decimal functions registered on
each connection. ``cost_sort`` (REAL) only orders sessions.

Indexes are chosen for the write path: every random-keyed index costs a page write per session
per commit. Sessions have an index by start that covers the overview's sums (its entries of
recent sessions sit on the last pages), and one by cost (random-keyed: the page writes it costs
buy the list by cost); sorting by duration, tokens or errors scans the project's sessions. Cost by
model has an index by (project, model, start), appended per model.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path
from typing import Any

from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from agentops_otel import meaning
from agentops_otel import semconv as sc
from agentops_otel.collector.enrich import UNTRUSTED_KEYS, llm_enrichment
from agentops_otel.collector.format import MONEY_CONTEXT, add_money, iso, money, session_uuid
from agentops_otel.collector.ingest import PreparedBatch, SpanRecord
from agentops_otel.collector.otlp import attributes_dict, id_hex, set_any_value
from agentops_otel.collector.span_logs import LogBatch, SpanLog, log_json
from agentops_otel.collector.store.base import (
    STOP_WRITER,
    ListQuery,
    ProjectScope,
    StoredCounts,
    WriteResult,
    run_group_writer,
)
from agentops_otel.meaning import INACTIVE_AFTER_NS, INDETERMINATE, KIND_LLM, SessionTotals, saturated, usage_tuple
from agentops_otel.usage import MAX_COUNT, llm_model, normalised_usage

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (pid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS resources (key BLOB PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spans (
    seq INTEGER NOT NULL, span_id BLOB NOT NULL, start_ns INTEGER NOT NULL,
    kind TEXT, llm INTEGER NOT NULL, status_code INTEGER NOT NULL, cost TEXT,
    resource_key BLOB NOT NULL, body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS spans_key ON spans (seq, span_id);
CREATE TABLE IF NOT EXISTS sessions (
    pid INTEGER NOT NULL, trace_id BLOB NOT NULL, seq INTEGER NOT NULL,
    init_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL, end_ns INTEGER, duration_ns INTEGER NOT NULL,
    has_root INTEGER NOT NULL, end_state TEXT NOT NULL, end_state_reason TEXT, tags TEXT NOT NULL,
    video TEXT, resource_key BLOB,
    llm_calls INTEGER NOT NULL, tool_calls INTEGER NOT NULL, actions INTEGER NOT NULL,
    errors INTEGER NOT NULL, events INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL, cache_creation_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,
    cost TEXT NOT NULL, cost_sort REAL NOT NULL, models TEXT NOT NULL,
    unpriced_llm_calls INTEGER NOT NULL DEFAULT 0, cost_units INTEGER,
    PRIMARY KEY (pid, trace_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_tags (
    pid INTEGER NOT NULL, tag TEXT NOT NULL, init_ns INTEGER NOT NULL, trace_id BLOB NOT NULL,
    PRIMARY KEY (pid, tag, init_ns, trace_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS span_logs (
    pid INTEGER NOT NULL, trace_id BLOB NOT NULL, span_id BLOB NOT NULL, digest BLOB NOT NULL,
    time_ns INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (pid, trace_id, span_id, digest)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_models (
    seq INTEGER NOT NULL, model TEXT NOT NULL, calls INTEGER NOT NULL,
    cost TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cost_units INTEGER, pid INTEGER, init_ns INTEGER,
    PRIMARY KEY (seq, model)
) WITHOUT ROWID;
"""
# Created once the database has every column (an older one is upgraded first). sessions_by_init
# covers the overview (every column it sums, so a period is read from the index alone, in start
# order); an index of an older collector by that name is replaced on upgrade, and an older
# collector does not create it again. sessions_by_cost walks the sessions by cost.
# session_models_by_model covers the cost by model of a period: each model's rows of a project in
# start order (session_models.pid and init_ns are its session's, init_ns kept so by a trigger).
INDEXES = """
CREATE INDEX IF NOT EXISTS sessions_by_init ON sessions (
    pid, init_ns, trace_id, seq, llm_calls, errors, end_state, prompt_tokens, completion_tokens,
    cost_units, cost_sort, cost
);
CREATE INDEX IF NOT EXISTS sessions_by_cost ON sessions (pid, cost_sort, trace_id);
-- An older collector writing to this database updates cost, not cost_units: its sums then come
-- from the text (NULL units) rather than a stale number. This collector updates both together.
CREATE TRIGGER IF NOT EXISTS sessions_cost_units AFTER UPDATE OF cost ON sessions
WHEN new.cost_units IS NOT NULL AND new.cost_units IS old.cost_units AND new.cost IS NOT old.cost
BEGIN UPDATE sessions SET cost_units = NULL WHERE pid = new.pid AND trace_id = new.trace_id; END;
CREATE TRIGGER IF NOT EXISTS session_models_cost_units AFTER UPDATE OF cost ON session_models
WHEN new.cost_units IS NOT NULL AND new.cost_units IS old.cost_units AND new.cost IS NOT old.cost
BEGIN UPDATE session_models SET cost_units = NULL WHERE seq = new.seq AND model = new.model; END;
CREATE INDEX IF NOT EXISTS session_models_by_model ON session_models (
    pid, model, init_ns, calls, cost_units, prompt_tokens, completion_tokens, cost
);
CREATE TRIGGER IF NOT EXISTS session_models_init AFTER UPDATE OF init_ns ON sessions
WHEN new.init_ns IS NOT old.init_ns
BEGIN UPDATE session_models SET init_ns = new.init_ns WHERE seq = new.seq; END;
"""

INSERT_SPAN = (
    "INSERT INTO spans (seq, span_id, start_ns, kind, llm, status_code, cost, resource_key, body)"
    " VALUES (?,?,?,?,?,?,?,?,?)"
)
# Version 1: spans of other instrumentations classified (meaning.classify), unpriced LLM calls
# counted, a trace's local root ends its session (has_root 2). Version 2: costs also as integer
# units (cost_units), the overview's covering index, the index by cost. Version 3: session_models
# rows carry their session's pid and init_ns. Older databases are upgraded on open.
SCHEMA_VERSION = 3
# Money is exact decimal TEXT; cost_units holds the same cost in units of 1e-12 USD (per-token prices
# have at most a dozen decimals) when that is exact and fits in 64 bits, else NULL, so that SQL sums
# most costs natively and only the rest (NULL units) through Decimal.
UNITS_PER_USD = 10**12
# sessions.has_root: how the session ended, if it did
NOT_ENDED, OUR_ROOT, LOCAL_ROOT = 0, 1, 2
_SUMMED = (*meaning.SUMMED_FIELDS, "total_tokens")
_FROM_ROOT = ("end_state", "end_state_reason", "tags", "video", "resource_key")
_SESSION_COLUMNS = (
    "pid",
    "trace_id",
    "seq",
    "init_ns",
    "last_ns",
    "end_ns",
    "duration_ns",
    "has_root",
    *_FROM_ROOT,
    *_SUMMED,
    "cost",
    "cost_sort",
    "models",
    "cost_units",
)
# Units add up while both are known and the sum fits in 64 bits; else NULL (the sum is in the text).
_ADD_UNITS = (
    "CASE WHEN cost_units >= 0 AND excluded.cost_units >= 0"
    f" AND cost_units <= {MAX_COUNT} - excluded.cost_units THEN cost_units + excluded.cost_units END"
)
# Our session root always wins; a trace's local root counts only where ours has not arrived.
_TAKE_ROOT = f"(excluded.has_root = {OUR_ROOT} OR (excluded.has_root = {LOCAL_ROOT} AND has_root != {OUR_ROOT}))"
UPSERT_SESSION = (
    f"INSERT INTO sessions ({', '.join(_SESSION_COLUMNS)}) VALUES ({', '.join('?' * len(_SESSION_COLUMNS))})"
    " ON CONFLICT (pid, trace_id) DO UPDATE SET"
    " init_ns = min(init_ns, excluded.init_ns), last_ns = max(last_ns, excluded.last_ns),"
    f" end_ns = CASE WHEN {_TAKE_ROOT} THEN excluded.end_ns ELSE end_ns END,"
    f" duration_ns = coalesce(CASE WHEN {_TAKE_ROOT} THEN excluded.end_ns ELSE end_ns END,"
    " max(last_ns, excluded.last_ns)) - min(init_ns, excluded.init_ns),"
    f" has_root = CASE WHEN {_TAKE_ROOT} THEN excluded.has_root ELSE has_root END, "
    + ", ".join(f"{c} = CASE WHEN {_TAKE_ROOT} THEN excluded.{c} ELSE {c} END" for c in _FROM_ROOT[:-1])
    # The host of a session: its root's resource, else (not ended yet) its earliest span's.
    + f", resource_key = CASE WHEN {_TAKE_ROOT} THEN excluded.resource_key"
    f" WHEN has_root = {NOT_ENDED} AND excluded.init_ns < init_ns THEN excluded.resource_key"
    " ELSE resource_key END"
    + ", "
    + ", ".join(f"{c} = min({c} + excluded.{c}, {MAX_COUNT})" for c in _SUMMED)  # saturate, never overflow
    + ", cost = add_money(cost, excluded.cost), cost_sort = CAST(add_money(cost, excluded.cost) AS REAL),"
    f" cost_units = {_ADD_UNITS}, models = merge_models(models, excluded.models)"
)
# Per session and model (keyed by the session's seq: appended, like spans), so that cost by model
# is over the same sessions, by their start, as every other overview figure.
# A new row takes its session's start as stored (after the session's upsert); a None pid leaves
# the row to be placed later (_place_session_models).
UPSERT_MODEL = (
    "INSERT INTO session_models (seq, model, calls, cost, prompt_tokens, completion_tokens, cost_units, pid, init_ns)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT init_ns FROM sessions WHERE pid = ?8 AND trace_id = ?9))"
    " ON CONFLICT (seq, model) DO UPDATE SET calls = calls + excluded.calls,"
    f" cost = add_money(cost, excluded.cost), cost_units = {_ADD_UNITS},"
    f" prompt_tokens = min(prompt_tokens + excluded.prompt_tokens, {MAX_COUNT}),"
    f" completion_tokens = min(completion_tokens + excluded.completion_tokens, {MAX_COUNT})"
)
SUMMARY_COLUMNS = (
    "trace_id, init_ns, last_ns, end_ns, duration_ns, has_root, end_state, end_state_reason, tags, "
    + ", ".join(_SUMMED)
    + ", cost, models"
)
SORT_COLUMNS = {
    "init_timestamp": "init_ns",
    "cost": "cost_sort",
    "duration": "duration_ns",
    "tokens": "total_tokens",
    "errors": "errors",
}
FAILED = "(end_state = 'Failure' OR errors > 0)"  # a failed session, for the error rates
UNKNOWN_MODEL = "(unknown)"
SPAN_KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


class _MoneySum:
    """SQLite aggregate: exact sum of decimal TEXT values."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value:
            self.total = MONEY_CONTEXT.add(self.total, Decimal(value))

    def finalize(self) -> str:
        return money(self.total)


class _CountSum:
    """SQLite aggregate: a sum of counts that saturates at MAX_COUNT like the per-session columns it
    adds up (SQLite's sum() raises "integer overflow" past 2**63 - 1, for every query after)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int | None) -> None:
        if value:
            self.total += value

    def finalize(self) -> int:
        return saturated(self.total)


def merge_models(old: str, new: str) -> str:
    """SQLite function: union of two JSON lists of model names, sorted."""
    if new == "[]":
        return old
    return json.dumps(sorted(set(json.loads(old)) | set(json.loads(new))))


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
    conn.execute(f"PRAGMA mmap_size={4 * 2**30}")  # pages read straight from the mapped file, no pread copies
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.create_function("add_money", 2, add_money, deterministic=True)
    conn.create_function("merge_models", 2, merge_models, deterministic=True)
    conn.create_function("cost_units", 1, cost_units, deterministic=True)
    conn.create_aggregate("sum_money", 1, _MoneySum)
    conn.create_aggregate("sum_count", 1, _CountSum)
    return conn


class StoreLocked(RuntimeError):
    """Another collector process already writes this database."""


def _lock(path: Path):
    """Hold an exclusive lock beside the database while this store is open.

    Session sequence numbers and the write caches assume one writing process per database.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one collector per data directory is on the user
        return None
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 - held until close()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StoreLocked(f"another collector is already using {path}") from None
    return handle


class _Rollup:
    """Per-session deltas of one batch (only spans stored for the first time count)."""

    __slots__ = ("end_ns", "init_ns", "last_ns", "models", "resource_key", "root", "totals")

    def __init__(self, record: SpanRecord) -> None:
        self.init_ns = record.start_ns
        self.last_ns = record.end_ns
        self.end_ns: int | None = None
        self.root: meaning.RootInfo | None = None
        self.resource_key = record.resource_key
        self.totals = SessionTotals()
        self.models: dict[str, list] = {}  # model -> [calls, cost, prompt tokens, completion tokens]

    def add(self, r: SpanRecord) -> None:
        if self.root is None and r.start_ns < self.init_ns:
            self.resource_key = r.resource_key  # not ended yet: the earliest span's host
        self.init_ns = min(self.init_ns, r.start_ns)
        self.last_ns = max(self.last_ns, r.end_ns)
        root = r.root
        if root is not None and (root.ours or self.root is None or not self.root.ours):
            self.root = root
            self.end_ns = r.end_ns
            self.resource_key = r.resource_key
        self.totals.add(r.kind, r.status_code, r.usage, r.cost)
        if r.is_llm:
            usage = r.usage
            cost = r.cost if r.cost is not None else Decimal(0)
            key = r.model or UNKNOWN_MODEL
            model = self.models.get(key)
            if model is None:
                model = self.models[key] = [0, Decimal(0), 0, 0]
            model[0] += 1
            model[1] = MONEY_CONTEXT.add(model[1], cost)
            model[2] += usage[0]
            model[3] += usage[1]

    def session_row(self, pid: int, trace_id: bytes, seq: int) -> tuple:
        root = self.root
        duration = (self.end_ns if self.end_ns is not None else self.last_ns) - self.init_ns
        totals = self.totals
        cost = money(totals.cost)
        counts = totals.counts()
        counts["total_tokens"] = min(totals.prompt_tokens + totals.completion_tokens, MAX_COUNT)
        return (
            pid,
            trace_id,
            seq,
            self.init_ns,
            self.last_ns,
            self.end_ns,
            duration,
            NOT_ENDED if root is None else OUR_ROOT if root.ours else LOCAL_ROOT,
            root.end_state if root else INDETERMINATE,
            root.end_state_reason if root else None,
            json.dumps(root.tags if root else []),
            root.video if root else None,
            self.resource_key,
            *[counts[c] for c in _SUMMED],
            cost,
            float(cost),
            json.dumps(sorted(self.models)),
            cost_units(cost),
        )


_UNPLACED = "SELECT 1 FROM session_models WHERE pid IS NULL LIMIT 1"  # found in session_models_by_model


def _place_session_models(conn: sqlite3.Connection) -> None:
    """Give the rows of cost by model without a project (an older collector's, or all of them on
    upgrade) their session's project and start: one pass over the sessions."""
    if conn.execute(_UNPLACED).fetchone() is None:
        return
    sessions = conn.execute("SELECT pid, init_ns, seq FROM sessions").fetchall()
    conn.executemany("UPDATE session_models SET pid = ?, init_ns = ? WHERE seq = ? AND pid IS NULL", sessions)


def _model_row(seq: int, model: str, counts: list, pid: int | None, trace_id: bytes | None) -> tuple:
    """UPSERT_MODEL's values for a session's [calls, cost, prompt tokens, completion tokens] of a model."""
    calls, cost, prompt, completion = counts
    text = money(cost)
    return (
        *(seq, model, calls, text, min(prompt, MAX_COUNT), min(completion, MAX_COUNT), cost_units(text)),
        *(pid, trace_id),
    )


def cost_units(cost: str) -> int | None:
    """A cost (exact decimal text) in :data:`UNITS_PER_USD`, or None when it is not a whole number of
    them or does not fit in 0 ... 2**63 - 1."""
    units = MONEY_CONTEXT.multiply(Decimal(cost), UNITS_PER_USD)
    if not 0 <= units <= MAX_COUNT or units != units.to_integral_value():
        return None
    return int(units)


_COST_KEYS = (sc.GEN_AI_USAGE_COST, sc.COST_INPUT, sc.COST_OUTPUT, sc.COST_SOURCE)


def _restored(
    span_id: bytes, old_kind: str | None, old_llm: int, old_cost: str | None, resource_key: bytes, body: bytes, trace_id
) -> tuple[SpanRecord, tuple | None]:
    """A stored span as today's ingest would record it, and its row's new (kind, llm, cost, body) if
    that changed. The span's stored cost is kept when it is still priced."""
    span = Span.FromString(body)
    attrs = attributes_dict(span.attributes)
    sent = {key: value for key, value in attrs.items() if key not in UNTRUSTED_KEYS}  # as a client sent it
    kind = meaning.classify(sent)
    found = llm_enrichment(sent) if kind == KIND_LLM else None
    cost_text = old_cost if found is not None and found.cost is not None and old_cost is not None else None
    if found is not None and cost_text is None and found.cost is not None:
        cost_text = money(found.cost)
    update = None
    if kind != old_kind or (kind == KIND_LLM) != bool(old_llm) or cost_text != old_cost:
        if found is not None and cost_text != old_cost:  # the cost attributes of today's rule
            keep = [kv for kv in span.attributes if kv.key not in _COST_KEYS]
            del span.attributes[:]
            span.attributes.extend(keep)
            for key, value in found.attributes().items():
                if cost_text is not None and key in _COST_KEYS and key != sc.COST_SOURCE:
                    continue  # no cost attribute changes where the stored cost is kept
                kv = next((kv for kv in span.attributes if kv.key == key), None) or span.attributes.add(key=key)
                set_any_value(kv.value, value)
            body = span.SerializeToString()
        update = (kind, kind == KIND_LLM, cost_text, body)
    model = llm_model(sent) if found is not None else None
    usage = usage_tuple(found.usage) if found is not None else meaning.NO_USAGE
    return _record(trace_id, span_id, span, kind, cost_text, resource_key, body, model, usage, attrs), update


class SQLiteStore:
    """The embedded store. ``path`` is the database file (created with its schema if missing)."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", max_pending: int = 256) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock(self.path)
        self._synchronous = synchronous.upper()
        self._conn = _connect(self.path, self._synchronous)
        self._conn.executescript(SCHEMA)
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            self._upgrade(version)
        elif self._table_exists("model_usage"):  # an older collector wrote to the database since
            self._rebuild_session_models()
        self._conn.executescript(INDEXES)
        if self._conn.execute(_UNPLACED).fetchone():  # rows an older collector wrote since
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                _place_session_models(self._conn)
        self._pids: dict[str, int] = dict(
            (name, pid) for pid, name in self._conn.execute("SELECT pid, name FROM projects")
        )
        self._known_resources: set[bytes] = set()
        self._seq_cache: dict[tuple[int, bytes], int] = {}
        self._next_seq: int = self._conn.execute("SELECT coalesce(max(seq), 0) FROM sessions").fetchone()[0]
        self._queue: queue.Queue = queue.Queue(max_pending)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._resource_cache: dict[bytes, dict[str, Any]] = {}
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        self._conn.execute(f"PRAGMA journal_size_limit={64 * 2**20}")
        self._committed = threading.Event()
        self._closing = threading.Event()
        self._writer = threading.Thread(target=self._run_writer, name="agentops-sqlite-writer", daemon=True)
        self._writer.start()
        self._checkpointer = threading.Thread(target=self._run_checkpointer, name="agentops-sqlite-ckpt", daemon=True)
        self._checkpointer.start()

    def _table_exists(self, name: str) -> bool:
        found = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return found.fetchone() is not None

    def _rebuild_session_models(self) -> None:
        """Per-session model usage from the stored LLM spans (their enriched attributes), in place of
        the hourly model_usage table. One transaction, which drops that table last: interrupted, it runs
        again at the next start; rebuilt from scratch, so nothing is counted twice (not even after an
        older collector has written to the database since)."""
        started = time.monotonic()
        conn = self._conn
        usage: dict[tuple[int, str], list] = {}

        def flush() -> None:  # the upsert adds up: a session's spans may be flushed in several goes
            conn.executemany(
                UPSERT_MODEL,
                [_model_row(seq, model, counts, None, None) for (seq, model), counts in usage.items()],
            )
            usage.clear()

        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM session_models")
            for seq, cost, body in conn.execute("SELECT seq, cost, body FROM spans WHERE llm = 1"):
                attrs = attributes_dict(Span.FromString(body).attributes)
                counts = usage.setdefault((seq, llm_model(attrs) or UNKNOWN_MODEL), [0, Decimal(0), 0, 0])
                counts[0] += 1
                counts[1] = MONEY_CONTEXT.add(counts[1], Decimal(cost or 0))
                for i, key in ((2, sc.GEN_AI_USAGE_INPUT_TOKENS), (3, sc.GEN_AI_USAGE_OUTPUT_TOKENS)):
                    value = attrs.get(key)
                    counts[i] += value if isinstance(value, int) and not isinstance(value, bool) else 0
                if len(usage) >= 10_000:  # memory bounded, however many sessions are stored
                    flush()
            flush()
            _place_session_models(conn)
            conn.execute("DROP TABLE model_usage")
            sessions = conn.execute("SELECT count(DISTINCT seq) FROM session_models").fetchone()[0]
        logger.info(
            "agentops-otel collector: cost by model of %d stored sessions rebuilt in %.1f s",
            sessions,
            time.monotonic() - started,
        )

    def _upgrade(self, version: int) -> None:
        """Bring a database of an older collector to :data:`SCHEMA_VERSION`, in one transaction
        (interrupted, it runs again at the next start).

        From version 0, each stored span is classified again from its attributes (other
        instrumentations' LLM, tool and agent spans had no kind; an LLM call without usage was priced
        0 or not counted), a span that became an LLM call gets the cost attributes of one, and every
        session's rollup and cost by model is computed again from its spans. Costs already stored are
        kept (not re-priced). From version 1, the stored costs are also written as units, and the
        index of sessions by start is replaced by the covering one (:data:`INDEXES`). From version
        2, each session's rows of cost by model get its project and start.
        """
        started = time.monotonic()
        conn = self._conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for table, column, kind in (
                ("sessions", "unpriced_llm_calls", "INTEGER NOT NULL DEFAULT 0"),
                ("sessions", "cost_units", "INTEGER"),
                ("session_models", "cost_units", "INTEGER"),
                ("session_models", "pid", "INTEGER"),
                ("session_models", "init_ns", "INTEGER"),
            ):
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if version < 2:
                conn.execute("DROP INDEX IF EXISTS sessions_by_init")  # INDEXES creates it again, covering
            sessions = conn.execute("SELECT pid, trace_id, seq FROM sessions ORDER BY seq").fetchall()
            if sessions:  # a million sessions take minutes: say so before, not only after
                logger.info(
                    "agentops-otel collector: upgrading %d stored sessions from schema %d to %d ...",
                    len(sessions),
                    version,
                    SCHEMA_VERSION,
                )
            if version < 1:
                conn.execute("DELETE FROM session_models")
                for pid, trace_id, seq in sessions:
                    self._upgrade_session(pid, trace_id, seq)
                conn.execute("DROP TABLE IF EXISTS model_usage")
            elif version < 2:
                conn.execute("UPDATE sessions SET cost_units = cost_units(cost)")
                conn.execute("UPDATE session_models SET cost_units = cost_units(cost)")
            _place_session_models(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.executescript(INDEXES)  # after the commit: interrupted, the next start creates them
        if sessions:
            logger.info(
                "agentops-otel collector: %d stored sessions upgraded to schema %d in %.1f s",
                len(sessions),
                SCHEMA_VERSION,
                time.monotonic() - started,
            )

    def _upgrade_session(self, pid: int, trace_id: bytes, seq: int) -> None:
        conn = self._conn
        rollup: _Rollup | None = None
        changed: list[tuple] = []
        rows = conn.execute(
            "SELECT span_id, kind, llm, cost, resource_key, body FROM spans WHERE seq = ?", (seq,)
        ).fetchall()
        for span_id, old_kind, old_llm, old_cost, resource_key, body in rows:
            record, update = _restored(span_id, old_kind, old_llm, old_cost, resource_key, body, trace_id)
            if update is not None:
                changed.append((*update, seq, span_id))
            if rollup is None:
                rollup = _Rollup(record)
            rollup.add(record)
        if changed:
            conn.executemany(
                "UPDATE spans SET kind = ?, llm = ?, cost = ?, body = ? WHERE seq = ? AND span_id = ?", changed
            )
        if rollup is None:
            return
        conn.execute(
            f"INSERT OR REPLACE INTO sessions ({', '.join(_SESSION_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(_SESSION_COLUMNS))})",
            rollup.session_row(pid, trace_id, seq),
        )
        conn.executemany(
            UPSERT_MODEL,
            [_model_row(seq, model, counts, pid, trace_id) for model, counts in rollup.models.items()],
        )

    # --- writing ---------------------------------------------------------------------------

    def write_logs(self, batch: LogBatch) -> Future[WriteResult]:
        """Queue log records of spans (re-sent ones are stored once); raises ``queue.Full`` like :meth:`write`."""
        future: Future[WriteResult] = Future()
        self._queue.put_nowait((batch, future))
        return future

    def _write_logs(self, batch: LogBatch) -> WriteResult:
        pid = self._pid(batch.project_id)
        rows = [
            (pid, log.trace_id, log.span_id, hashlib.blake2b(log.body, digest_size=16).digest(), log.time_ns, log.body)
            for log in batch.logs
        ]
        before = self._conn.total_changes
        self._conn.executemany(
            "INSERT OR IGNORE INTO span_logs (pid, trace_id, span_id, digest, time_ns, body) VALUES (?,?,?,?,?,?)",
            rows,
        )
        return WriteResult(accepted=len(rows), new=self._conn.total_changes - before)

    def write(self, batch: PreparedBatch) -> Future[WriteResult]:
        """Queue ``batch``; raises ``queue.Full`` when the writer is too far behind (back-pressure)."""
        future: Future[WriteResult] = Future()
        self._queue.put_nowait((batch, future))
        return future

    def _run_writer(self) -> None:
        run_group_writer(self._queue, self._commit)

    def _run_checkpointer(self) -> None:
        conn = _connect(self.path, self._synchronous)
        try:
            while not self._closing.is_set():
                if self._committed.wait(timeout=1.0):
                    self._committed.clear()
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error:
                        logger.exception("agentops-otel collector: WAL checkpoint failed")
                    self._closing.wait(2.0)  # rarely: a page rewritten many times is copied back once
        finally:
            conn.close()

    def _commit(self, items: list) -> None:
        conn = self._conn
        results: list = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for batch, _ in items:
                conn.execute("SAVEPOINT batch")
                try:
                    write = self._write_logs if isinstance(batch, LogBatch) else self._write_batch
                    results.append(write(batch))
                    conn.execute("RELEASE batch")
                except Exception as exc:  # one bad batch must not fail its neighbours
                    conn.execute("ROLLBACK TO batch")
                    conn.execute("RELEASE batch")
                    logger.exception("agentops-otel collector: storing a batch failed")
                    results.append(exc)
                    self._reload_caches()  # what it cached was rolled back (a project rowid another may reuse)
            conn.execute("COMMIT")
            self._committed.set()
        except Exception as exc:
            logger.exception("agentops-otel collector: commit failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._reload_caches()
            results = [exc] * len(items)
        for (_, future), result in zip(items, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _reload_caches(self) -> None:
        """After a rollback: the writer's caches hold only what the database (this transaction) holds."""
        self._pids = dict((name, pid) for pid, name in self._conn.execute("SELECT pid, name FROM projects"))
        self._known_resources.clear()
        self._seq_cache.clear()

    def _pid(self, project_id: str) -> int:
        pid = self._pids.get(project_id)
        if pid is None:
            self._conn.execute("INSERT OR IGNORE INTO projects (name) VALUES (?)", (project_id,))
            pid = self._conn.execute("SELECT pid FROM projects WHERE name = ?", (project_id,)).fetchone()[0]
            self._pids[project_id] = pid
        return pid

    def _write_batch(self, batch: PreparedBatch) -> WriteResult:
        conn = self._conn
        pid = self._pid(batch.project_id)
        new_resources = [(k, v) for k, v in batch.resources.items() if k not in self._known_resources]
        if new_resources:
            conn.executemany("INSERT OR IGNORE INTO resources (key, body) VALUES (?, ?)", new_resources)
        records = batch.spans
        seqs = self._seqs_for(pid, {r.trace_id for r in records})
        rows = [
            (
                seqs[r.trace_id],
                r.span_id,
                r.start_ns,
                r.kind,
                r.is_llm,
                r.status_code,
                r.cost_text,
                r.resource_key,
                r.body,
            )
            for r in records
        ]
        conn.execute("SAVEPOINT spans")
        try:
            conn.executemany(INSERT_SPAN, rows)
            conn.execute("RELEASE spans")
        except sqlite3.IntegrityError:  # re-sent spans: keep only those not stored yet
            conn.execute("ROLLBACK TO spans")
            conn.execute("RELEASE spans")
            records, rows = self._only_new(records, rows)
            conn.executemany(INSERT_SPAN, rows)
        self._known_resources.update(k for k, _ in new_resources)
        self._roll_up(pid, seqs, records)
        return WriteResult(accepted=len(batch.spans), new=len(records))

    def _seqs_for(self, pid: int, trace_ids: set[bytes]) -> dict[bytes, int]:
        """Each session's sequence number, given in order of first sight.

        Spans are keyed by (seq, span id) rather than by the random trace id: the spans of recent
        sessions then land on the last pages of the key index instead of all over it, so a commit
        writes a few pages per batch instead of one per session.
        """
        cache, found = self._seq_cache, {}
        for trace_id in trace_ids:
            seq = cache.get((pid, trace_id))
            if seq is None:
                row = self._conn.execute(
                    "SELECT seq FROM sessions WHERE pid = ? AND trace_id = ?", (pid, trace_id)
                ).fetchone()
                if row is not None:
                    seq = row[0]
                else:  # numbers of a rolled-back batch are never reused: gaps are harmless
                    self._next_seq += 1
                    seq = self._next_seq
                if len(cache) >= 200_000:  # recent sessions are the ones still receiving spans
                    cache.clear()
                cache[(pid, trace_id)] = seq
            found[trace_id] = seq
        return found

    def _only_new(self, records: list[SpanRecord], rows: list[tuple]) -> tuple[list, list]:
        seen: set[tuple[int, bytes]] = set()
        keep_records, keep_rows = [], []
        exists = "SELECT 1 FROM spans WHERE seq = ? AND span_id = ?"
        for record, row in zip(records, rows, strict=True):
            key = (row[0], record.span_id)
            if key in seen or self._conn.execute(exists, key).fetchone():
                continue
            seen.add(key)
            keep_records.append(record)
            keep_rows.append(row)
        return keep_records, keep_rows

    def _roll_up(self, pid: int, seqs: dict[bytes, int], records: list[SpanRecord]) -> None:
        rollups: dict[bytes, _Rollup] = {}
        for record in records:
            rollup = rollups.get(record.trace_id)
            if rollup is None:
                rollup = rollups[record.trace_id] = _Rollup(record)
            rollup.add(record)
        conn = self._conn
        conn.executemany(UPSERT_SESSION, [r.session_row(pid, t, seqs[t]) for t, r in rollups.items()])
        usage = [
            _model_row(seqs[trace_id], model, counts, pid, trace_id)
            for trace_id, rollup in rollups.items()
            for model, counts in rollup.models.items()
        ]
        if usage:
            conn.executemany(UPSERT_MODEL, usage)
        # Tags come only with the root span, which is stored once: they are written once per session.
        tags = [
            (pid, tag, rollup.init_ns, trace_id)
            for trace_id, rollup in rollups.items()
            if rollup.root is not None
            for tag in rollup.root.tags
        ]
        if tags:
            conn.executemany("INSERT OR IGNORE INTO session_tags (pid, tag, init_ns, trace_id) VALUES (?,?,?,?)", tags)

    def close(self) -> None:
        self._queue.put(STOP_WRITER)
        self._writer.join(timeout=30)
        self._closing.set()
        self._checkpointer.join(timeout=30)
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()
        if self._lock_file is not None:
            self._lock_file.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # --- reading ---------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._synchronous)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @staticmethod
    def _scope(conn: sqlite3.Connection, projects: ProjectScope) -> dict[int, str]:
        """``{pid: project id}`` of the projects in scope that have stored anything, in scope order."""
        names = list(dict.fromkeys(projects))
        if not names:
            return {}
        found = dict(conn.execute(f"SELECT name, pid FROM projects WHERE name IN ({_marks(names)})", names).fetchall())
        return {found[name]: name for name in names if name in found}

    def _find(
        self, conn: sqlite3.Connection, scope: dict[int, str], trace_id: bytes, columns: str
    ) -> sqlite3.Row | None:
        """The session's row in the earliest project of the scope that has it."""
        if not scope:
            return None
        rows = conn.execute(
            f"SELECT {columns}, pid FROM sessions WHERE trace_id = ? AND pid IN ({_marks(scope)})",
            (trace_id, *scope),
        ).fetchall()
        order = list(scope)
        return min(rows, key=lambda row: order.index(row["pid"]), default=None)

    @staticmethod
    def _summary(row: sqlite3.Row, project_id: str) -> dict[str, Any]:
        stored = meaning.SessionRow(
            session_id=session_uuid(row["trace_id"]),
            project_id=project_id,
            init_ns=row["init_ns"],
            last_ns=row["last_ns"],
            end_ns=row["end_ns"],
            duration_ns=row["duration_ns"],
            ended=row["has_root"] != NOT_ENDED,
            end_state=row["end_state"],
            end_state_reason=row["end_state_reason"],
            tags=json.loads(row["tags"]),
            counts={name: row[name] for name in meaning.SUMMED_FIELDS},
            cost=row["cost"],
            models=json.loads(row["models"]),
        )
        return meaning.summary_json(stored, time.time_ns(), iso)

    def session(self, projects: ProjectScope, trace_id: bytes) -> dict[str, Any] | None:
        conn = self._reader()
        scope = self._scope(conn, projects)
        row = self._find(conn, scope, trace_id, SUMMARY_COLUMNS)
        return None if row is None else self._summary(row, scope[row["pid"]])

    def list_sessions(self, projects: ProjectScope, query: ListQuery) -> dict[str, Any]:
        position = decode_cursor(query.cursor) if query.cursor else None  # a bad one is an error, data or not
        conn = self._reader()
        scope = self._scope(conn, projects)
        if not scope:
            return {"sessions": [], "next_cursor": None}
        pids, in_scope = list(scope), _marks(scope)  # one project: SQLite reads "pid IN (?)" as "pid = ?"
        tags = list(query.tags)
        if tags and query.sort == "init_timestamp":
            # newest first within a tag: walk the tag's (tag, init_ns) index, no scan
            source = "session_tags t JOIN sessions s ON s.pid = t.pid AND s.trace_id = t.trace_id"
            column, key, tiebreak = "t.init_ns", "t.trace_id", "t.pid"
            where, params = [f"t.pid IN ({in_scope})", "t.tag = ?"], [*pids, tags.pop(0)]
            for tag in tags:
                where.append(
                    "EXISTS (SELECT 1 FROM session_tags o WHERE o.pid = t.pid AND o.tag = ?"
                    " AND o.init_ns = t.init_ns AND o.trace_id = t.trace_id)"
                )
                params.append(tag)
            time_column = "t.init_ns"
        else:
            source, column, key, tiebreak = "sessions s", f"s.{SORT_COLUMNS[query.sort]}", "s.trace_id", "s.pid"
            where, params = [f"s.pid IN ({in_scope})"], [*pids]
            for tag in tags:
                where.append(
                    f"(s.pid, s.trace_id) IN (SELECT pid, trace_id FROM session_tags WHERE pid IN ({in_scope})"
                    " AND tag = ?)"
                )
                params += [*pids, tag]
            time_column = "s.init_ns"
        if query.end_state in (meaning.RUNNING, meaning.INACTIVE):  # meaning.session_state, in SQL
            op = ">=" if query.end_state == meaning.RUNNING else "<"
            where.append(f"s.has_root = {NOT_ENDED} AND s.last_ns {op} ?")
            params.append(time.time_ns() - INACTIVE_AFTER_NS)
        elif query.end_state:
            where.append(f"s.has_root != {NOT_ENDED} AND s.end_state = ?")
            params.append(query.end_state)
        if query.start_after_ns is not None:
            where.append(f"{time_column} >= ?")
            params.append(query.start_after_ns)
        if query.start_before_ns is not None:
            where.append(f"{time_column} < ?")
            params.append(query.start_before_ns)
        if position is not None:
            value, trace_id, after_pid = position
            op = "<" if query.descending else ">"
            if after_pid is None:  # a cursor from before reads took several projects
                where.append(f"({column} {op} ? OR ({column} = ? AND {key} {op} ?))")
                params += [value, value, trace_id]
            else:
                where.append(
                    f"({column} {op} ? OR ({column} = ? AND ({key} {op} ? OR ({key} = ? AND {tiebreak} {op} ?))))"
                )
                params += [value, value, trace_id, trace_id, after_pid]
        direction = "DESC" if query.descending else "ASC"
        columns = ", ".join(f"s.{c.strip()}" for c in SUMMARY_COLUMNS.split(","))
        rows = conn.execute(
            f"SELECT {columns}, s.pid AS pid, {column} AS sort_value FROM {source} WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {direction}, {key} {direction}, {tiebreak} {direction} LIMIT ?",
            (*params, query.limit + 1),
        ).fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        sessions = [self._summary(r, scope[r["pid"]]) for r in rows]
        last = rows[-1] if more else None
        next_cursor = encode_cursor(last["sort_value"], last["trace_id"], last["pid"]) if last is not None else None
        return {"sessions": sessions, "next_cursor": next_cursor}

    def _resource(self, conn: sqlite3.Connection, key: bytes | None) -> dict[str, Any]:
        if key is None:
            return {}
        cached = self._resource_cache.get(key)
        if cached is None:
            row = conn.execute("SELECT body FROM resources WHERE key = ?", (key,)).fetchone()
            cached = attributes_dict(Resource.FromString(row[0]).attributes) if row else {}
            if len(self._resource_cache) > 10_000:
                self._resource_cache.clear()
            self._resource_cache[key] = cached
        return cached

    def export(self, projects: ProjectScope, trace_id: bytes) -> dict[str, Any] | None:
        conn = self._reader()
        scope = self._scope(conn, projects)
        row = self._find(conn, scope, trace_id, f"{SUMMARY_COLUMNS}, video, resource_key, seq")
        if row is None:
            return None
        logs = self._logs(conn, row["pid"], trace_id)
        spans = (
            self._span_json(conn, r, logs)
            for r in conn.execute(
                "SELECT kind, cost, resource_key, body FROM spans WHERE seq = ? ORDER BY start_ns, span_id",
                (row["seq"],),
            )
        )
        host_env = self._resource(conn, row["resource_key"])
        return meaning.export_json(self._summary(row, scope[row["pid"]]), host_env, row["video"], spans)

    def _logs(self, conn: sqlite3.Connection, pid: int, trace_id: bytes) -> dict[bytes, list[dict[str, Any]]]:
        """The session's log records (signals.py), by span id, in time order."""
        found: dict[bytes, list[dict[str, Any]]] = {}
        for span_id, body in conn.execute(
            "SELECT span_id, body FROM span_logs WHERE pid = ? AND trace_id = ? ORDER BY time_ns", (pid, trace_id)
        ):
            found.setdefault(span_id, []).append(log_json(body, iso))
        return found

    def _span_json(
        self, conn: sqlite3.Connection, row: sqlite3.Row, logs: dict[bytes, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        return span_json(row["kind"], row["cost"], row["body"], self._resource(conn, row["resource_key"]), logs)

    def overview(
        self, projects: ProjectScope, start_after_ns: int | None, start_before_ns: int | None, bucket: str | None
    ) -> dict[str, Any]:
        conn = self._reader()
        scope = self._scope(conn, projects)
        pids = list(scope) or [-1]  # no pid is negative: an empty scope matches nothing
        where, params = f"s.pid IN ({_marks(pids)})", [*pids]
        if start_after_ns is not None:
            where += " AND s.init_ns >= ?"
            params.append(start_after_ns)
        if start_before_ns is not None:
            where += " AND s.init_ns < ?"
            params.append(start_before_ns)
        try:
            hours, by_model = _overview_sums(conn, pids, where, params)
        except sqlite3.OperationalError as exc:  # a native sum past 64 bits: the saturating, exact one
            if "overflow" not in str(exc):
                raise
            hours, by_model = _overview_sums_exact(conn, where, params)
        totals, bucket, buckets = meaning.overview_sums(hours, bucket)
        order = "ORDER BY cost_sort DESC, trace_id DESC, pid DESC"
        columns = ", ".join(f"s.{c.strip()}" for c in SUMMARY_COLUMNS.split(","))
        top_rows = conn.execute(  # the ten picked from the covering index, then only they are read
            f"SELECT {columns}, s.pid AS pid FROM (SELECT pid, trace_id FROM sessions s WHERE {where} {order} LIMIT 10)"
            f" AS top CROSS JOIN sessions s ON s.pid = top.pid AND s.trace_id = top.trace_id"
            " ORDER BY s.cost_sort DESC, s.trace_id DESC, s.pid DESC",
            params,
        ).fetchall()
        top = [self._summary(r, scope[r["pid"]]) for r in top_rows]
        return meaning.overview_json(totals, bucket, buckets, by_model, top, iso)

    # --- reading everything back (agentops-otel migrate) -----------------------------------

    def projects(self) -> list[str]:
        conn = self._reader()
        return [name for (name,) in conn.execute("SELECT name FROM projects ORDER BY name")]

    def counts(self, project_id: str) -> StoredCounts:
        conn = self._reader()
        pid = next(iter(self._scope(conn, (project_id,))), None)
        if pid is None:
            return StoredCounts(0, 0, 0)
        sessions, spans = conn.execute(
            "SELECT count(DISTINCT s.trace_id), count(p.seq) FROM sessions s LEFT JOIN spans p ON p.seq = s.seq"
            " WHERE s.pid = ?",
            (pid,),
        ).fetchone()
        (logs,) = conn.execute("SELECT count(*) FROM span_logs WHERE pid = ?", (pid,)).fetchone()
        return StoredCounts(spans=spans, sessions=sessions, logs=logs)

    def read_spans(self, after: str | None, max_spans: int) -> Iterator[tuple[PreparedBatch, str]]:
        """Sessions in key order (project, trace id), each one's spans in the order they were stored; a
        position is the last span given, as ``[pid, trace id, span rowid]``."""
        conn = self._reader()
        names = dict(conn.execute("SELECT pid, name FROM projects"))
        pid, trace_id, rowid = _position(after, 1, rowid=True) if after else (-1, b"", None)
        resources: dict[bytes, bytes] = {}
        batch: PreparedBatch | None = None
        position = after or ""
        while True:
            sessions = conn.execute(
                "SELECT pid, trace_id, seq FROM sessions WHERE (pid, trace_id) >= (?, ?)"
                " ORDER BY pid, trace_id LIMIT 500",
                (pid, trace_id),
            ).fetchall()
            sessions = [row for row in sessions if (row[0], row[1]) != (pid, trace_id) or rowid is not None]
            if not sessions:
                break
            for session_pid, session_trace, seq in sessions:
                resume = rowid if (session_pid, session_trace) == (pid, trace_id) and rowid is not None else 0
                pid, trace_id, rowid = session_pid, session_trace, None  # this session read whole from here on
                rows = conn.execute(
                    "SELECT rowid, span_id, kind, cost, resource_key, body FROM spans WHERE seq = ? AND rowid > ?"
                    " ORDER BY rowid",
                    (seq, resume),
                )
                for row_id, row_span, kind, cost, resource_key, body in rows:
                    if batch is not None and (batch.project_id != names[pid] or len(batch.spans) >= max_spans):
                        yield batch, position
                        batch = None
                    if batch is None:
                        batch = PreparedBatch(names[pid])
                    if resource_key not in batch.resources:
                        batch.resources[resource_key] = self._resource_body(conn, resources, resource_key)
                    batch.spans.append(_stored_record(trace_id, row_span, kind, cost, resource_key, body))
                    position = json.dumps([pid, trace_id.hex(), row_id])
        if batch is not None:
            yield batch, position

    @staticmethod
    def _resource_body(conn: sqlite3.Connection, cache: dict[bytes, bytes], key: bytes) -> bytes:
        body = cache.get(key)
        if body is None:
            row = conn.execute("SELECT body FROM resources WHERE key = ?", (key,)).fetchone()
            body = row[0] if row else Resource().SerializeToString()
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = body
        return body

    def read_logs(self, after: str | None, max_logs: int) -> Iterator[tuple[LogBatch, str]]:
        """Log records in key order; a position is the last one's key, ``[pid, trace id, span id, digest]``."""
        conn = self._reader()
        names = dict(conn.execute("SELECT pid, name FROM projects"))
        key = _position(after, 3) if after else (-1, b"", b"", b"")
        while True:
            rows = conn.execute(
                "SELECT pid, trace_id, span_id, digest, time_ns, body FROM span_logs"
                " WHERE (pid, trace_id, span_id, digest) > (?, ?, ?, ?)"
                " ORDER BY pid, trace_id, span_id, digest LIMIT ?",
                (*key, max_logs),
            ).fetchall()
            if not rows:
                return
            start = 0
            for end in range(1, len(rows) + 1):  # one batch per project
                if end == len(rows) or rows[end][0] != rows[start][0]:
                    batch = LogBatch(names[rows[start][0]])
                    batch.logs.extend(SpanLog(r[1], r[2], r[4], r[5]) for r in rows[start:end])
                    key = rows[end - 1][:4]
                    yield batch, json.dumps([key[0], *(part.hex() for part in key[1:])])
                    start = end


def _overview_sums(conn: sqlite3.Connection, pids: list, where: str, params: list) -> tuple[list, list]:
    """The overview's hours (:func:`meaning.overview_sums` adds them up) and model rows
    (:func:`meaning.overview_json`) from covering indexes: SQL sums each hour's sessions natively
    (costs as units, the few without units as text), then each model's rows of the period. Raises
    ``sqlite3.OperationalError`` (integer overflow) when a sum passes 64 bits. ``where`` (on
    ``s.pid`` and ``s.init_ns``) reads the same on session_models."""
    hours = _overview_hours(conn, where, params, saturating=False)
    # the LLM calls of the same sessions (by session start), so the costs add up to the total; one
    # range of session_models_by_model per model (a GROUP BY would sort every row of the period)
    by_model = []
    for model in _models(conn, pids):
        n, calls, units, text, p, c = conn.execute(
            "SELECT count(*), sum(calls), sum(cost_units), sum_money(cost) FILTER (WHERE cost_units IS NULL),"
            f" sum(prompt_tokens), sum(completion_tokens) FROM session_models s WHERE s.model = ? AND {where}",
            (model, *params),
        ).fetchone()
        if n:
            by_model.append((model, saturated(calls), _money_of(units or 0, text), saturated(p), saturated(c)))
    return hours, by_model


def _overview_hours(conn: sqlite3.Connection, where: str, params: list, saturating: bool) -> list[tuple]:
    """Each hour's sums over the sessions that started in it (:data:`meaning.OverviewHour`):
    natively (costs as units, the few without units as text; raises on a sum past 64 bits), or
    ``saturating``: in Python, counts saturating and every cost summed from its text."""
    if saturating:
        sum_count, cost_units_and_text = "sum_count", "0, sum_money(cost)"
    else:
        sum_count, cost_units_and_text = "sum", "sum(cost_units), sum_money(cost) FILTER (WHERE cost_units IS NULL)"
    rows = conn.execute(
        f"SELECT s.init_ns / {meaning.HOUR_NS}, count(*), {cost_units_and_text}, {sum_count}(llm_calls),"
        f" {sum_count}(errors), {sum_count}(prompt_tokens), {sum_count}(completion_tokens), sum({FAILED}),"
        f" min(init_ns), max(init_ns) FROM sessions s WHERE {where} GROUP BY 1 ORDER BY 1",
        params,
    )
    # SQL's hour, init_ns / HOUR_NS, is truncated toward zero; the columns after the cost are an hour's
    hour_ns = meaning.HOUR_NS
    return [(h * hour_ns, n, _money_of(units or 0, text, rounded=False), *sums) for h, n, units, text, *sums in rows]


def _models(conn: sqlite3.Connection, pids: list) -> list[str]:
    """The models the projects' sessions called, each found by one step along session_models_by_model."""
    found: set[str] = set()
    step = "SELECT min(model) FROM session_models WHERE pid = ? AND model > ?"
    for pid in pids:
        model = conn.execute("SELECT min(model) FROM session_models WHERE pid = ?", (pid,)).fetchone()[0]
        while model is not None:
            found.add(model)
            model = conn.execute(step, (pid, model)).fetchone()[0]
    return sorted(found)


def _overview_sums_exact(conn: sqlite3.Connection, where: str, params: list) -> tuple[list, list]:
    """What :func:`_overview_sums` gives, summed row by row in Python: slower, never overflows."""
    hours = _overview_hours(conn, where, params, saturating=True)
    by_model = conn.execute(
        "SELECT m.model, sum_count(m.calls), sum_money(m.cost), sum_count(m.prompt_tokens),"
        " sum_count(m.completion_tokens)"
        f" FROM sessions s JOIN session_models m ON m.seq = s.seq WHERE {where} GROUP BY m.model",
        params,
    ).fetchall()
    return hours, by_model


def _money_of(units: int, rest: str | None, rounded: bool = True) -> Decimal:
    """A sum of costs: ``units`` of 1/UNITS_PER_USD plus the sum of those without units (decimal
    text, None for none), rounded to MONEY_CONTEXT; exact when not ``rounded`` (an hour's cost, which
    :func:`meaning.overview_sums` adds up and rounds once)."""
    in_units = MONEY_CONTEXT.divide(Decimal(units), UNITS_PER_USD)  # exact: at most 19 digits
    if not rest:
        return in_units
    return (MONEY_CONTEXT if rounded else meaning.EXACT).add(in_units, Decimal(rest))


def _position(text: str, hex_parts: int, rowid: bool = False) -> tuple:
    """A position :meth:`SQLiteStore.read_spans` (``[pid, trace id, rowid]``) or ``read_logs`` gave."""
    try:
        found = json.loads(text)
        if not isinstance(found, list) or len(found) != 1 + hex_parts + rowid:
            raise ValueError(text)
        numbers = [found[0], *found[1 + hex_parts :]]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            raise ValueError(text)
        return (found[0], *(bytes.fromhex(part) for part in found[1 : 1 + hex_parts]), *found[1 + hex_parts :])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a position in a SQLite store: {text!r}") from exc


def _stored_record(
    trace_id: bytes, span_id: bytes, kind: str | None, cost_text: str | None, resource_key: bytes, body: bytes
) -> SpanRecord:
    """A stored span as ingest recorded it (its kind and cost as stored, not computed again)."""
    span = Span.FromString(body)
    usage, model, attrs = meaning.NO_USAGE, None, None
    if kind == KIND_LLM:
        attrs = attributes_dict(span.attributes)
        sent = {key: value for key, value in attrs.items() if key not in UNTRUSTED_KEYS}
        usage, model = usage_tuple(normalised_usage(sent)), llm_model(sent)
    return _record(trace_id, span_id, span, kind, cost_text, resource_key, body, model, usage, attrs)


def _record(
    trace_id: bytes,
    span_id: bytes,
    span: Span,
    kind: str | None,
    cost_text: str | None,
    resource_key: bytes,
    body: bytes,
    model: str | None,
    usage: tuple[int, int, int, int, int],
    attrs: dict[str, Any] | None,
) -> SpanRecord:
    """A stored span's record: its times, status and what it says as its session's root read from
    ``span`` (``attrs``: its attributes, read here if needed when None), the rest as given."""
    parent = meaning.has_local_parent(span.parent_span_id, span.flags)
    root = None
    if kind == sc.KIND_SESSION or not parent:
        attrs = attrs if attrs is not None else attributes_dict(span.attributes)
        root = meaning.root_info(kind, attrs, parent, span.status.code, span.status.message)
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    return SpanRecord(
        trace_id,
        span_id,
        kind,
        start,
        max(end, start),
        span.status.code,
        resource_key,
        body,
        kind == KIND_LLM,
        Decimal(cost_text) if cost_text is not None else None,
        cost_text,
        model,
        usage,
        root,
    )


def span_json(
    kind: str | None, cost: str | None, body: bytes, resource: dict[str, Any], logs: dict[bytes, list[dict[str, Any]]]
) -> dict[str, Any]:
    """A stored span as REST shows it (every store): its classified ``kind`` and cost as stored,
    its resource's attributes, the log records attached to it (by span id, from ``logs``)."""
    span = Span.FromString(body)
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    attrs = attributes_dict(span.attributes)
    return {
        "trace_id": id_hex(span.trace_id),
        "span_id": id_hex(span.span_id),
        "parent_span_id": id_hex(span.parent_span_id),
        "name": span.name,
        "kind": kind,
        "span_kind": SPAN_KIND_NAMES.get(span.kind, str(span.kind)),
        "start_time": iso(start),
        "end_time": iso(end),
        "duration_ms": max(end - start, 0) / 1e6,  # as in the session's rollup
        "status_code": STATUS_NAMES.get(span.status.code, str(span.status.code)),
        "status_message": span.status.message,
        "attributes": attrs,
        "events": [
            {"name": e.name, "timestamp": iso(e.time_unix_nano), "attributes": attributes_dict(e.attributes)}
            for e in span.events
        ],
        "logs": logs.get(span.span_id, []),
        "resource": resource,
        "service_name": _text_or_none(resource.get(sc.SERVICE_NAME)),
        "cost": cost,
        "cost_source": attrs.get(sc.COST_SOURCE) if kind == KIND_LLM else None,
    }


def _text_or_none(value: Any) -> str | None:
    """A string attribute as sent; any other type (service.name = [5e-324]) is no name at all."""
    return value if isinstance(value, str) else None


def _marks(values) -> str:
    return ", ".join("?" * len(values))


def encode_cursor(value: Any, trace_id: bytes, pid: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, trace_id.hex(), pid]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, bytes, int | None]:
    """The keyset position in an opaque cursor (sort value, session id, project's row id; the last
    missing from cursors of older collectors); ValueError when it is not one of ours."""
    try:
        value, trace_hex, *rest = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        trace_id = bytes.fromhex(trace_hex)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid cursor: {exc}") from None
    pid = rest[0] if len(rest) == 1 else None
    if len(rest) > 1 or (rest and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= MAX_COUNT)):
        raise ValueError("invalid cursor")
    # a sort value SQLite can compare: a 64-bit integer or a finite float (never a bool)
    if isinstance(value, bool) or len(trace_id) != 16:
        raise ValueError("invalid cursor")
    if not (isinstance(value, int) and -MAX_COUNT - 1 <= value <= MAX_COUNT) and not (
        isinstance(value, float) and math.isfinite(value)
    ):
        raise ValueError("invalid cursor")
    return value, trace_id, pid
