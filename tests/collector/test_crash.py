"""kill -9 of the collector in the middle of ingestion loses nothing it acknowledged."""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
import uuid

from agentops_otel import semconv as sc
from agentops_otel.collector.process import start_collector
from tests.collector.conftest import KEY, SessionBuilder, otlp_request


def _sender(port: int, seed: int, acked: list, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        session = SessionBuilder.new(seed=seed * 100_000 + n)
        n += 1
        spans = [session.llm("gpt-4o-mini", 10, 2) for _ in range(30)]
        spans += [session.span("tool", {sc.SPAN_KIND: sc.KIND_TOOL}) for _ in range(69)]
        spans.append(session.root())
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "POST",
                "/v1/traces",
                body=otlp_request(spans),
                headers={"Content-Type": "application/x-protobuf", "X-Agentops-Api-Key": KEY},
            )
            response = conn.getresponse()
            response.read()
            conn.close()
        except OSError:
            return  # the collector is gone
        if response.status == 200:
            acked.append({(s.trace_id, s.span_id) for s in spans})


def test_kill_9_during_ingest_loses_nothing_acknowledged(tmp_path):
    data_dir = tmp_path / "data"
    collector = start_collector(data_dir)
    acked: list[set] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_sender, args=(collector.http_port, i, acked, stop)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(acked) >= 30, "ingestion did not get going"
        collector.kill()  # SIGKILL while the senders are still sending
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        collector.kill()
    acknowledged = set().union(*acked)

    restarted = start_collector(data_dir)  # recovers the WAL
    try:
        with sqlite3.connect(restarted.db_path) as db:
            stored = set(db.execute("SELECT s.trace_id, p.span_id FROM spans p JOIN sessions s ON s.seq = p.seq"))
            events = db.execute("SELECT coalesce(sum(events), 0) FROM sessions").fetchone()[0]
            non_root = db.execute("SELECT count(*) FROM spans WHERE kind IS NOT 'session'").fetchone()[0]
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged spans lost"
        assert events == non_root, "the rollup committed together with its spans"
        # and the restarted collector serves them
        trace_id = next(iter(acknowledged))[0]
        status, stats = restarted.get(f"/v2/sessions/{uuid.UUID(bytes=trace_id)}/stats", KEY)
        assert status == 200 and stats["events"] == 99 and stats["llm_calls"] == 30
    finally:
        restarted.stop()
