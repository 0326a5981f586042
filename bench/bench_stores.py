"""Store benchmark: SQLite and chDB (ClickHouse in-process) side by side, in the same run.

    .venv/bin/python bench/bench_stores.py                      # 10,000,000 spans in 1,000,000 sessions
    .venv/bin/python bench/bench_stores.py --spans 200000       # a quick run
    .venv/bin/python bench/bench_stores.py --stores chdb        # one store only
    .venv/bin/python bench/bench_stores.py --dir D --keep       # keep the stores, then:
    .venv/bin/python bench/bench_stores.py --dir D --reuse      # time the queries again on them

Each store runs in a process of its own (chDB opens one path per process; peak RSS is the store's
alone), one after the other, on the same generated data (same seed):

- Data: sessions of 3 to 17 spans (about 10 on average): a session root with tags and an end
  state, an agent span, LLM calls with token usage (priced by the collector's enrichment: several
  models, one the price table does not know), tool calls and actions, some failing; 4 projects of
  unequal size (55 / 25 / 15 / 5 %), sessions starting over the last 90 days. A few hundred template
  sessions go through the collector's real ``ingest.prepare`` (enrichment, cost); every session is
  a template's prepared spans with fresh trace and span ids, its session id and its times patched
  into the stored bytes in place (same lengths), so generating 10 million spans takes about a minute.
- Ingest: batches of 512 spans (an SDK exporter's batch) through the store's ``write`` (the
  collector's write path: futures resolve once committed), up to 64 batches queued. Timed rounds:
  100,000 spans generated first, then written and timed to the last commit, at the start, the
  middle and the end of the load; the figure is their median (and the rounds), with the CPU time
  of the store's process per span in each round (all its threads: the engine's too).
- Queries on the largest project (55 % of the sessions), each run 7 times, median (and the first,
  cold, run; and the median CPU time of the store's process): list 50 sessions (newest first; and
  by cost), one session's stats (a different session each run), one session's export (its spans),
  the overview of the last 30 days.
- Bytes per stored span: the store's files on disk after it is closed, divided by the spans.
- Peak RSS: VmHWM of the store's process (generation included; a baseline process that only
  generates the data is reported too).

``--reuse`` loads nothing: it opens the stores an earlier ``--keep`` run left in ``--dir`` (with
that run's clock, so the same sessions are in the last 30 days) and times the queries again; the
time to open is reported (an older collector's database is upgraded then). So code before and after
a change can be compared on the same data: run ``--reuse`` with each.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agentops_otel import semconv as sc
from agentops_otel.collector.ingest import PreparedBatch, SpanRecord, prepare
from agentops_otel.collector.otlp import key_value
from agentops_otel.collector.store.base import ListQuery

BATCH = 512
IN_FLIGHT = 64
ROUND_SPANS = 100_000
QUERY_RUNS = 7
DAY_NS = 86_400 * 10**9
PROJECTS = (("proj-large", 0.55), ("proj-medium", 0.25), ("proj-small", 0.15), ("proj-tiny", 0.05))
MODELS = (
    ("gpt-4o", "openai"),
    ("gpt-4o-mini", "openai"),
    ("claude-3-5-sonnet-20241022", "anthropic"),
    ("gemini-1.5-flash", "gcp.gemini"),
    ("house-model-7b", "openai"),  # no price known: an unpriced call
)
TAGS = ("prod", "staging", "eval", "customer-a", "customer-b", "batch", "chat", "rag", "agentic", "beta")
TEMPLATES_PER_PROJECT = 96
# Placeholders patched per session: a template's ids and times are unique byte strings in its spans.
_TEMPLATE_START = 1_000_000_000_000_000_000  # ns; a template session starts here


# --- data ---------------------------------------------------------------------------------------


def _template_spans(rng: random.Random, trace_id: bytes) -> list[Span]:
    """One session: root, agent, LLM calls, tools, actions; times relative to _TEMPLATE_START."""
    root_id = rng.randbytes(8)
    agent_id = rng.randbytes(8)
    spans: list[Span] = []
    t = _TEMPLATE_START + 1_000_000
    agent = Span(trace_id=trace_id, span_id=agent_id, parent_span_id=root_id, name="invoke_agent planner")
    agent.attributes.extend([key_value(sc.SPAN_KIND, sc.KIND_AGENT), key_value("gen_ai.agent.name", "planner")])
    for _ in range(rng.randint(1, 15)):
        span = Span(trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=agent_id)
        duration = rng.randint(5, 4000) * 1_000_000
        span.start_time_unix_nano, span.end_time_unix_nano = t, t + duration
        t += duration + rng.randint(1, 50) * 1_000_000
        roll = rng.random()
        if roll < 0.45:
            model, provider = rng.choice(MODELS)
            span.name, span.kind = f"chat {model}", Span.SPAN_KIND_CLIENT
            span.attributes.extend(
                [
                    key_value(sc.SPAN_KIND, sc.KIND_LLM),
                    key_value(sc.GEN_AI_OPERATION_NAME, sc.OP_CHAT),
                    key_value(sc.GEN_AI_PROVIDER_NAME, provider),
                    key_value(sc.GEN_AI_REQUEST_MODEL, model),
                    key_value(sc.GEN_AI_RESPONSE_MODEL, model),
                    key_value(sc.GEN_AI_RESPONSE_ID, f"resp-{rng.getrandbits(64):016x}"),
                    key_value(sc.GEN_AI_RESPONSE_FINISH_REASONS, ["stop"]),
                    key_value(sc.GEN_AI_USAGE_INPUT_TOKENS, rng.randint(50, 8000)),
                    key_value(sc.GEN_AI_USAGE_OUTPUT_TOKENS, rng.randint(5, 1200)),
                    key_value(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, rng.choice([0, 0, 0, 1024, 2048])),
                ]
            )
        elif roll < 0.8:
            span.name = f"execute_tool {rng.choice(['search', 'fetch', 'sql', 'calc'])}"
            span.attributes.extend(
                [
                    key_value(sc.SPAN_KIND, sc.KIND_TOOL),
                    key_value(sc.GEN_AI_OPERATION_NAME, "execute_tool"),
                    key_value(sc.EVENT_PARAMS, '{"query": "quarterly revenue by region"}'),
                    key_value(sc.EVENT_RETURNS, '{"rows": 12}'),
                ]
            )
        else:
            span.name = "action step"
            span.attributes.extend([key_value(sc.SPAN_KIND, sc.KIND_ACTION), key_value(sc.EVENT_PARAMS, "{}")])
        if rng.random() < 0.03:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="upstream timeout"))
            span.attributes.append(key_value("error.type", "TimeoutError"))
        spans.append(span)
    agent.start_time_unix_nano, agent.end_time_unix_nano = _TEMPLATE_START + 500_000, t
    spans.append(agent)
    root = Span(trace_id=trace_id, span_id=root_id, name="session", kind=Span.SPAN_KIND_INTERNAL)
    root.start_time_unix_nano, root.end_time_unix_nano = _TEMPLATE_START, t + 1_000_000
    state = rng.choices(["Success", "Failure", "Indeterminate"], weights=[85, 10, 5])[0]
    root.attributes.extend(
        [
            key_value(sc.SPAN_KIND, sc.KIND_SESSION),
            key_value(sc.SESSION_ID, str(uuid.UUID(bytes=trace_id))),
            key_value(sc.SESSION_TAGS, rng.sample(TAGS, rng.randint(0, 3))),
            key_value(sc.SESSION_END_STATE, state),
        ]
    )
    root.status.code = {"Success": Status.STATUS_CODE_OK, "Failure": Status.STATUS_CODE_ERROR}.get(state, 0)
    if rng.random() < 0.05:  # still running: no root yet
        return spans
    return [*spans, root]


class Template:
    """A prepared session whose ids and times are patched into each copy's stored bytes."""

    def __init__(self, records: list[SpanRecord], trace_id: bytes) -> None:
        self.records = records
        self.trace_id = trace_id
        self.session_text = str(uuid.UUID(bytes=trace_id)).encode()
        self.span_ids = [r.span_id for r in records]
        self.pieces = [self._split(r) for r in records]
        self.own = [self.span_ids.index(r.span_id) for r in records]

    def _split(self, record: SpanRecord) -> list[tuple[str, Any]]:
        """The body as literal bytes and slots: ("trace"|"span"|"session"|"time", ...)."""
        body = record.body
        needles: list[tuple[bytes, tuple[str, Any]]] = [
            (self.trace_id, ("trace", None)),
            (self.session_text, ("session", None)),
        ]
        for index, span_id in enumerate(self.span_ids):
            needles.append((span_id, ("span", index)))
        span = Span.FromString(body)
        for value in (span.start_time_unix_nano, span.end_time_unix_nano):
            needles.append((value.to_bytes(8, "little"), ("time", value - _TEMPLATE_START)))
        found = []
        for needle, slot in needles:
            at = body.find(needle)
            while at != -1:
                found.append((at, len(needle), slot))
                at = body.find(needle, at + len(needle))
        found.sort()
        pieces: list[tuple[str, Any]] = []
        position = 0
        for at, size, slot in found:
            if at < position:
                continue
            pieces.append(("bytes", body[position:at]))
            pieces.append(slot)
            position = at + size
        pieces.append(("bytes", body[position:]))
        return pieces

    def copy(self, rng: random.Random, start_ns: int) -> list[SpanRecord]:
        trace_id = rng.randbytes(16)
        span_ids = [rng.randbytes(8) for _ in self.span_ids]
        session_text = str(uuid.UUID(bytes=trace_id)).encode()
        shift = start_ns - _TEMPLATE_START
        out = []
        for record, pieces, own in zip(self.records, self.pieces, self.own, strict=True):
            parts = []
            for kind, value in pieces:
                if kind == "bytes":
                    parts.append(value)
                elif kind == "trace":
                    parts.append(trace_id)
                elif kind == "span":
                    parts.append(span_ids[value])
                elif kind == "session":
                    parts.append(session_text)
                else:
                    parts.append((start_ns + value).to_bytes(8, "little"))
            out.append(
                record._replace(
                    trace_id=trace_id,
                    span_id=span_ids[own],
                    start_ns=record.start_ns + shift,
                    end_ns=record.end_ns + shift,
                    body=b"".join(parts),
                )
            )
        return out


def _templates(seed: int) -> dict[str, tuple[list[Template], dict[bytes, bytes]]]:
    rng = random.Random(seed)
    found = {}
    for project, _ in PROJECTS:
        templates, resources = [], {}
        for i in range(TEMPLATES_PER_PROJECT):
            trace_id = rng.randbytes(16)
            request = ExportTraceServiceRequest()
            resource_spans = request.resource_spans.add()
            resource = {
                sc.SERVICE_NAME: f"{project}-agent-{i % 3}",
                "host.name": f"worker-{i % 7}",
                "os.type": "linux",
                "process.runtime.name": "cpython",
                "process.runtime.version": "3.12.3",
                "agentops.sdk.version": "0.4.0",
            }
            resource_spans.resource.attributes.extend(key_value(k, v) for k, v in resource.items())
            scope = resource_spans.scope_spans.add()
            scope.scope.name = "agentops_otel"
            scope.spans.extend(_template_spans(rng, trace_id))
            batch = prepare(request, project)
            templates.append(Template(batch.spans, trace_id))
            resources.update(batch.resources)
        found[project] = (templates, resources)
    return found


def generate(seed: int, spans: int, now_ns: int) -> Iterator[PreparedBatch]:
    """Batches of BATCH spans, one project each, sessions in start order over the last 90 days."""
    templates = _templates(seed)
    rng = random.Random(seed + 1)
    sessions = max(1, spans // 10)
    step = 90 * DAY_NS // sessions
    first = now_ns - 90 * DAY_NS
    names = [p for p, _ in PROJECTS]
    weights = [w for _, w in PROJECTS]
    pending: dict[str, list[SpanRecord]] = {p: [] for p in names}
    made = 0
    i = 0
    while made < spans:
        project = rng.choices(names, weights)[0]
        project_templates, resources = templates[project]
        records = rng.choice(project_templates).copy(rng, first + i * step + rng.randrange(step))
        records = records[: spans - made]
        made += len(records)
        i += 1
        queue = pending[project]
        queue += records
        while len(queue) >= BATCH:
            yield PreparedBatch(project, queue[:BATCH], resources)
            del queue[:BATCH]
    for project, queue in pending.items():
        if queue:
            yield PreparedBatch(project, queue, templates[project][1])


# --- one store, in its own process ---------------------------------------------------------------


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _open(kind: str, where: Path):
    from agentops_otel.collector.store import open_store, sqlite_url

    if kind == "sqlite":
        return open_store(sqlite_url(where / "bench.sqlite3")), where / "bench.sqlite3"
    return open_store(f"chdb://{where / 'chdb'}"), where / "chdb"


def _timed(call, runs: int = QUERY_RUNS) -> dict[str, float]:
    """Wall time (median of the runs after the first, and the first), and the CPU time of this
    process (the store's reads run on the calling thread) over the same runs."""
    times, cpu = [], []
    for n in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        call(n)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    median = statistics.median
    return {"median_ms": median(times[1:] or times), "first_ms": times[0], "cpu_ms": median(cpu[1:] or cpu)}


class _BulkLoader:
    """``--bulk`` (chDB): the spans between the timed rounds go in as large inserts of the rows the
    store's own write path builds (``span_columns``), and each session's rollup is then computed by the
    store's own rollup query, over sessions in key order. Only the loading is faster; the rows are
    the same as the write path's."""

    def __init__(self, store: Any) -> None:
        from agentops_otel.collector.store import clickhouse

        self.ch, self.store = clickhouse, store
        self.spans: list[tuple[str, list[SpanRecord]]] = []
        self.size = 0
        self.resources: dict[bytes, bytes] = {}
        self.known: set[bytes] = set()
        self.touched: dict[str, set[bytes]] = {}

    def add(self, batch: PreparedBatch) -> None:
        self.spans.append((batch.project_id, batch.spans))
        self.size += len(batch.spans)
        self.touched.setdefault(batch.project_id, set()).update(r.trace_id for r in batch.spans)
        self.resources.update((k, v) for k, v in batch.resources.items() if k not in self.known)
        if self.size >= 200_000:
            self._flush()

    def _flush(self) -> None:
        if self.resources:
            self.store._insert("resources", [[k, v] for k, v in self.resources.items()], ("key", "body"))
            self.known.update(self.resources)
            self.resources.clear()
        if self.spans:
            columns = self.ch.span_columns(self.spans)
            self.store._insert("spans", columns, self.ch.SPAN_COLUMNS, column_oriented=True)
            self.spans.clear()
            self.size = 0

    def finish(self) -> None:
        self._flush()
        self.store.roll_up(self.touched)
        self.touched.clear()


def run_store(kind: str, spans: int, seed: int, where: Path, now_ns: int, bulk: bool = False) -> dict[str, Any]:
    if kind == "generate-only":  # the baseline: generation's own time and memory
        started = time.perf_counter()
        made = sum(len(b.spans) for b in generate(seed, spans, now_ns))
        return {"spans": made, "load_s": time.perf_counter() - started, "peak_rss_mib": _peak_rss_mib()}
    store, path = _open(kind, where)
    batches = generate(seed, spans, now_ns)
    pending: deque = deque()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            pending.popleft().result()

    rounds: list[float] = []
    round_cpu_us: list[float] = []  # process CPU per span, each round
    round_starts = sorted({0, max(0, spans // 2 - ROUND_SPANS // 2), max(0, spans - ROUND_SPANS)})
    loader = _BulkLoader(store) if bulk and kind == "chdb" else None
    if loader is not None:  # rounds through the write path at the start and the end only
        round_starts = sorted({0, max(0, spans - ROUND_SPANS)})
    written = 0
    started = time.perf_counter()
    while True:
        if round_starts and written >= round_starts[0]:
            round_starts.pop(0)
            drain(0)  # the round times its own batches only
            if loader is not None:
                loader.finish()  # every bulk-loaded session rolled up before the write path sees more
            chunk = list(itertools.islice(batches, max(1, ROUND_SPANS // BATCH)))
            if not chunk:
                break
            size = sum(len(b.spans) for b in chunk)
            t, cpu = time.perf_counter(), time.process_time()
            for batch in chunk:
                pending.append(store.write(batch))
                drain(IN_FLIGHT)
            drain(0)
            rounds.append(size / (time.perf_counter() - t))
            round_cpu_us.append((time.process_time() - cpu) * 1e6 / size)
            written += size
            continue
        batch = next(batches, None)
        if batch is None:
            break
        if loader is not None and written > 0:
            loader.add(batch)
        else:
            pending.append(store.write(batch))
            drain(IN_FLIGHT)
        written += len(batch.spans)
    drain(0)
    if loader is not None:
        loader.finish()
    load_s = time.perf_counter() - started
    figures = {"spans": written, "load_s": load_s, "ingest_rounds": rounds, "ingest_cpu_us_per_span": round_cpu_us}
    figures["ingest_spans_per_s"] = statistics.median(rounds) if rounds else None
    return _queried(store, path, now_ns, figures)


def reuse_store(kind: str, where: Path, now_ns: int) -> dict[str, Any]:
    """The queries' figures on a store an earlier ``--keep`` run left in ``where``."""
    started = time.perf_counter()
    store, path = _open(kind, where)
    figures = {"open_s": time.perf_counter() - started}
    return _queried(store, path, now_ns, figures)


def _queried(store: Any, path: Path, now_ns: int, figures: dict[str, Any]) -> dict[str, Any]:
    """``figures`` with the queries' times, the sessions and the store's size; closes the store."""
    project = PROJECTS[0][0]
    scope = (project,)
    newest = store.list_sessions(scope, ListQuery(limit=QUERY_RUNS))["sessions"]
    ids = [bytes.fromhex(s["session_id"].replace("-", "")) for s in newest]
    month_ago = now_ns - 30 * DAY_NS
    figures |= {
        "list50": _timed(lambda n: store.list_sessions(scope, ListQuery(limit=50))),
        "list50_by_cost": _timed(lambda n: store.list_sessions(scope, ListQuery(limit=50, sort="cost"))),
        "stats": _timed(lambda n: store.session(scope, ids[n % len(ids)])),
        "export": _timed(lambda n: store.export(scope, ids[n % len(ids)])),
        "overview30d": _timed(lambda n: store.overview(scope, month_ago, now_ns, None)),
    }
    counts = store.counts(project)
    figures["sessions_large_project"] = counts.sessions
    figures["sessions"] = sum(store.counts(p).sessions for p, _ in PROJECTS)
    figures.setdefault("spans", sum(store.counts(p).spans for p, _ in PROJECTS))
    store.close()
    figures["disk_bytes"] = _disk_bytes(path)
    figures["bytes_per_span"] = figures["disk_bytes"] / max(figures["spans"], 1)
    figures["peak_rss_mib"] = _peak_rss_mib()
    return figures


# --- the run -------------------------------------------------------------------------------------


def _row(name: str, values: list[str]) -> str:
    return f"| {name} | " + " | ".join(values) + " |"


def report(results: dict[str, dict[str, Any]]) -> str:
    stores = [k for k in results if k != "generate-only"]
    lines = [
        f"spans: {results[stores[0]]['spans']:,}, sessions: {results[stores[0]]['sessions']:,}"
        f" (largest project: {results[stores[0]]['sessions_large_project']:,})",
        "",
        _row("what", stores),
        _row("---", ["---"] * len(stores)),
    ]

    def ms(key: str) -> list[str]:
        return [
            f"{results[s][key]['median_ms']:.2f} ms (cold {results[s][key]['first_ms']:.2f},"
            f" CPU {results[s][key].get('cpu_ms', float('nan')):.2f})"
            for s in stores
        ]

    def ingest(s: str) -> str:
        rounds = " / ".join(f"{r:,.0f}" for r in results[s]["ingest_rounds"])
        return f"{results[s]['ingest_spans_per_s']:,.0f} ({rounds})"

    if all("open_s" in results[s] for s in stores):  # --reuse: nothing loaded
        lines.append(_row("opening the store, s", [f"{results[s]['open_s']:.1f}" for s in stores]))
    else:
        lines.append(_row("ingest, spans/s (median of rounds)", [ingest(s) for s in stores]))
        cpu = [" / ".join(f"{c:.0f}" for c in results[s].get("ingest_cpu_us_per_span", [])) for s in stores]
        lines.append(_row("ingest, process CPU µs per span (rounds)", cpu))
        lines.append(_row("whole load, s (generation included)", [f"{results[s]['load_s']:.0f}" for s in stores]))
    lines.append(_row("list 50 sessions", ms("list50")))
    lines.append(_row("list 50 sessions by cost", ms("list50_by_cost")))
    lines.append(_row("one session's stats", ms("stats")))
    lines.append(_row("one session's export", ms("export")))
    lines.append(_row("overview, last 30 days", ms("overview30d")))
    lines.append(_row("bytes on disk per span", [f"{results[s]['bytes_per_span']:.0f}" for s in stores]))
    lines.append(_row("peak RSS", [f"{results[s]['peak_rss_mib']:.0f} MiB" for s in stores]))
    if "generate-only" in results:
        base = results["generate-only"]
        lines.append("")
        lines.append(
            f"baseline, same run: generating the data alone took {base['load_s']:.0f} s,"
            f" peak RSS {base['peak_rss_mib']:.0f} MiB"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--stores", default="sqlite,chdb", help="comma-separated: sqlite, chdb")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the process that only generates the data (its time, its RSS)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="where the stores are written (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the stores' files")
    parser.add_argument("--reuse", action="store_true", help="time the queries on the stores --keep left in --dir")
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="chDB: load the spans between the timed rounds in large inserts of the write path's own rows",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--now-ns", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.reuse:
            figures = reuse_store(args.worker, args.dir, args.now_ns)
        else:
            figures = run_store(args.worker, args.spans, args.seed, args.dir, args.now_ns, args.bulk)
        args.out.write_text(json.dumps(figures))
        return 0
    if args.reuse and args.dir is None:
        parser.error("--reuse needs the --dir of a --keep run")
    base = args.dir or Path(tempfile.mkdtemp(prefix="agentops-bench-stores-"))
    clock = base / "now_ns"  # a kept run's clock, for --reuse
    now_ns = int(clock.read_text()) if args.reuse else time.time_ns()
    if args.keep:
        base.mkdir(parents=True, exist_ok=True)
        clock.write_text(str(now_ns))
    results: dict[str, dict[str, Any]] = {}
    keep = args.keep or args.reuse
    try:
        kinds = args.stores.split(",")
        for kind in kinds if args.reuse else [*([] if args.no_baseline else ["generate-only"]), *kinds]:
            where = base / kind
            where.mkdir(parents=True, exist_ok=True)
            out = base / f"{kind}.json"
            print(f"{kind}: {args.spans:,} spans ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            subprocess.run(
                [
                    *(sys.executable, __file__, "--worker", kind, "--spans", str(args.spans)),
                    *("--seed", str(args.seed), "--dir", str(where), "--now-ns", str(now_ns), "--out", str(out)),
                    *(["--bulk"] if args.bulk else []),
                    *(["--reuse"] if args.reuse else []),
                ],
                check=True,
            )
            results[kind] = json.loads(out.read_text())
            print(f"{kind}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
            if not keep and kind != "generate-only":
                shutil.rmtree(where, ignore_errors=True)
    finally:
        if not keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    print(report(results))
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
