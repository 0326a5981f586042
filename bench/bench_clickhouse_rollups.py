"""Session rollups on ClickHouse (chDB, in-process): how the store keeps them, against the two usual
alternatives, on the same spans in the same run.

    .venv/bin/python bench/bench_clickhouse_rollups.py             # 20,000 sessions of 10 spans
    .venv/bin/python bench/bench_clickhouse_rollups.py --quick     # 2,000 sessions

- **recompute** (what ``ClickHouseStore`` does): spans in a ReplacingMergeTree; after each group of
  inserts the writer recomputes the touched sessions from their de-duplicated spans (``FINAL``) into
  ``sessions`` (a ReplacingMergeTree whose version is the span count). Reads: ``sessions FINAL``.
- **mv**: the same spans table, and a materialised view adding every inserted span's columns into an
  AggregatingMergeTree per session (sum/min/max/argMax states). Reads merge the states per session.
- **query-time**: spans only; every read aggregates ``spans FINAL`` per session.

Spans arrive as an SDK fleet sends them: 512 per request, spans of ~200 concurrent sessions mixed,
so a session's spans come in several requests; ``--window`` requests are in flight at once (the
store's writer takes them as one group; mv and query-time get one insert per group too). Then 5%
of the requests are sent again (retries).
Figures: ingest spans/s (the time to store every request; for recompute that includes the rollups),
and median read latencies over 7 runs: list the 50 newest sessions, one session's stats, the
overview totals of the project; and whether each strategy still counts every span once after the
retries. The SQL reads of mv and query-time return raw rows (no JSON shaping): they are the floor.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel.collector.ingest import prepare
from agentops_otel.collector.store.base import ListQuery
from agentops_otel.collector.store.clickhouse import INSERT_SETTINGS, SPAN_COLUMNS, ClickHouseStore, span_columns
from agentops_otel.meaning import SUMMED_FIELDS
from bench_collector import _request, session_spans

PROJECT = "bench"
BATCH = 512
CONCURRENT = 200
ROOT = "(root_rank, end_ns, span_id)"
# The view's columns are named apart from the spans' (an alias equal to a column would shadow it
# inside the aggregates).
MV_TABLE = f"""CREATE TABLE {{db}}.sessions_mv (
    project LowCardinality(String), trace_id FixedString(16),
    s_init SimpleAggregateFunction(min, Int64), s_last SimpleAggregateFunction(max, Int64),
    s_rank SimpleAggregateFunction(max, UInt8),
    s_end_state AggregateFunction(argMax, LowCardinality(String), Tuple(UInt8, Int64, FixedString(8))),
    {", ".join(f"s_{name} SimpleAggregateFunction(sum, Int64)" for name in SUMMED_FIELDS)},
    s_cost SimpleAggregateFunction(sum, Nullable(Decimal(76, 30)))
) ENGINE = AggregatingMergeTree ORDER BY (project, trace_id)"""
MV_VIEW = f"""CREATE MATERIALIZED VIEW {{db}}.sessions_mv_feed TO {{db}}.sessions_mv AS
SELECT project, trace_id, min(start_ns) AS s_init, max(end_ns) AS s_last, max(root_rank) AS s_rank,
    argMaxState(end_state, {ROOT}) AS s_end_state,
    {", ".join(f"sum(toInt64({name})) AS s_{name}" for name in SUMMED_FIELDS)}, sum(cost) AS s_cost
FROM {{db}}.spans GROUP BY project, trace_id"""
MV_SESSIONS = f"""SELECT trace_id, min(s_init) AS init, max(s_last), max(s_rank), argMaxMerge(s_end_state),
    {", ".join(f"sum(s_{name}) AS {name}" for name in SUMMED_FIELDS)}, sum(s_cost) AS cost
FROM {{db}}.sessions_mv WHERE project = 'bench' {{where}} GROUP BY trace_id"""
QT_SESSIONS = f"""SELECT trace_id, min(start_ns) AS init, max(end_ns), max(root_rank), argMax(end_state, {ROOT}),
    {", ".join(f"sum({name}) AS s_{name}" for name in SUMMED_FIELDS)}, sum(cost) AS s_cost
FROM {{db}}.spans FINAL WHERE project = 'bench' {{where}} GROUP BY trace_id"""


def requests(sessions: int, spans_per_session: int, seed: int) -> list[bytes]:
    """OTLP requests of 512 spans, each mixing spans of the ~200 sessions running at that moment."""
    rng = random.Random(seed)
    out: list[bytes] = []
    start = 1_763_000_000 * 10**9
    for first in range(0, sessions, CONCURRENT):
        spans = []
        for i in range(first, min(first + CONCURRENT, sessions)):
            spans += session_spans(rng, rng.randbytes(16), spans_per_session - 1, start + i * 10**9)
        rng.shuffle(spans)
        out += [_request(spans[i : i + BATCH]) for i in range(0, len(spans), BATCH)]
    return out


def median_ms(read, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--spans-per-session", type=int, default=10)
    parser.add_argument("--window", type=int, default=16, help="requests in flight at once (1: one by one)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sessions = 2_000 if args.quick else args.sessions
    payloads = requests(sessions, args.spans_per_session, seed=7)
    retries = random.Random(8).sample(payloads, max(1, len(payloads) // 20))
    batches = [prepare(ExportTraceServiceRequest.FromString(p), PROJECT) for p in payloads]
    again = [prepare(ExportTraceServiceRequest.FromString(p), PROJECT) for p in retries]
    total = sum(len(b.spans) for b in batches)
    print(
        f"{sessions} sessions, {total} spans in {len(batches)} requests, {args.window} in flight;"
        f" {len(again)} requests sent again"
    )

    tmp = Path(tempfile.mkdtemp(prefix="bench-ch-rollups-"))
    try:
        store = ClickHouseStore.from_url(f"chdb://{tmp}?database=recompute")
        client = store._client
        for db in ("mv", "qt"):
            client.command(f"CREATE DATABASE {db}")
            client.command(f"CREATE TABLE {db}.spans AS recompute.spans")
        client.command(MV_TABLE.replace("{db}", "mv"))
        client.command(MV_VIEW.replace("{db}", "mv"))

        def insert_spans(db: str, columns: list) -> None:  # one insert per group, as the store does
            client.insert(
                f"{db}.spans", columns, column_names=list(SPAN_COLUMNS), column_oriented=True, settings=INSERT_SETTINGS
            )

        ingest = {}
        started = time.perf_counter()
        for first in range(0, len(batches), args.window):  # requests in flight together, as under load
            futures = [store.write(batch) for batch in batches[first : first + args.window]]
            for future in futures:
                future.result(timeout=600)
        ingest["recompute"] = time.perf_counter() - started
        for db in ("mv", "qt"):
            started = time.perf_counter()
            for first in range(0, len(batches), args.window):
                insert_spans(db, span_columns([(PROJECT, b.spans) for b in batches[first : first + args.window]]))
            ingest[db] = time.perf_counter() - started
        for batch in again:
            store.write(batch).result(timeout=600)
            columns = span_columns([(PROJECT, batch.spans)])
            for db in ("mv", "qt"):
                insert_spans(db, columns)

        trace = batches[len(batches) // 2].spans[0].trace_id
        one = f"AND trace_id = unhex('{trace.hex()}')"

        def sql(text: str, db: str, where: str = "") -> list:
            return client.query(text.replace("{db}", db).replace("{where}", where)).result_rows

        reads = {
            "recompute": {
                "list 50": lambda: store.list_sessions((PROJECT,), ListQuery(limit=50)),
                "one session": lambda: store.session((PROJECT,), trace),
                "overview": lambda: store.overview((PROJECT,), None, None, None),
            },
            "mv": {
                "list 50": lambda: sql(MV_SESSIONS + " ORDER BY init DESC LIMIT 50", "mv"),
                "one session": lambda: sql(MV_SESSIONS, "mv", one),
                "overview": lambda: sql(f"SELECT count(), sum(llm_calls), sum(cost) FROM ({MV_SESSIONS})", "mv"),
            },
            "qt": {
                "list 50": lambda: sql(QT_SESSIONS + " ORDER BY init DESC LIMIT 50", "qt"),
                "one session": lambda: sql(QT_SESSIONS, "qt", one),
                "overview": lambda: sql(f"SELECT count(), sum(s_llm_calls), sum(s_cost) FROM ({QT_SESSIONS})", "qt"),
            },
        }
        events = {
            "recompute": store.overview((PROJECT,), None, None, None)["totals"]["llm_calls"],
            "mv": sql(f"SELECT sum(llm_calls) FROM ({MV_SESSIONS})", "mv")[0][0],
            "qt": sql(f"SELECT sum(s_llm_calls) FROM ({QT_SESSIONS})", "qt")[0][0],
        }
        expected = sum(1 for b in batches for r in b.spans if r.is_llm)
        names = {"recompute": "recompute (chosen)", "mv": "materialised view", "qt": "query-time"}
        header = f"{'strategy':<20}{'ingest spans/s':>16}{'list 50 ms':>12}{'1 session ms':>14}{'overview ms':>13}"
        print(header + "  LLM calls")
        for key, label in names.items():
            figures = {name: median_ms(read) for name, read in reads[key].items()}
            right = "right" if events[key] == expected else f"WRONG ({events[key]} for {expected})"
            print(
                f"{label:<20}{total / ingest[key]:>16,.0f}{figures['list 50']:>12.1f}"
                f"{figures['one session']:>14.1f}{figures['overview']:>13.1f}  {right}"
            )
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
