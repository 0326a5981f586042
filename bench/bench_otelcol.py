"""OpenTelemetry Collector benchmark: spans/s through otel-collector.yaml, with and without its transform.

    .venv/bin/python bench/bench_otelcol.py            # 5 rounds of 200,000 spans per configuration
    .venv/bin/python bench/bench_otelcol.py --quick    # 3 rounds of 50,000

Two real collectors (the build of scripts/build-otelcol.sh) run side by side on free ports: the
checked-in otel-collector.yaml, and the same file with the transform processor taken out of the
pipeline (the baseline). Both export with the debug exporter (verbosity basic: one log line per
batch), so the figures are the collector's own work. Rounds alternate between the two.

A loader (2 threads, keep-alive connections) POSTs pre-built OTLP/HTTP protobuf requests of 512
spans: 30% LLM spans (curated models, current and older token names, some above price tiers),
70% other spans. A round is timed from the first request to the last acknowledgement: the OTLP
receiver acknowledges once memory_limiter and transform have run and the batch processor holds
the spans. After each round the collector's own metric ``otelcol_exporter_sent_spans`` must reach
the number sent (nothing dropped). Prints the median spans/s of each and their ratio, and the
collector's CPU time per span (user + system, from /proc: steadier than wall time on a busy box).
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the collector harness lives with the tests

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span  # noqa: E402
from tests.otelcol.otelcol import Otelcol, otelcol_binary  # noqa: E402

from agentops_otel import semconv as sc  # noqa: E402
from agentops_otel.collector.otlp import key_value  # noqa: E402

BATCH = 512
LLM_SHARE = 0.3
THREADS = 2
MODELS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("gcp.gemini", "gemini-2.5-pro"),
    ("x_ai", "grok-4"),
    ("openai", "my-fine-tune"),  # not curated: unknown-model
]
NO_TRANSFORM = "service:\n  pipelines:\n    traces:\n      processors: [memory_limiter, batch]\n"


def _attributes(rng: random.Random) -> dict[str, object]:
    if rng.random() >= LLM_SHARE:
        return {sc.SPAN_KIND: sc.KIND_TOOL, sc.GEN_AI_TOOL_NAME: "search", "http.response.status_code": 200}
    provider, model = rng.choice(MODELS)
    input_tokens = rng.choice([rng.randint(10, 5000), rng.randint(200_001, 300_000)])
    attrs: dict[str, object] = {
        sc.SPAN_KIND: sc.KIND_LLM,
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: provider,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_RESPONSE_MODEL: model,
        sc.GEN_AI_RESPONSE_ID: f"resp-{rng.getrandbits(48):x}",
    }
    if rng.random() < 0.5:  # current names
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = rng.randint(1, 2000)
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = rng.randint(0, input_tokens)
    else:  # older names, one of them as a string
        attrs[sc.LEGACY_PROMPT_TOKENS] = str(input_tokens)
        attrs[sc.LEGACY_COMPLETION_TOKENS] = rng.randint(1, 2000)
    return attrs


def build_requests(n_spans: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for start in range(0, n_spans, BATCH):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(key_value(sc.SERVICE_NAME, "bench"))
        scope_spans = resource_spans.scope_spans.add()
        trace_id = rng.randbytes(16)
        for i in range(min(BATCH, n_spans - start)):
            now = time.time_ns()
            span = Span(
                trace_id=trace_id,
                span_id=rng.randbytes(8),
                name=f"span {i}",
                kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=now,
                end_time_unix_nano=now + 1000,
            )
            span.attributes.extend(key_value(k, v) for k, v in _attributes(rng).items())
            scope_spans.spans.append(span)
        bodies.append(request.SerializeToString())
    return bodies


def load(port: int, bodies: list[bytes]) -> float:
    """POST every body over THREADS keep-alive connections; seconds from first request to last ack."""
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                conn.request("POST", "/v1/traces", bodies[index], {"Content-Type": "application/x-protobuf"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"collector refused spans: {errors[:3]}")
    return elapsed


def sent_spans(collector: Otelcol) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{collector.metrics_port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("otelcol_exporter_sent_spans{"):
                return int(float(line.rsplit(" ", 1)[1]))
    return 0


def wait_sent(collector: Otelcol, expected: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while sent_spans(collector) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sent_spans(collector)} of {expected} spans left the collector")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--spans", type=int)
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    n_spans = args.spans or (50_000 if args.quick else 200_000)

    binary = otelcol_binary()
    bodies = build_requests(n_spans)
    work = Path(tempfile.mkdtemp(prefix="bench-otelcol-"))
    env = {"AGENTOPS_OTELCOL_LOG_LEVEL": "warn"}
    configs = {
        "with transform": Otelcol(binary, work / "with", exporters=("debug",), env=env),
        "without transform": Otelcol(binary, work / "without", exporters=("debug",), env=env, overlay=NO_TRANSFORM),
    }
    results: dict[str, list[float]] = {name: [] for name in configs}
    cpu_us: dict[str, list[float]] = {name: [] for name in configs}
    try:
        for collector in configs.values():
            collector.start()
            load(collector.http_port, bodies[:20])  # warm-up
            wait_sent(collector, min(20 * BATCH, n_spans))
        for round_index in range(rounds):
            for name, collector in configs.items():
                before = sent_spans(collector)
                process = psutil.Process(collector.process.pid)
                cpu_before = sum(process.cpu_times()[:2])
                seconds = load(collector.http_port, bodies)
                wait_sent(collector, before + n_spans)
                cpu = (sum(process.cpu_times()[:2]) - cpu_before) / n_spans * 1e6
                results[name].append(n_spans / seconds)
                cpu_us[name].append(cpu)
                print(
                    f"round {round_index + 1} {name:>18}: {n_spans / seconds:>10,.0f} spans/s, {cpu:5.2f} µs CPU/span",
                    flush=True,
                )
    finally:
        for collector in configs.values():
            collector.stop()

    with_tf = statistics.median(results["with transform"])
    without = statistics.median(results["without transform"])
    llm_us = (1 / with_tf - 1 / without) / LLM_SHARE * 1e6
    cpu_with, cpu_without = statistics.median(cpu_us["with transform"]), statistics.median(cpu_us["without transform"])
    print()
    print(f"spans per round: {n_spans:,} ({LLM_SHARE:.0%} LLM spans), requests of {BATCH}, {rounds} rounds")
    print(f"with transform (otel-collector.yaml):  {with_tf:>10,.0f} spans/s (median)")
    print(f"without transform (baseline):          {without:>10,.0f} spans/s (median)")
    print(f"ratio with / without:                  {with_tf / without:>10.2f}")
    print(f"transform cost per LLM span:           {llm_us:>10.1f} µs wall (from the medians)")
    print(f"collector CPU per span with / without: {cpu_with:>10.2f} / {cpu_without:.2f} µs (medians)")
    print(f"transform CPU per LLM span:            {(cpu_with - cpu_without) / LLM_SHARE:>10.1f} µs")


if __name__ == "__main__":
    main()
