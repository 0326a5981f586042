"""What the LLM instrumentation adds to a call, measured in one run against the same local server.

Modes, measured side by side in the same process:
- plain: no span;
- bare span: one empty span around the request;
- same span: the span and attributes the instrumentation sets, built ahead of time (what the
  OpenTelemetry SDK alone charges for them);
- instrumented: the instrumentation, spans to a plain SDK TracerProvider;
- in session: the instrumentation inside a running agentops-otel session (the SDK's session span
  processor stamps the session id and counts the call as it ends, as under ``agentops_otel.init()``;
  the call is priced later in the export worker thread).

1. Non-streamed chat call, real ``openai`` client over HTTP to the replay server on 127.0.0.1 (in
   a child process, so it never competes with the measured calls for the GIL):
   per-call latency, modes alternating call by call. p50/p95, the added p50, the median of paired
   differences, and the added p50 of this thread's CPU time (the same measure, without preemption).
2. The same without the network: the request wrapper around a stand-in for the HTTP call that
   returns a ready ``ChatCompletion`` (less noise than 1; separates the SDK's cost from ours). Modes
   alternate in blocks of 100 calls; median and 10th percentile of the blocks.
3. Streamed chat: cost added per chunk, end to end over HTTP (long SSE stream) and in process (the
   stream proxy over ready ``ChatCompletionChunk`` objects).

1 and 2 run ``--rounds`` times (default 3); the summary gives the median over rounds.
Spans go to real SDK TracerProviders with a BatchSpanProcessor and an exporter that drops them.
Run: ``.venv/bin/python bench/bench_instrumentation.py [--quick] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openai
import openai._base_client as openai_base
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.replay import FIXTURES_DIR, ReplayServer, load_interactions

from agentops_otel import semconv as sc
from agentops_otel.client import Client
from agentops_otel.config import Configuration
from agentops_otel.instrumentation import instrument, uninstrument
from agentops_otel.instrumentation._call import LLMCall
from agentops_otel.instrumentation._patching import Patch, wrap_method
from agentops_otel.instrumentation._settings import make_settings
from agentops_otel.instrumentation._streams import SyncStreamProxy
from agentops_otel.instrumentation.openai import OpenAIInstrumentor

CLIENT_OPTIONS: dict[str, Any] = {"api_key": "bench", "max_retries": 0}
MODES = ("bare span", "same span", "instrumented", "in session")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name a prime."}]}
# what the instrumentor prepares once per client (its server is the replay server's, port aside)
CLIENT_ATTRS = {
    sc.SPAN_KIND: sc.KIND_LLM,
    sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
    sc.SERVER_ADDRESS: "127.0.0.1",
    sc.SERVER_PORT: 8080,
}


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def make_provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=100_000))
    return provider


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"


def long_stream_interaction(chunks: int) -> dict[str, Any]:
    template = load_interactions(FIXTURES_DIR / "openai/chat_stream_usage.json")[0]
    first = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": "token "}, "finish_reason": None}],
        "usage": None,
    }
    line = "data: " + json.dumps(first, separators=(",", ":")) + "\n\n"
    body = line * chunks + "data: [DONE]\n\n"
    return {"request": template["request"], "response": {**template["response"], "body": body}}


def _serve(interactions: list[dict[str, Any]], conn: Any) -> None:
    with ReplayServer(repeat=True) as server:
        server.load(interactions)
        conn.send(server.openai_base_url)
        conn.recv()  # until the benchmark is done


class ServerProcess:
    """The replay server in a child process: in this process's threads it would compete with the
    measured calls for the GIL, and the figures would include that, which a real provider never does."""

    def __init__(self, interactions: list[dict[str, Any]]) -> None:
        self._conn, child = multiprocessing.Pipe()
        spawn = multiprocessing.get_context("spawn")
        self._process = spawn.Process(target=_serve, args=(interactions, child), daemon=True)
        self._process.start()
        self.openai_base_url: str = self._conn.recv()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


# --- 1. end to end, non-streamed ------------------------------------------------------------------
class BareSpan:
    """A span around the request and nothing else: empty, or with attributes built ahead of time (the
    same ones the instrumentation sets), which is what the OpenTelemetry SDK alone charges for them."""

    def __init__(self, provider: TracerProvider, attributes: tuple[dict[str, Any], dict[str, Any]] | None = None):
        self.tracer = provider.get_tracer("bench")
        self.request_attrs, self.response_attrs = attributes or ({}, {})

    def _wrapper(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        span = self.tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=self.request_attrs)
        try:
            return wrapped(*args, **kwargs)
        finally:
            if self.response_attrs:
                span.set_attributes(self.response_attrs)
            span.end()

    def patches(self) -> list[Patch]:
        return [wrap_method(openai_base.SyncAPIClient, "request", self._wrapper)]


def contract_attributes() -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes the instrumentation sets for the benchmark's chat call, request side and response side."""
    endpoint = OpenAIInstrumentor.endpoints["/chat/completions"]
    request = {**CLIENT_ATTRS, sc.GEN_AI_OPERATION_NAME: endpoint.operation, **endpoint.request_attributes(CHAT, False)}
    return request, endpoint.response_attributes(bench_completion(), False)


def bench_completion() -> ChatCompletion:
    body = load_interactions(FIXTURES_DIR / "openai/chat_cached_reasoning.json")[0]["response"]["body"]
    return ChatCompletion.model_validate_json(body)


class Switch:
    """Turns installed patches off and on again without rebuilding them, so every mode pays the same
    (small) price for switching, and the tracer and wrappers stay warm as in a real process."""

    def __init__(self, patches: Sequence[Patch]) -> None:
        self.patches = list(patches)
        self.off()

    def on(self) -> None:
        for patch in self.patches:
            setattr(patch.owner, patch.name, patch.replacement)

    def off(self) -> None:
        for patch in self.patches:
            setattr(patch.owner, patch.name, patch.original)


class SessionSetup:
    """A real agentops-otel Client on its own TracerProvider (session span processor, export pipeline
    into a dropping exporter) with one running session, and instrumentation settings that use it."""

    def __init__(self) -> None:
        self.config = Configuration(instrument_llm_calls=False, auto_start_session=False, exit_handlers=False)
        self.client = Client()
        self.client.init(self.config, tracer_provider=TracerProvider(), exporter=DropExporter())
        self.session = self.client.start_session(attach=False)
        self.settings = make_settings(self.client.provider, self.config)

    def enter(self) -> Callable[[], None]:
        """Make the session current for the instrumentor; returns the undo."""
        instrumentor = OpenAIInstrumentor()
        previous = instrumentor._settings
        instrumentor._settings = self.settings
        token = otel_context.attach(self.session.root_context)

        def leave() -> None:
            otel_context.detach(token)
            instrumentor._settings = previous

        return leave

    def close(self) -> None:
        self.session.end_session("Success")
        self.client.shutdown()


class SessionSwitch(Switch):
    """The instrumentation's patches, with the session current while they are on."""

    def __init__(self, patches: Sequence[Patch], setup: SessionSetup) -> None:
        self.setup = setup
        self._leave: Callable[[], None] | None = None
        super().__init__(patches)

    def on(self) -> None:
        super().on()
        self._leave = self.setup.enter()

    def off(self) -> None:
        if self._leave is not None:
            self._leave()
            self._leave = None
        super().off()


def bench_calls(
    client: openai.OpenAI, provider: TracerProvider, setup: SessionSetup, calls: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-call wall-clock and CPU times of this thread, by mode.

    Modes alternate call by call (switched between calls, outside the timing), so the box's noise,
    which drifts by milliseconds over seconds, hits every mode alike. The client is busy on the CPU
    for the whole call (the server answers at once), and the instrumentation never waits on anything,
    so the thread's CPU time is the same measure without the other processes' preemptions.
    """
    original = openai_base.SyncAPIClient.__dict__["request"]
    bare = Switch(BareSpan(provider).patches())  # each switch wraps the original, then turns itself off
    same = Switch(BareSpan(provider, contract_attributes()).patches())
    instrument(tracer_provider=provider, config=Configuration())
    patches = OpenAIInstrumentor()._patches
    switches = {
        "plain": Switch([Patch(openai_base.SyncAPIClient, "request", original, original)]),  # same switching cost
        "bare span": bare,
        "same span": same,
        "instrumented": Switch(patches),
        "in session": SessionSwitch(patches, setup),
    }
    assert openai_base.SyncAPIClient.__dict__["request"] is original
    times: dict[str, list[float]] = {mode: [] for mode in switches}
    cpu: dict[str, list[float]] = {mode: [] for mode in switches}
    for _ in range(20):  # warm up
        client.chat.completions.create(**CHAT)
    modes = list(switches)
    for i in range(calls):
        for mode in modes[i % len(modes) :] + modes[: i % len(modes)]:  # rotate: no mode always runs first
            switch = switches[mode]
            switch.on()
            start, start_cpu = time.perf_counter(), time.thread_time()
            client.chat.completions.create(**CHAT)
            cpu_time, wall_time = time.thread_time() - start_cpu, time.perf_counter() - start
            times[mode].append(wall_time)
            cpu[mode].append(cpu_time)
            switch.off()
    switches["instrumented"].on()
    uninstrument()
    return times, cpu


def paired_added(times: dict[str, list[float]], mode: str) -> float:
    """Median over call pairs of (mode - plain): robust to the drift that percentiles of each side are not."""
    return statistics.median(t - p for t, p in zip(times[mode], times["plain"], strict=True))


# --- 2. the wrapper's own work, no network --------------------------------------------------------
def bench_wrapper(
    client: openai.OpenAI, provider: TracerProvider, setup: SessionSetup, blocks: int, block: int = 100
) -> dict[str, tuple[float, float]]:
    """Per-call time of each mode: (median, 10th percentile) over ``blocks`` blocks of ``block`` calls.

    Short blocks, modes rotating block by block: the box's drift hits every mode alike.
    """
    completion = bench_completion()
    options = _capture_options(client)

    def http_call(*args: Any, **kwargs: Any) -> ChatCompletion:
        return completion

    instrument(tracer_provider=provider, config=Configuration())
    instrumentor = OpenAIInstrumentor()
    bare, same = BareSpan(provider), BareSpan(provider, contract_attributes())
    args = (ChatCompletion, options)
    modes: dict[str, Callable[[], Any]] = {
        "plain": lambda: http_call(*args, stream=False),
        "bare span": lambda: bare._wrapper(http_call, client, args, {"stream": False}),
        "same span": lambda: same._wrapper(http_call, client, args, {"stream": False}),
        "instrumented": lambda: instrumentor._wrap_sync(http_call, client, args, {"stream": False}),
        "in session": lambda: instrumentor._wrap_sync(http_call, client, args, {"stream": False}),
    }
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    names = list(modes)
    for i in range(blocks):
        for mode in names[i % len(names) :] + names[: i % len(names)]:
            fn = modes[mode]
            leave = setup.enter() if mode == "in session" else None
            start = time.perf_counter()
            for _ in range(block):
                fn()
            results[mode].append((time.perf_counter() - start) / block)
            if leave is not None:
                leave()
    uninstrument()
    return {mode: (statistics.median(values), pct(values, 0.1)) for mode, values in results.items()}


def _capture_options(client: openai.OpenAI) -> Any:
    """The FinalRequestOptions a real chat.completions.create builds (taken from one real request)."""
    captured: list[Any] = []
    original = client._client.send

    def send(request: Any, **kwargs: Any) -> Any:
        raise RuntimeError("captured")

    import openai._base_client as base

    real_request = base.SyncAPIClient.request

    def spy(self: Any, cast_to: Any, options: Any, **kwargs: Any) -> Any:
        captured.append(options)
        return real_request(self, cast_to, options, **kwargs)

    base.SyncAPIClient.request = spy  # type: ignore[method-assign]
    try:
        client.chat.completions.create(**CHAT)
    finally:
        base.SyncAPIClient.request = real_request  # type: ignore[method-assign]
        client._client.send = original  # type: ignore[method-assign]
    return captured[0]


# --- 3. streams -------------------------------------------------------------------------------------
def bench_stream_http(client: openai.OpenAI, provider: TracerProvider, rounds: int) -> tuple[float, float, float]:
    """Whole-stream time plain and instrumented: (median plain, median instrumented, median of paired differences).

    Each round runs both, in alternating order, so drift hits both alike.
    """

    def one() -> float:
        start = time.perf_counter()
        for _ in client.chat.completions.create(**CHAT, stream=True):
            pass
        return time.perf_counter() - start

    def instrumented() -> float:
        instrument(tracer_provider=provider, config=Configuration())
        try:
            return one()
        finally:
            uninstrument()

    plain_s, instrumented_s = [], []
    for number in range(rounds):
        if number % 2:
            instrumented_s.append(instrumented())
            plain_s.append(one())
        else:
            plain_s.append(one())
            instrumented_s.append(instrumented())
    paired = statistics.median(i - p for i, p in zip(instrumented_s, plain_s, strict=True))
    return statistics.median(plain_s), statistics.median(instrumented_s), paired


def bench_stream_proxy(provider: TracerProvider, chunks: int) -> tuple[float, float]:
    chunk = ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": "token "}, "finish_reason": None}],
        }
    )
    events = [chunk] * chunks
    settings = make_settings(provider, Configuration())
    endpoint = OpenAIInstrumentor.endpoints["/chat/completions"]

    class Source:  # stands in for openai.Stream: hands out ready chunks
        def __init__(self) -> None:
            self._it = iter(events)

        def __next__(self) -> Any:
            return next(self._it)

    def plain() -> float:
        source = Source()
        start = time.perf_counter()
        try:
            while True:
                next(source)
        except StopIteration:
            pass
        return (time.perf_counter() - start) / chunks

    def proxied() -> float:
        call = LLMCall(settings.tracer, CLIENT_ATTRS, endpoint, CHAT, capture=False, stream=True)
        proxy = SyncStreamProxy(Source(), call)
        start = time.perf_counter()
        for _ in proxy:
            pass
        return (time.perf_counter() - start) / chunks

    return statistics.median(plain() for _ in range(7)), statistics.median(proxied() for _ in range(7))


def run_round(client: openai.OpenAI, provider: TracerProvider, setup: SessionSetup, calls: int) -> dict[str, float]:
    """One round of 1 and 2; prints it and returns its key figures (seconds)."""
    times, cpu = bench_calls(client, provider, setup, calls)
    plain_p50, plain_p95 = pct(times["plain"], 0.5), pct(times["plain"], 0.95)
    print(f"non-streamed chat call over HTTP, {calls} calls per mode, modes alternating call by call")
    for mode in times:
        p50, p95 = pct(times[mode], 0.5), pct(times[mode], 0.95)
        added = "" if mode == "plain" else f"  added p50 {us(p50 - plain_p50)}  p95 {us(p95 - plain_p95)}"
        print(f"  {mode:13s} p50 {us(p50)}  p95 {us(p95)}{added}")
    print("  median paired added:" + "".join(f"  {mode} {us(paired_added(times, mode))}" for mode in list(times)[1:]))
    cpu_p50 = pct(cpu["plain"], 0.5)
    print(f"  this thread's CPU time per call, p50 (plain {us(cpu_p50)}), added:", end="")
    print("".join(f"  {mode} {us(pct(cpu[mode], 0.5) - cpu_p50)}" for mode in list(cpu)[1:]))
    figures = {f"http {mode} p50": pct(times[mode], 0.5) - plain_p50 for mode in list(times)[1:]}
    figures |= {f"cpu {mode} p50": pct(cpu[mode], 0.5) - cpu_p50 for mode in list(cpu)[1:]}
    figures |= {f"http {mode} p95": pct(times[mode], 0.95) - plain_p95 for mode in list(times)[1:]}

    blocks = max(20, calls // 10)
    alone = bench_wrapper(client, provider, setup, blocks)
    print(f"request wrapper alone (stand-in HTTP call returning a ChatCompletion), {blocks} blocks of 100 calls")
    for mode in list(alone)[1:]:
        median, low = (alone[mode][i] - alone["plain"][i] for i in (0, 1))
        print(f"  {mode:13s} adds {us(median)} per call (median of blocks; 10th percentile {us(low)})")
        figures[f"wrapper {mode}"] = median
    print(f"  ours (instrumented - same span): {us(alone['instrumented'][0] - alone['same span'][0])}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the non-streamed measurements")
    opts = parser.parse_args()
    calls = 300 if opts.quick else 3000
    rounds = 1 if opts.quick else max(1, opts.rounds)
    stream_chunks, stream_rounds = (500, 6) if opts.quick else (1000, 40)

    provider = make_provider()
    setup = SessionSetup()
    chat = load_interactions(FIXTURES_DIR / "openai/chat_cached_reasoning.json")
    with ServerProcess(chat) as server, openai.OpenAI(base_url=server.openai_base_url, **CLIENT_OPTIONS) as client:
        per_round = []
        for number in range(rounds):
            print(f"--- round {number + 1} of {rounds}")
            per_round.append(run_round(client, provider, setup, calls))

    stream = [long_stream_interaction(stream_chunks)]
    with ServerProcess(stream) as server, openai.OpenAI(base_url=server.openai_base_url, **CLIENT_OPTIONS) as client:
        plain_s, instr_s, paired_s = bench_stream_http(client, provider, stream_rounds)
        print(f"streamed chat over HTTP, {stream_chunks} chunks, median of {stream_rounds} rounds")
        print(
            f"  plain {us(plain_s / stream_chunks)}/chunk  instrumented {us(instr_s / stream_chunks)}/chunk"
            f"  added {us(paired_s / stream_chunks)}/chunk (median of paired rounds)   (goal <= 5 µs)"
        )
    base_chunk, proxied_chunk = bench_stream_proxy(provider, 20_000)
    print("stream proxy alone (ready ChatCompletionChunk objects), median of 7 x 20000 chunks")
    print(f"  plain {us(base_chunk)}  proxied {us(proxied_chunk)}  added {us(proxied_chunk - base_chunk)} per chunk")

    def summary(key: str) -> float:
        return statistics.median(figures[key] for figures in per_round)

    print(f"=== summary: median over {rounds} round(s), added per non-streamed call")
    print("  over HTTP   " + "".join(f"  {m} p50 {us(summary(f'http {m} p50'))}" for m in MODES))
    print("              " + "".join(f"  {m} p95 {us(summary(f'http {m} p95'))}" for m in MODES))
    print("  CPU, p50    " + "".join(f"  {m}     {us(summary(f'cpu {m} p50'))}" for m in MODES))
    print("  in process  " + "".join(f"  {m} {us(summary(f'wrapper {m}'))}" for m in MODES))
    ours_http = summary("http instrumented p50") - summary("http same span p50")
    ours_alone = summary("wrapper instrumented") - summary("wrapper same span")
    print(f"  our share (instrumented - same span): over HTTP {us(ours_http)}, in process {us(ours_alone)}")
    print(f"  goal: instrumented added p50 over HTTP <= 90 µs: {us(summary('http instrumented p50'))}")
    print(
        f"  stream: added per chunk over HTTP {us(paired_s / stream_chunks)}, in process"
        f" {us(proxied_chunk - base_chunk)} (goal <= 5 µs)"
    )
    setup.close()
    provider.shutdown()


if __name__ == "__main__":
    main()
