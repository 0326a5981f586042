"""Collector benchmark: ingest throughput, stats and list latency, peak RSS.

    .venv/bin/python bench/bench_collector.py            # full run (100,000 sessions)
    .venv/bin/python bench/bench_collector.py --quick    # smaller, for a smoke check
    .venv/bin/python bench/bench_collector.py --store chdb   # the same against ClickHouse in-process

- Ingest: a separate loader process POSTs pre-built OTLP/HTTP protobuf requests of 512 spans
  (30% LLM spans with token usage, sessions of 5 spans: root, LLM calls, tools, actions) over
  keep-alive connections; each round is timed from the first request to the last acknowledgement
  (acknowledged = committed to the store). After all rounds the stored span count is checked equal to
  the number sent (counted in the store once the collector has stopped). ``--store chdb``: the
  collector stores in chDB (``--store chdb://...``, the clickhouse extra) instead of SQLite.
  Baseline, same run: the same loader against a null receiver (uvicorn +
  protobuf decode, no enrichment, no storage): the transport ceiling; and the same rounds against a
  collector that prepares every request in its receiving process (``--ingest-workers 0``).
- Stats: ``GET /v2/sessions/{id}/stats`` of a 10,000-span session; list: ``GET /v2/sessions?limit=50``
  with 100,000 sessions stored (first page, a later page by cursor, sorted by cost). Baseline:
  ``GET /health`` (a trivial endpoint) on the same server.
- Peak RSS of the collector process and of its helper processes (VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agentops_otel import semconv as sc
from agentops_otel.collector.otlp import key_value
from agentops_otel.collector.process import CollectorProcess, start_collector

BATCH = 512
API_KEY = "bench-key"
MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-3-5-sonnet-20241022", "anthropic")]


def session_spans(rng: random.Random, trace_id: bytes, children: int, start_ns: int) -> list[Span]:
    """A root span and ``children`` event spans, ~30% of all spans LLM calls."""
    root_id = rng.randbytes(8)
    spans = []
    t = start_ns
    llm_share = 0.3 * (children + 1) / children
    for i in range(children):
        span = Span(trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=root_id, kind=Span.SPAN_KIND_INTERNAL)
        span.start_time_unix_nano = t + 1_000_000
        span.end_time_unix_nano = t + 50_000_000
        t += 60_000_000
        if rng.random() < llm_share:
            model, provider = rng.choice(MODELS)
            span.name = f"chat {model}"
            span.kind = Span.SPAN_KIND_CLIENT
            span.attributes.extend(
                [
                    key_value(sc.SPAN_KIND, sc.KIND_LLM),
                    key_value(sc.GEN_AI_OPERATION_NAME, sc.OP_CHAT),
                    key_value(sc.GEN_AI_PROVIDER_NAME, provider),
                    key_value(sc.GEN_AI_REQUEST_MODEL, model),
                    key_value(sc.GEN_AI_RESPONSE_MODEL, model),
                    key_value(sc.GEN_AI_RESPONSE_ID, f"chatcmpl-{i}"),
                    key_value(sc.GEN_AI_RESPONSE_FINISH_REASONS, ["stop"]),
                    key_value(sc.GEN_AI_REQUEST_TEMPERATURE, 0.2),
                    key_value(sc.SERVER_ADDRESS, "api.example.com"),
                    key_value(sc.GEN_AI_USAGE_INPUT_TOKENS, rng.randint(50, 4000)),
                    key_value(sc.GEN_AI_USAGE_OUTPUT_TOKENS, rng.randint(10, 800)),
                    key_value(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, rng.choice([0, 0, 1024])),
                ]
            )
        else:
            kind = sc.KIND_TOOL if i % 2 else sc.KIND_ACTION
            span.name = f"{kind} step {i}"
            span.attributes.extend(
                [
                    key_value(sc.SPAN_KIND, kind),
                    key_value(sc.EVENT_PARAMS, '{"query": "weather in Paris"}'),
                    key_value(sc.EVENT_RETURNS, '{"result": "sunny"}'),
                ]
            )
            if rng.random() < 0.02:
                span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
        spans.append(span)
    root = Span(trace_id=trace_id, span_id=root_id, name="session", kind=Span.SPAN_KIND_INTERNAL)
    root.start_time_unix_nano = start_ns
    root.end_time_unix_nano = t + 10_000_000
    root.attributes.extend(
        [
            key_value(sc.SPAN_KIND, sc.KIND_SESSION),
            key_value(sc.SESSION_ID, str(uuid.UUID(bytes=trace_id))),
            key_value(sc.SESSION_TAGS, ["bench", rng.choice(["alpha", "beta", "gamma"])]),
            key_value(sc.SESSION_END_STATE, rng.choice(["Success", "Success", "Failure"])),
        ]
    )
    root.status.code = Status.STATUS_CODE_OK
    spans.append(root)
    return spans


def _request(spans: list[Span]) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource = {sc.SERVICE_NAME: "bench-agent", "host.name": "bench-host", "process.pid": 4242}
    resource_spans.resource.attributes.extend(key_value(k, v) for k, v in resource.items())
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "agentops_otel"
    scope.spans.extend(spans)
    return request.SerializeToString()


def build_payloads(seed: int, sessions: int, spans_per_session: int, start_ns: int) -> tuple[list[bytes], int]:
    rng = random.Random(seed)
    spans: list[Span] = []
    for i in range(sessions):
        trace_id = rng.randbytes(16)
        spans += session_spans(rng, trace_id, spans_per_session - 1, start_ns + i * 1_000_000)
    payloads = [_request(spans[i : i + BATCH]) for i in range(0, len(spans), BATCH)]
    return payloads, len(spans)


# --- loader process ---------------------------------------------------------------------------


def _post_all(port: int, payloads: list[bytes], failures: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/x-protobuf", "X-Agentops-Api-Key": API_KEY}
    for body in payloads:
        for _attempt in range(20):
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                break
            if response.status != 503:
                failures.append(f"HTTP {response.status}")
                break
            time.sleep(0.05)
    conn.close()


def loader_main(args: argparse.Namespace) -> None:
    payloads, spans = build_payloads(args.seed, args.sessions, args.spans_per_session, args.start_ns)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()  # go
    failures: list[str] = []
    shards = [payloads[i :: args.connections] for i in range(args.connections)]
    threads = [threading.Thread(target=_post_all, args=(args.port, shard, failures)) for shard in shards]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(json.dumps({"spans": spans, "requests": len(payloads), "seconds": elapsed, "failures": failures[:5]}))


def run_loader(port: int, seed: int, sessions: int, spans_per_session: int, connections: int, start_ns: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--loader",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--sessions",
        str(sessions),
        "--spans-per-session",
        str(spans_per_session),
        "--connections",
        str(connections),
        "--start-ns",
        str(start_ns),
    ]
    loader = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(loader.stdout.readline())["ready"]
        loader.stdin.write("go\n")
        loader.stdin.flush()
        result = json.loads(loader.stdout.readline())
        loader.wait(timeout=60)
        if result["failures"]:
            raise RuntimeError(f"loader failures: {result['failures']}")
        return result
    finally:
        if loader.poll() is None:
            loader.kill()
            loader.wait()


# --- null receiver (baseline) -------------------------------------------------------------------


def null_receiver_main(args: argparse.Namespace) -> None:
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def traces(request):
        ExportTraceServiceRequest.FromString(await request.body())
        return Response(b"", media_type="application/x-protobuf")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY as the collector
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])


# --- measurements -------------------------------------------------------------------------------


def _latencies(port: int, path: str, runs: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.request("GET", path, headers={"X-Agentops-Api-Key": API_KEY})
        response = conn.getresponse()
        body = response.read()
        out.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    conn.close()
    return out


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.2f} ms, p95 {ordered[int(len(ordered) * 0.95) - 1]:.2f} ms"


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def _processes(collector: CollectorProcess) -> list[Any]:
    """The collector's process and its ingest workers (and multiprocessing's resource tracker)."""
    import psutil

    main = psutil.Process(collector.process.pid)
    return [main, *main.children(recursive=True)]


def _cpu_seconds(collector: CollectorProcess) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in _processes(collector))


def _ingest_rounds(collector: CollectorProcess, args: argparse.Namespace, per_round: int, now_ns: int) -> tuple:
    """The loader's rounds against ``collector``: (spans/s per round, spans sent, CPU µs per span per round)."""
    rates, sent, cpu_per_span = [], 0, []
    for r in range(args.rounds):
        cpu_before = _cpu_seconds(collector)
        start = now_ns + r * per_round * 1_000_000
        result = run_loader(collector.http_port, r, per_round, args.spans_per_session, args.connections, start)
        rates.append(result["spans"] / result["seconds"])
        sent += result["spans"]
        cpu_per_span.append((_cpu_seconds(collector) - cpu_before) / result["spans"] * 1e6)
        print(
            f"  round {r + 1}: {result['spans']} spans in {result['seconds']:.2f} s,"
            f" {cpu_per_span[-1]:.1f} us collector CPU per span (all its processes)"
        )
    return rates, sent, cpu_per_span


def _collector_args(args: argparse.Namespace, data_dir: str) -> list[str]:
    store = ["--store", f"chdb://{data_dir}/chdb"] if args.store == "chdb" else []
    return ["--sync", args.sync, "--no-grpc", "--log-level", "warning", *store]


def _stored(args: argparse.Namespace, collector: CollectorProcess, data_dir: str) -> tuple[int, int]:
    """(spans, sessions) in the store of the stopped ``collector``."""
    if args.store == "chdb":
        import clickhouse_connect

        client = clickhouse_connect.get_client(interface="chdb", path=f"{data_dir}/chdb")
        try:
            return tuple(
                client.query(f"SELECT count() FROM agentops.{table} FINAL").result_rows[0][0]
                for table in ("spans", "sessions")
            )
        finally:
            client.close()
    with sqlite3.connect(collector.db_path) as db:
        return tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("spans", "sessions"))


def _ingest_only(args: argparse.Namespace, per_round: int, now_ns: int, workers: int) -> float:
    """Median spans/s of the same rounds with ``--ingest-workers workers`` (a fresh database)."""
    print(f"with --ingest-workers {workers}:")
    with tempfile.TemporaryDirectory(prefix="agentops-bench-") as data_dir:
        collector = start_collector(data_dir, args=[*_collector_args(args, data_dir), "--ingest-workers", str(workers)])
        try:
            rates, _, _ = _ingest_rounds(collector, args, per_round, now_ns)
        finally:
            collector.stop()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 sessions instead of 100,000")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--spans-per-session", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--sync", default="normal", choices=("normal", "full"))
    parser.add_argument("--store", default="sqlite", choices=("sqlite", "chdb"), help="the collector's store")
    parser.add_argument("--loader", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--null-receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--start-ns", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loader:
        return loader_main(args)
    if args.null_receiver:
        return null_receiver_main(args)
    if args.quick:
        args.sessions = 10_000

    now_ns = time.time_ns() - 86_400 * 10**9
    per_round = args.sessions // args.rounds
    print(
        f"collector benchmark: {args.sessions} sessions x {args.spans_per_session} spans, {args.rounds} rounds, "
        f"batches of {BATCH}, {args.connections} connections, store {args.store}, sync={args.sync},"
        f" {os.cpu_count()} CPUs"
    )

    null = subprocess.Popen([sys.executable, __file__, "--null-receiver"], stdout=subprocess.PIPE, text=True)
    try:
        null_port = json.loads(null.stdout.readline())["port"]
        baseline = []
        for r in range(args.rounds):
            result = run_loader(null_port, 100 + r, per_round, args.spans_per_session, args.connections, now_ns)
            baseline.append(result["spans"] / result["seconds"])
    finally:
        null.terminate()
        null.wait()

    in_process = _ingest_only(args, per_round, now_ns, workers=0)
    with tempfile.TemporaryDirectory(prefix="agentops-bench-") as data_dir:
        collector = start_collector(data_dir, args=_collector_args(args, data_dir))
        print("with the default ingest workers:")
        try:
            rates, sent, cpu_per_span = _ingest_rounds(collector, args, per_round, now_ns)
            ingest = statistics.median(rates)
            print(
                f"ingest (OTLP/HTTP protobuf, acknowledged once stored in {args.store}): median {ingest:,.0f} spans/s"
                f" (rounds: {', '.join(f'{x:,.0f}' for x in rates)}); sent {sent:,} spans"
            )
            cpu = statistics.median(cpu_per_span)
            print(
                f"  collector CPU per span (user+sys, all its processes): median {cpu:.1f} us"
                f" = {1e6 / cpu:,.0f} spans/s per fully available core; box load average {os.getloadavg()[0]:.1f}"
            )
            print(
                f"  baseline null receiver (HTTP + protobuf decode only): median {statistics.median(baseline):,.0f}"
                f" spans/s; collector/baseline = {ingest / statistics.median(baseline):.2f}"
            )
            print(
                f"  same run, everything in the receiving process (--ingest-workers 0): median {in_process:,.0f}"
                f" spans/s; with worker processes / without = {ingest / in_process:.2f}"
            )

            # a 10,000-span session
            big_trace = random.Random(7).randbytes(16)
            big = session_spans(random.Random(8), big_trace, 9_999, now_ns)
            conn = http.client.HTTPConnection("127.0.0.1", collector.http_port, timeout=60)
            for i in range(0, len(big), BATCH):
                conn.request(
                    "POST",
                    "/v1/traces",
                    body=_request(big[i : i + BATCH]),
                    headers={"Content-Type": "application/x-protobuf", "X-Agentops-Api-Key": API_KEY},
                )
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status
            conn.close()
            session_id = uuid.UUID(bytes=big_trace)
            health = _latencies(collector.http_port, "/health", 50)
            stats = _latencies(collector.http_port, f"/v2/sessions/{session_id}/stats", 50)
            _, body = collector.get(f"/v2/sessions/{session_id}/stats", API_KEY)
            assert body["events"] == 9_999, body
            print(f"stats of a 10,000-span session: {_ms(stats)}")
            first = _latencies(collector.http_port, "/v2/sessions?limit=50", 50)
            _, page = collector.get("/v2/sessions?limit=50", API_KEY)
            for _ in range(20):
                _, page = collector.get(f"/v2/sessions?limit=50&cursor={page['next_cursor']}", API_KEY)
            later = _latencies(collector.http_port, f"/v2/sessions?limit=50&cursor={page['next_cursor']}", 50)
            by_cost = _latencies(collector.http_port, "/v2/sessions?limit=50&sort=cost", 50)
            tagged = _latencies(collector.http_port, "/v2/sessions?limit=50&tags=beta", 20)
            print(f"list 50 sessions: first page {_ms(first)}")
            print(f"  page 22 by cursor {_ms(later)}; sorted by cost {_ms(by_cost)}; tag filter {_ms(tagged)}")
            print(f"  baseline GET /health: {_ms(health)}")
            workers = _processes(collector)[1:]
            print(
                f"peak RSS of the collector: {_peak_rss_mb(collector.process.pid):.0f} MiB, plus"
                f" {sum(_peak_rss_mb(w.pid) for w in workers):.0f} MiB in {len(workers)} helper process(es)"
                " (ingest workers, multiprocessing's resource tracker)"
            )
        finally:
            collector.stop()
        stored, sessions = _stored(args, collector, data_dir)
        big_session = 10_000  # its root and 9,999 children
        assert stored == sent + big_session, f"stored {stored} spans, sent {sent + big_session}"
        print(
            f"stored {stored:,} = sent {sent + big_session:,} spans (the 10,000-span session's included),"
            f" {sessions:,} sessions"
        )


if __name__ == "__main__":
    main()
