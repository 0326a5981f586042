"""SDK benchmarks: what recording costs the application, how long end_session waits, what a burst loses.

Run: ``.venv/bin/python bench/bench_sdk.py [--quick]``. Prints, each as the median of several runs:

- cost per ``record(ActionEvent)``, per ``record(LLMEvent)`` (priced in the export thread, which
  runs alongside), per ``@record_action`` call (also with a 50 MB string argument, cut to 8 KB
  before it is serialised) and per ``@record_tool`` generator call, against a
  bare OpenTelemetry span (``start_as_current_span`` on an SDK TracerProvider with a
  BatchSpanProcessor) measured in the same run; and the same calls with ``OTEL_SDK_DISABLED``;
- ``end_session`` latency with 1,000 events pending and a live OTLP/HTTP receiver (its own process),
  a refused port and a hung one (``max_wait_time`` 2,000 ms);
- spans lost in a 50,000-event burst exported over OTLP/HTTP, with the SDK's queue and, for
  comparison, with OpenTelemetry's default BatchSpanProcessor (queue 2,048);
- the spool's happy-path cost: ``record(ActionEvent)`` exporting over real OTLP/HTTP to a live
  receiver, ``end_session`` with 1,000 events pending, and a 50,000-event burst's delivery, each
  through the SDK's spooling exporter and through OpenTelemetry's plain OTLPSpanExporter
  (``init(exporter=...)``: no spool) in the same run.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AGENTOPS_SPOOL_DIR", tempfile.mkdtemp(prefix="bench-sdk-spool-"))  # never the user's

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from tests.support.otlp_sink import OtlpSink

import agentops_otel as ao
from agentops_otel import client as client_module

logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # dead-collector runs log every retry
logging.getLogger("agentops_otel").setLevel(logging.ERROR)


class DiscardExporter(SpanExporter):
    """Accepts and drops spans: measures the SDK, not the network."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def fresh_client(**init: object) -> tuple[client_module.Client, ao.Session | None]:
    client = client_module.Client()
    client_module.set_client(client)
    init.setdefault("instrument_llm_calls", False)
    init.setdefault("exit_handlers", False)
    init.setdefault("tracer_provider", TracerProvider())
    return client, ao.init(**init)


def timed(fn: Callable[[], object], n: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def versus(fn: Callable[[], object], baseline: Callable[[], object], n: int, runs: int) -> tuple[float, float]:
    """Median seconds per call of ``fn`` and of ``baseline``, measured alternately (same noise)."""
    ours, base = [], []
    for _ in range(runs):
        base.append(timed(baseline, n))
        ours.append(timed(fn, n))
    return statistics.median(ours), statistics.median(base)


def bench_overhead(n: int, runs: int) -> None:
    bare_provider = TracerProvider()
    bare_provider.add_span_processor(BatchSpanProcessor(DiscardExporter(), max_queue_size=100_000))
    bare_tracer = bare_provider.get_tracer("bench")

    def bare_span() -> None:
        with bare_tracer.start_as_current_span("bare"):
            pass

    @ao.record_action("decorated")
    def decorated(a: int, b: int = 2) -> int:
        return a + b

    @ao.record_action("takes")
    def takes(blob: str) -> None:
        return None

    huge = "x" * 50_000_000

    @ao.record_tool("gen")
    def gen_tool() -> object:
        yield 1

    def record_action() -> None:
        ao.record(ao.ActionEvent(action_type="a"))

    def record_llm() -> None:
        ao.record(ao.LLMEvent(model="gpt-4o", provider="openai", prompt_tokens=100, completion_tokens=20))

    cases = [
        ("record(ActionEvent)", record_action),
        ("record(LLMEvent)", record_llm),
        ("@record_action call", lambda: decorated(1, b=3)),
        ("@record_action, 50 MB str argument", lambda: takes(huge)),
        ("@record_tool generator", lambda: list(gen_tool())),
    ]
    client, session = fresh_client(exporter=DiscardExporter())
    print(f"\n## Overhead per call (median of {runs} runs x {n:,} calls, each run beside a baseline run)")
    print(f"{'':34s} {'ours':>8s}   {'bare OTel span':>14s}   ratio")
    for name, fn in cases:
        ours, base = versus(fn, bare_span, n, runs)
        print(f"{name:34s} {ours * 1e6:6.1f} µs   {base * 1e6:11.1f} µs   {ours / base:.2f}x")
    assert session is not None
    session.end_session("Success")
    client.shutdown()

    os.environ["OTEL_SDK_DISABLED"] = "true"
    try:
        client, session = fresh_client()
        print("with OTEL_SDK_DISABLED=true:")
        for name, fn in cases:
            ours, base = versus(fn, bare_span, n, runs)
            print(f"{name:34s} {ours * 1e6:6.1f} µs   {base * 1e6:11.1f} µs   {ours / base:.2f}x")
        client.shutdown()
    finally:
        del os.environ["OTEL_SDK_DISABLED"]
    bare_provider.shutdown()


def refused_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def bench_end_session(runs: int, sink: OtlpSink) -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    endpoints = {
        "live collector": sink.endpoint,
        "refused port": refused_endpoint(),
        "hung collector": f"http://127.0.0.1:{hung.getsockname()[1]}",
    }
    print(f"\n## end_session latency, 1,000 events pending, max_wait_time 2000 ms (median of {runs})")
    for name, endpoint in endpoints.items():
        samples = []
        for _ in range(runs):
            client, _ = fresh_client(auto_start_session=False, endpoint=endpoint, max_wait_time=2000)
            session = ao.start_session()
            for _ in range(1000):
                session.record(ao.ActionEvent())
            started = time.perf_counter()
            session.end_session("Success")
            samples.append(time.perf_counter() - started)
            client.shutdown()
        print(f"{name:34s} {statistics.median(samples) * 1000:8.1f} ms   (max {max(samples) * 1000:.1f} ms)")
    hung.close()


def bench_burst(n: int, sink: OtlpSink) -> None:
    print(f"\n## Burst of {n:,} events exported over OTLP/HTTP to a receiver process")
    before = sink.count()
    client, session = fresh_client(endpoint=sink.endpoint, max_wait_time=120_000)
    assert session is not None
    started = time.perf_counter()
    for _ in range(n):
        session.record(ao.ActionEvent())
    recorded = time.perf_counter() - started
    session.end_session("Success")
    delivered = wait_count(sink, before + n + 1, 120) - before - 1
    total = time.perf_counter() - started
    label = "agentops-otel (queue 100,000)"
    print(f"{label:34s} lost {n - delivered:6,d}   recorded in {recorded:.2f} s, delivered in {total:.2f} s")
    client.shutdown()

    before = sink.count()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{sink.endpoint}/v1/traces")))
    tracer = provider.get_tracer("burst")
    for _ in range(n):
        tracer.start_span("bare").end()
    provider.force_flush()
    delivered = wait_count(sink, before + n, 10, settle=True) - before
    print(f"{'OTel default BatchSpanProcessor':34s} lost {n - delivered:6,d}")
    provider.shutdown()


def bench_spool_happy_path(n: int, runs: int, sink: OtlpSink) -> None:
    """The same work exported through the spooling exporter and through a plain OTLP exporter."""

    def plain() -> dict[str, object]:
        return {"exporter": OTLPSpanExporter(endpoint=f"{sink.endpoint}/v1/traces")}

    setups = {"spooling exporter": lambda: {}, "plain OTLPSpanExporter": plain}

    def record_cost(options: dict[str, object]) -> float:
        client, session = fresh_client(endpoint=sink.endpoint, max_wait_time=60_000, **options)
        assert session is not None
        cost = timed(lambda: session.record(ao.ActionEvent(action_type="a")), n)
        session.end_session("Success")
        client.shutdown()
        return cost

    def end_latency(options: dict[str, object]) -> float:
        client, session = fresh_client(endpoint=sink.endpoint, max_wait_time=60_000, **options)
        assert session is not None
        for _ in range(1000):
            session.record(ao.ActionEvent())
        started = time.perf_counter()
        session.end_session("Success")
        took = time.perf_counter() - started
        client.shutdown()
        return took

    def burst(options: dict[str, object]) -> float:
        before = sink.count()
        client, session = fresh_client(endpoint=sink.endpoint, max_wait_time=120_000, **options)
        assert session is not None
        started = time.perf_counter()
        for _ in range(50_000):
            session.record(ao.ActionEvent())
        session.end_session("Success")
        wait_count(sink, before + 50_001, 120)
        took = time.perf_counter() - started
        client.shutdown()
        return took

    print(f"\n## Spool, happy path: the same work with and without it (medians of {runs}, alternating)")
    for title, measure, unit, scale in (
        (f"record(ActionEvent), OTLP/HTTP live ({n:,} calls)", record_cost, "µs", 1e6),
        ("end_session, 1,000 events pending", end_latency, "ms", 1e3),
        ("50,000 events recorded and delivered", burst, "s", 1.0),
    ):
        samples: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(runs):
            for name, options in setups.items():
                samples[name].append(measure(options()))
        spool, base = (statistics.median(samples[name]) for name in setups)
        print(f"{title:44s} spool {spool * scale:8.2f} {unit}   plain {base * scale:8.2f} {unit}   {spool / base:.2f}x")


def wait_count(sink: OtlpSink, target: int, timeout: float, settle: bool = False) -> int:
    """The sink's count once it reaches ``target`` (or stops growing, with ``settle``) or on timeout."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = sink.count()
        if count >= target:
            return count
        if count != last:
            last, last_change = count, time.monotonic()
        elif settle and time.monotonic() - last_change > 2:
            return count
        time.sleep(0.05)
    return sink.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and runs")
    args = parser.parse_args()
    n, runs = (2_000, 3) if args.quick else (20_000, 5)
    print(f"agentops-otel SDK benchmark — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    bench_overhead(n, runs)
    with OtlpSink() as sink:
        bench_end_session(3 if args.quick else 5, sink)
        bench_burst(50_000, sink)
        bench_spool_happy_path(n, 3 if args.quick else 5, sink)


if __name__ == "__main__":
    main()
