"""Collector outages at full length, and how fast a spool drains: figures for the README.

Run: ``.venv/bin/python bench/bench_outage.py [--quick] [--otelcol] [--skip-long]``. Real processes
throughout (tests/support/outage.py): an app recording 100 events/s into one session, the real
agentops-otel collector SIGKILLed and restarted on the same ports and data.

- 60 s session, collector SIGKILLed for 20 s (the app delivers its spool once it is back);
- 60 s session, collector SIGKILLed for 120 s (the session ends and the app exits during the
  outage; ``agentops-otel spool flush`` delivers once the collector is back);
- with ``--otelcol``: app -> upstream OpenTelemetry Collector (otel-collector.yaml, real build) ->
  agentops-otel collector, the latter SIGKILLed for 60 s;
- drain: a 100,000-span spool (written by an app whose collector was down) delivered into the
  restarted collector by the spool's delivery loop (what ``agentops-otel spool flush`` runs, here
  without the command's start-up), median of 3.

Each prints recorded vs stored events, stored rows vs distinct span ids, the end state, re-sent
spans the collector acknowledged and stored once, and how long after the restart all had arrived.
``--quick`` runs the CI sizes (10 s at 100 events/s, 5 s outage).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.outage import KEY, App, Outage, Result, mid_session_outage

from agentops_otel.collector.process import start_collector
from agentops_otel.delivery import Delivery
from agentops_otel.spool import decode_file, open_spool


def report(title: str, result: Result) -> None:
    ok = result.events == result.recorded and result.rows == result.distinct == result.recorded + 1
    print(
        f"{title:52s} recorded {result.recorded:6,d}  stored {result.events:6,d}  rows {result.rows:6,d} "
        f"(distinct {result.distinct:6,d})  {result.end_state:13s} re-sent {result.duplicates_received:4d}  "
        f"all stored {result.delivered_after_restart_s:5.1f} s after restart  end_session "
        f"{result.end_session_s * 1000:.0f} ms  {'OK' if ok else 'LOST OR DOUBLED'}"
    )


def sdk_outages(rate: float, seconds: float, outages: list[float]) -> None:
    print(f"\n## SDK -> agentops-otel collector, {rate:.0f} events/s for {seconds:.0f} s, collector SIGKILLed")
    events = int(rate * seconds)
    for outage_s in outages:
        with tempfile.TemporaryDirectory(prefix="bench-outage-") as tmp, Outage(Path(tmp), backoff_ms=None) as outage:
            kill_at = events // 3
            if outage_s < seconds - seconds / 3:
                result = mid_session_outage(outage, events, rate, kill_at, restart_at=kill_at + int(outage_s * rate))
            else:
                result = mid_session_outage(outage, events, rate, kill_at, outage_s=outage_s)
            report(f"down {outage_s:.0f} s from {kill_at / rate:.0f} s", result)


def otelcol_outage(rate: float, seconds: float, outage_s: float) -> None:
    from tests.otelcol.otelcol import Otelcol, otelcol_binary
    from tests.otelcol.test_persistent_queue import upstream

    print(f"\n## SDK -> upstream OpenTelemetry Collector -> agentops-otel collector (SIGKILLed {outage_s:.0f} s)")
    binary = otelcol_binary()
    events = int(rate * seconds)
    with tempfile.TemporaryDirectory(prefix="bench-outage-") as tmp, Outage(Path(tmp) / "agentops") as outage:
        otelcol: Otelcol = upstream(binary, Path(tmp) / "otelcol", outage)
        with otelcol:
            outage.app_endpoint = otelcol.http_endpoint
            kill_at = events // 6
            if outage_s < seconds - kill_at / rate:
                result = mid_session_outage(outage, events, rate, kill_at, restart_at=kill_at + int(outage_s * rate))
            else:
                result = mid_session_outage(outage, events, rate, kill_at, outage_s=outage_s)
            report(f"down {outage_s:.0f} s from {kill_at / rate:.0f} s", result)


def drain(spans: int, runs: int) -> None:
    print(f"\n## Draining a {spans + 1:,}-span spool into the collector, median of {runs}")
    rates: list[float] = []
    baselines: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp, Outage(Path(tmp)) as outage:
            outage.kill()
            app = App(outage, spans, 1e9)
            try:
                app.wait_for("DONE", timeout=600)
                assert app.exit_code() == 0, app.stderr
            finally:
                app.kill()
            spooled = sum(int(p.name.split("-")[2]) for p in outage.spool_dir.glob("*.otlp"))
            size = sum(p.stat().st_size for p in outage.spool_dir.glob("*.otlp"))
            requests = len(list(outage.spool_dir.glob("*.otlp")))
            bodies = [decode_file(p.read_bytes()).data for p in sorted(outage.spool_dir.glob("*.otlp"))]
            outage.start()
            spool = open_spool(str(outage.spool_dir), 1 << 40, 86400)
            delivery = Delivery(spool, max_backoff_s=1)
            started = time.perf_counter()
            while spool.entries():
                time.sleep(delivery.deliver_once())
            took = time.perf_counter() - started
            stats = outage.wait_stored(app.session_id, spans)
            assert stats["events"] == spans and outage.stored_spans(app.session_id) == (spans + 1, spans + 1)
            rates.append(spooled / took)
            files = len(list(outage.spool_dir.glob("*.otlp")))
            print(f"  {spooled:,} spans ({size / 2**20:.1f} MiB in {requests} requests) delivered in {took:.1f} s: "
                  f"{spooled / took:,.0f} spans/s; {files} files left, {outage.duplicates_received()} re-sent")
            raw = post_directly(bodies, Path(tmp) / "baseline")
            baselines.append(spooled / raw)
            print(f"  baseline: the same {requests} requests POSTed one after the other to a fresh collector: "
                  f"{raw:.1f} s, {spooled / raw:,.0f} spans/s")
    spool, base = statistics.median(rates), statistics.median(baselines)
    print(f"median {spool:,.0f} spans/s; baseline {base:,.0f} spans/s ({spool / base:.2f}x)")


def post_directly(bodies: list[bytes], data_dir: Path) -> float:
    """Seconds to POST ``bodies`` one after the other to a fresh collector (the same requests, no spool)."""
    collector = start_collector(data_dir)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", collector.http_port, timeout=120)
        headers = {"Content-Type": "application/x-protobuf", "X-Agentops-Api-Key": KEY}
        started = time.perf_counter()
        for body in bodies:
            conn.request("POST", "/v1/traces", body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        took = time.perf_counter() - started
        conn.close()
        return took
    finally:
        collector.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI sizes: 10 s at 100 events/s, a 5 s outage")
    parser.add_argument("--otelcol", action="store_true", help="also through the upstream OpenTelemetry Collector")
    parser.add_argument("--skip-long", action="store_true", help="no 120 s outage")
    parser.add_argument("--drain-only", action="store_true", help="only the 100,000-span drain")
    args = parser.parse_args()
    if args.quick:
        sdk_outages(100, 10, [5])
        drain(10_000, 1)
        if args.otelcol:
            otelcol_outage(100, 10, 5)
        return
    if args.drain_only:
        drain(100_000, 3)
        return
    sdk_outages(100, 60, [20] if args.skip_long else [20, 120])
    if args.otelcol:
        otelcol_outage(100, 60, 60)
    drain(100_000, 3)


if __name__ == "__main__":
    main()
