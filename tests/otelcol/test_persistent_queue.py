"""otel-collector.yaml's persistent sending queue: what the upstream OpenTelemetry Collector
acknowledged reaches the agentops-otel collector once, through an outage of the agentops-otel
collector and through a SIGKILL of the upstream Collector itself (real binary, real processes).
bench/bench_outage.py runs the full-length outage (60 s)."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from agentops_otel.otelcol_config import AGENTOPS_EXPORTER_ID
from tests.collector.conftest import SessionBuilder, otlp_request
from tests.otelcol.otelcol import Otelcol
from tests.support.outage import KEY, Outage, mid_session_outage

pytestmark = [pytest.mark.otelcol, pytest.mark.timeout(300)]


def upstream(otelcol_bin: Path, workdir: Path, outage: Outage) -> Otelcol:
    """The upstream Collector with otel-collector.yaml, exporting to ``outage``'s collector only."""
    return Otelcol(
        otelcol_bin,
        workdir,
        exporters=(AGENTOPS_EXPORTER_ID,),
        env={
            "AGENTOPS_COLLECTOR_ENDPOINT": f"http://127.0.0.1:{outage.http_port}",
            "AGENTOPS_API_KEY": KEY,
            "AGENTOPS_OTELCOL_RETRY_MAX_INTERVAL": "1s",  # retry soon after the collector is back
        },
    )


def send_sessions(endpoint_port: int, count: int, spans_each: int) -> set[tuple[bytes, bytes]]:
    """POST ``count`` sessions to the upstream Collector; the (trace id, span id) it acknowledged."""
    acknowledged: set[tuple[bytes, bytes]] = set()
    for n in range(count):
        session = SessionBuilder.new(seed=n)
        spans = [session.span(f"step-{i}", {}) for i in range(spans_each)] + [session.root()]
        conn = http.client.HTTPConnection("127.0.0.1", endpoint_port, timeout=60)
        try:
            conn.request("POST", "/v1/traces", otlp_request(spans), {"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        if response.status == 200:
            acknowledged |= {(s.trace_id, s.span_id) for s in spans}
    return acknowledged


def stored(outage: Outage) -> set[tuple[bytes, bytes]]:
    import sqlite3

    with sqlite3.connect(outage.data_dir / "agentops.sqlite3") as db:
        return set(db.execute("SELECT s.trace_id, p.span_id FROM spans p JOIN sessions s ON s.seq = p.seq"))


def wait_stored(outage: Outage, wanted: set, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not wanted <= stored(outage):
        assert time.monotonic() < deadline, f"{len(wanted - stored(outage))} acknowledged spans never arrived"
        time.sleep(0.2)


def test_an_sdk_session_through_the_upstream_collector_survives_an_agentops_collector_outage(otelcol_bin, tmp_path):
    with Outage(tmp_path / "agentops") as outage, upstream(otelcol_bin, tmp_path / "otelcol", outage) as otelcol:
        outage.app_endpoint = otelcol.http_endpoint
        result = mid_session_outage(outage, events=500, rate=100, kill_at=100, restart_at=400)
        assert (result.events, result.rows, result.distinct) == (500, 501, 501)
        assert result.end_state == "Success"
        # the app never saw the outage: the upstream Collector acknowledged everything at once
        assert not list(outage.spool_dir.glob("*.otlp"))


def test_what_the_upstream_collector_acknowledged_survives_its_sigkill(otelcol_bin, tmp_path):
    with Outage(tmp_path / "agentops") as outage:
        outage.kill()  # nothing can leave the upstream Collector: all it takes waits in its queue
        otelcol = upstream(otelcol_bin, tmp_path / "otelcol", outage).start()
        try:
            acknowledged = send_sessions(otelcol.http_port, count=20, spans_each=49)
            assert len(acknowledged) == 20 * 50
            otelcol.kill()
            otelcol.start()  # same storage directory
            outage.start()
            wait_stored(outage, acknowledged)
        finally:
            otelcol.stop()
        assert stored(outage) == acknowledged  # each once (the store keeps one row per span id)
        assert outage.duplicates_received() == 0
