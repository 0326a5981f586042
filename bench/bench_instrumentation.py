"""What the LLM instrumentation adds to a call, measured in one run against the same local server.

1. Non-streamed chat call, real ``openai`` client over HTTP to the replay server on 127.0.0.1:
   per-call latency of four modes alternating call by call: plain, a bare empty span, the same span
   with the instrumentation's attributes prebuilt (what the OpenTelemetry SDK alone charges), and
   instrumented. p50/p95, the added p50 and the median of paired differences.
2. The same without the network: the request wrapper around a stand-in for the HTTP call that
   returns a ready ``ChatCompletion`` (less noise than 1; separates the SDK's cost from ours).
3. Streamed chat: cost added per chunk, end to end over HTTP (long SSE stream) and in process (the
   stream proxy over ready ``ChatCompletionChunk`` objects).

Spans go to a real SDK TracerProvider with a BatchSpanProcessor and an exporter that drops them.
Run: ``.venv/bin/python bench/bench_instrumentation.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openai
import openai._base_client as openai_base
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.replay import FIXTURES_DIR, ReplayServer, load_interactions

from agentops_otel import semconv as sc
from agentops_otel.config import Configuration
from agentops_otel.instrumentation import instrument, uninstrument
from agentops_otel.instrumentation._call import LLMCall
from agentops_otel.instrumentation._patching import Patch, wrap_method
from agentops_otel.instrumentation._settings import make_settings
from agentops_otel.instrumentation._streams import SyncStreamProxy
from agentops_otel.instrumentation.openai import OpenAIInstrumentor

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


def bench_calls(client: openai.OpenAI, provider: TracerProvider, calls: int) -> dict[str, list[float]]:
    """Modes alternate call by call (switched between calls, outside the timing), so the box's noise,
    which drifts by milliseconds over seconds, hits every mode alike."""
    original = openai_base.SyncAPIClient.__dict__["request"]
    bare = Switch(BareSpan(provider).patches())  # each switch wraps the original, then turns itself off
    same = Switch(BareSpan(provider, contract_attributes()).patches())
    instrument(tracer_provider=provider, config=Configuration())
    switches = {
        "plain": Switch([Patch(openai_base.SyncAPIClient, "request", original, original)]),  # same switching cost
        "bare span": bare,
        "same span": same,
        "instrumented": Switch(OpenAIInstrumentor()._patches),
    }
    assert openai_base.SyncAPIClient.__dict__["request"] is original
    times: dict[str, list[float]] = {mode: [] for mode in switches}
    for _ in range(20):  # warm up
        client.chat.completions.create(**CHAT)
    modes = list(switches)
    for i in range(calls):
        for mode in modes[i % len(modes) :] + modes[: i % len(modes)]:  # rotate: no mode always runs first
            switch = switches[mode]
            switch.on()
            start = time.perf_counter()
            client.chat.completions.create(**CHAT)
            times[mode].append(time.perf_counter() - start)
            switch.off()
    switches["instrumented"].on()
    uninstrument()
    return times


def paired_added(times: dict[str, list[float]], mode: str) -> float:
    """Median over call pairs of (mode - plain): robust to the drift that percentiles of each side are not."""
    return statistics.median(t - p for t, p in zip(times[mode], times["plain"], strict=True))


# --- 2. the wrapper's own work, no network --------------------------------------------------------
def bench_wrapper(client: openai.OpenAI, provider: TracerProvider, calls: int) -> dict[str, float]:
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
    }
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(7):  # rounds alternate the modes, so drift hits all of them
        for mode, fn in modes.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            results[mode].append((time.perf_counter() - start) / calls)
    uninstrument()
    return {mode: statistics.median(values) for mode, values in results.items()}


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
def bench_stream_http(client: openai.OpenAI, provider: TracerProvider, rounds: int) -> tuple[float, float]:
    def one() -> float:
        start = time.perf_counter()
        for _ in client.chat.completions.create(**CHAT, stream=True):
            pass
        return time.perf_counter() - start

    plain, instrumented = [], []
    for _ in range(rounds):
        plain.append(one())
        instrument(tracer_provider=provider, config=Configuration())
        instrumented.append(one())
        uninstrument()
    return statistics.median(plain), statistics.median(instrumented)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    opts = parser.parse_args()
    calls = 300 if opts.quick else 3000
    stream_chunks, stream_rounds = (500, 5) if opts.quick else (2000, 15)

    provider = make_provider()
    with ReplayServer(repeat=True) as server:
        server.load(FIXTURES_DIR / "openai/chat_cached_reasoning.json")
        with openai.OpenAI(base_url=server.openai_base_url, api_key="bench", max_retries=0) as client:
            times = bench_calls(client, provider, calls)
            plain_p50, plain_p95 = pct(times["plain"], 0.5), pct(times["plain"], 0.95)
            print(f"non-streamed chat call over HTTP, {calls} calls per mode, modes alternating call by call")
            print("  (bare span: one empty span; same span: the instrumentation's span and attributes, prebuilt)")
            for mode in times:
                p50, p95 = pct(times[mode], 0.5), pct(times[mode], 0.95)
                added = "" if mode == "plain" else f"  added p50 {us(p50 - plain_p50)}  p95 {us(p95 - plain_p95)}"
                print(f"  {mode:13s} p50 {us(p50)}  p95 {us(p95)}{added}")
            print(
                "  median paired added:"
                + "".join(f"  {mode} {us(paired_added(times, mode))}" for mode in list(times)[1:])
                + f"   ratio instrumented/plain p50 {pct(times['instrumented'], 0.5) / plain_p50:.3f}"
                + "   (goal: added p50 <= 90 µs)"
            )

            alone = bench_wrapper(client, provider, 3000)
            print("request wrapper alone (stand-in HTTP call returning a ChatCompletion), median of 7 x 3000")
            for mode in ("bare span", "same span", "instrumented"):
                print(f"  {mode:13s} adds {us(alone[mode] - alone['plain'])} per call")
            own = alone["instrumented"] - alone["same span"]
            print(f"  instrumentation's own Python work: {us(own)}   (goal: instrumented adds <= 90 µs)")

        server.load([long_stream_interaction(stream_chunks)])
        with openai.OpenAI(base_url=server.openai_base_url, api_key="bench", max_retries=0) as client:
            plain_s, instr_s = bench_stream_http(client, provider, stream_rounds)
            print(f"streamed chat over HTTP, {stream_chunks} chunks, median of {stream_rounds} rounds")
            print(
                f"  plain {us(plain_s / stream_chunks)}/chunk  instrumented {us(instr_s / stream_chunks)}/chunk"
                f"  added {us((instr_s - plain_s) / stream_chunks)}/chunk   (goal <= 5 µs)"
            )
    base_chunk, proxied_chunk = bench_stream_proxy(provider, 20_000)
    print("stream proxy alone (ready ChatCompletionChunk objects), median of 7 x 20000 chunks")
    print(f"  plain {us(base_chunk)}  proxied {us(proxied_chunk)}  added {us(proxied_chunk - base_chunk)} per chunk")
    provider.shutdown()


if __name__ == "__main__":
    main()
