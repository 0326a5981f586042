"""Overload benchmark: the collector under hundreds of concurrent OTLP/HTTP clients, beside moderate load.

    .venv/bin/python bench/bench_overload.py                 # 8 then 512 connections, 20 s each
    .venv/bin/python bench/bench_overload.py --seconds 10 --ingest-workers 0

Each phase starts a fresh collector, stores a 2,000-span session for the REST probe, then runs
``--processes`` client processes that together hold the phase's connections open (asyncio, raw
HTTP/1.1 keep-alive) for ``--seconds``. A client behaves as the OpenTelemetry SDK's OTLP/HTTP
exporter: it POSTs 512-span protobuf requests (new spans each time), waits up to 10 s for the
answer (the exporter's default timeout: past it the batch is given up and the connection
dropped), and on 429/503 waits ``Retry-After`` seconds and sends the same request again. Meanwhile
the bench's own thread GETs ``/v2/sessions/{id}/stats`` of the probe session every 20 ms.

Printed per phase: acknowledged spans/s (answered 200 within the phase), requests refused (503)
and timed out client-side, stored spans against acknowledged ones (a request that timed out and
was stored anyway shows as stored > acknowledged: work done for a client that gave up), the
collector's peak RSS (VmHWM of its main process), and the REST probe's p50 / p99 latency.
The moderate phase is the same-run baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
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

from agentops_otel.collector.process import CollectorProcess, start_collector
from bench_collector import API_KEY, BATCH, _request, session_spans

CLIENT_TIMEOUT_S = 10.0  # the OTLP exporters' default


# --- client processes ---------------------------------------------------------------------------


class Template:
    """A 512-span request whose trace ids are replaced by fresh ones for each send (new spans each time)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        spans, ids = [], []
        while len(spans) < BATCH:
            trace_id = rng.randbytes(16)
            ids.append(trace_id)
            spans += session_spans(rng, trace_id, 4, 1_700_000_000_000_000_000 + len(spans) * 1_000_000)
        body = _request(spans[:BATCH])
        self.spans = BATCH
        positions = sorted(pos for trace_id in ids for pos in _find_all(body, trace_id))
        starts = [0, *(pos + 16 for pos in positions)]  # where each piece between two trace ids starts
        self.pieces = [body[start:pos] for start, pos in zip(starts, positions, strict=False)]
        self.tail = body[starts[-1] :]
        owner = {pos: ids.index(body[pos : pos + 16]) for pos in positions}
        self.owners = [owner[pos] for pos in positions]
        self.sessions = len(ids)

    def body(self) -> bytes:
        fresh = [os.urandom(16) for _ in range(self.sessions)]
        parts = []
        for piece, who in zip(self.pieces, self.owners, strict=True):
            parts += (piece, fresh[who])
        parts.append(self.tail)
        return b"".join(parts)


def _find_all(data: bytes, needle: bytes) -> list[int]:
    out, pos = [], data.find(needle)
    while pos >= 0:
        out.append(pos)
        pos = data.find(needle, pos + 1)
    return out


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers


async def _connection(port: int, template: Template, end: float, counts: dict) -> None:
    reader = writer = None
    while time.monotonic() < end:
        body = template.body()
        head = (
            f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
            f"X-Agentops-Api-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        while True:  # the same request until acknowledged, given up, or the phase is over
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(head + body)
                status, headers = await asyncio.wait_for(_read_response(reader), CLIENT_TIMEOUT_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                counts["timeouts" if isinstance(exc, TimeoutError) else "errors"] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                break  # the exporter gives this batch up
            if status == 200:
                counts["acknowledged" if time.monotonic() <= end else "late_acknowledged"] += template.spans
                break
            if status in (429, 503):
                counts["refused"] += 1
                delay = float(headers.get("retry-after", "1"))
                if time.monotonic() + delay > end:
                    break
                await asyncio.sleep(delay)
                continue
            counts["errors"] += 1
            break
    if writer is not None:
        writer.close()


def client_main(args: argparse.Namespace) -> None:
    template = Template(args.seed)
    counts = dict.fromkeys(("acknowledged", "late_acknowledged", "refused", "timeouts", "errors"), 0)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()  # go
    end = time.monotonic() + args.seconds

    async def run() -> None:
        await asyncio.gather(*(_connection(args.port, template, end, counts) for _ in range(args.connections)))

    cpu = time.process_time()
    asyncio.run(run())
    counts["cpu_s"] = time.process_time() - cpu
    print(json.dumps(counts), flush=True)


# --- phases -------------------------------------------------------------------------------------


def _probe(port: int, path: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={"X-Agentops-Api-Key": API_KEY})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(str(response.status))
        except OSError as exc:
            failures.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        stop.wait(0.02)
    conn.close()


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _store_probe_session(collector: CollectorProcess) -> str:
    trace_id = random.Random(7).randbytes(16)
    spans = session_spans(random.Random(8), trace_id, 1_999, 1_700_000_000_000_000_000)
    conn = http.client.HTTPConnection("127.0.0.1", collector.http_port, timeout=60)
    for i in range(0, len(spans), BATCH):
        headers = {"Content-Type": "application/x-protobuf", "X-Agentops-Api-Key": API_KEY}
        conn.request("POST", "/v1/traces", body=_request(spans[i : i + BATCH]), headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    conn.close()
    return str(uuid.UUID(bytes=trace_id))


def run_phase(args: argparse.Namespace, connections: int, processes: int) -> dict:
    collector_args = ["--no-grpc", "--log-level", "warning", *args.collector_arg]
    if args.ingest_workers is not None:
        collector_args += ["--ingest-workers", str(args.ingest_workers)]
    with tempfile.TemporaryDirectory(prefix="agentops-bench-overload-") as data_dir:
        collector = start_collector(data_dir, args=collector_args)
        try:
            session_id = _store_probe_session(collector)
            probe_spans = 2_000
            per_process = [connections // processes + (i < connections % processes) for i in range(processes)]
            clients = []
            for i, count in enumerate(per_process):
                command = [
                    sys.executable,
                    __file__,
                    "--client",
                    f"--port={collector.http_port}",
                    f"--connections={count}",
                    f"--seconds={args.seconds}",
                    f"--seed={i + 1}",
                ]
                clients.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            for client in clients:
                assert json.loads(client.stdout.readline())["ready"]
            latencies: list[float] = []
            failures: list[str] = []
            stop = threading.Event()
            probe = threading.Thread(
                target=_probe,
                args=(collector.http_port, f"/v2/sessions/{session_id}/stats", stop, latencies, failures),
            )
            import psutil

            main = psutil.Process(collector.process.pid)
            cpu_before = sum(sum(p.cpu_times()[:2]) for p in [main, *main.children(recursive=True)])
            for client in clients:
                client.stdin.write("go\n")
                client.stdin.flush()
            probe.start()
            totals: dict[str, float] = {}
            for client in clients:
                for name, value in json.loads(client.stdout.readline()).items():
                    totals[name] = totals.get(name, 0) + value
                client.wait(timeout=60)
            collector_cpu = sum(sum(p.cpu_times()[:2]) for p in [main, *main.children(recursive=True)]) - cpu_before
            stop.set()
            probe.join()
            time.sleep(1)  # whatever was still being committed for a client that gave up
            with sqlite3.connect(collector.db_path) as db:
                stored = db.execute("SELECT count(*) FROM spans").fetchone()[0] - probe_spans
            try:
                _, status = collector.get("/v2/status", API_KEY, timeout=60)
                refused_by_collector = status["ingest"]["requests_refused"]
            except OSError:  # a collector still busy with what its clients gave up on
                refused_by_collector = None
            rss = _peak_rss_mib(collector.process.pid)
        finally:
            collector.stop()
    ordered = sorted(latencies)
    return {
        "connections": connections,
        "acknowledged_per_s": totals["acknowledged"] / args.seconds,
        "acknowledged": totals["acknowledged"] + totals["late_acknowledged"],
        "refused": totals["refused"],
        "refused_by_collector": refused_by_collector,
        "timeouts": totals["timeouts"],
        "errors": totals["errors"],
        "stored": stored,
        "peak_rss_mib": rss,
        "rest_p50_ms": statistics.median(ordered),
        "rest_p99_ms": ordered[min(len(ordered), math.ceil(len(ordered) * 0.99)) - 1],
        "rest_probes": len(ordered),
        "rest_failures": failures[:3],
        "collector_cpu_s": collector_cpu,
        "clients_cpu_s": totals["cpu_s"],
    }


def _line(name: str, r: dict) -> str:
    same = "=" if r["stored"] == r["acknowledged"] else "!="
    return (
        f"{name:>9} ({r['connections']:>3} connections): {r['acknowledged_per_s']:>9,.0f} acknowledged spans/s;"
        f" {r['refused']:,} refused (collector counted {r['refused_by_collector']}), {r['timeouts']:,} timed out,"
        f" {r['errors']:,} errors; stored {r['stored']:,} {same} acknowledged {r['acknowledged']:,};"
        f" peak RSS {r['peak_rss_mib']:.0f} MiB; REST stats p50 {r['rest_p50_ms']:.1f} ms,"
        f" p99 {r['rest_p99_ms']:.1f} ms ({r['rest_probes']} probes"
        + (f", failures {r['rest_failures']}" if r["rest_failures"] else "")
        + f"); CPU s: collector {r['collector_cpu_s']:.1f}, clients {r['clients_cpu_s']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--moderate", type=int, default=8, help="connections of the moderate phase")
    parser.add_argument("--heavy", type=int, default=512, help="connections of the heavy phase")
    parser.add_argument("--processes", type=int, default=4, help="client processes of the heavy phase")
    parser.add_argument("--ingest-workers", type=int, default=None, help="passed to the collector")
    parser.add_argument("--collector-arg", action="append", default=[], help="another collector flag (repeatable)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args)
    workers = "default" if args.ingest_workers is None else args.ingest_workers
    print(
        f"overload benchmark: {args.seconds:.0f} s per phase, 512-span requests, {os.cpu_count()} CPUs,"
        f" --ingest-workers {workers} {' '.join(args.collector_arg)}"
    )
    moderate = run_phase(args, args.moderate, 1)
    print(_line("moderate", moderate), flush=True)
    heavy = run_phase(args, args.heavy, args.processes)
    print(_line("heavy", heavy), flush=True)
    print(
        f"heavy / moderate: acknowledged spans/s {heavy['acknowledged_per_s'] / moderate['acknowledged_per_s']:.2f},"
        f" REST p99 {heavy['rest_p99_ms'] / moderate['rest_p99_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
