"""What the google-genai and Bedrock instrumentation adds to a call, against the same call uninstrumented
in the same run.

Real ``google-genai`` (Gemini API backend) and real ``boto3`` (bedrock-runtime) clients over HTTP to
the replay server on 127.0.0.1, in a child process (so it never competes with the measured calls for
the GIL). Calls: ``models.generate_content``, ``converse`` and ``invoke_model`` (non-streamed), and
a streamed ``converse_stream`` read to the end. Instrumented and plain calls alternate call by call
(the patches switched between calls, outside the timing), so the box's drift hits both alike; spans go
to a real SDK TracerProvider with a BatchSpanProcessor and an exporter that drops them.

Printed per call: p50 plain and instrumented, the added p50, the median of paired differences, and
the added p50 of this thread's CPU time; ``--rounds`` rounds (default 3), the summary gives the
median over rounds. Goal: at most 90 µs added per call (as for OpenAI).
Run: ``.venv/bin/python bench/bench_google_aws.py [--quick] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
from botocore.config import Config as BotoConfig
from google import genai
from tests.support.eventstream import with_encoded_bodies
from tests.support.replay import FIXTURES_DIR, load_interactions

from agentops_otel.config import Configuration
from agentops_otel.instrumentation import instrument, uninstrument
from agentops_otel.instrumentation._patching import Patch
from agentops_otel.instrumentation.bedrock import _BedrockMethod
from agentops_otel.instrumentation.google_genai import GoogleGenAIInstrumentor
from bench_instrumentation import ServerProcess, Switch, make_provider, pct, us

FIXTURES = ("gemini/generate_cached_tools_thoughts.json", "bedrock/converse_cache_tools.json",
            "bedrock/invoke_titan_headers.json", "bedrock/converse_stream_tools.json")  # fmt: skip
MESSAGES = [{"role": "user", "content": [{"text": "Weather in Oslo?"}]}]
TITAN = '{"inputText": "Say hi", "textGenerationConfig": {"maxTokenCount": 20}}'


def bedrock_patches(client: Any) -> list[Patch]:
    """The instrumentor's wrappers on this client's class, as switchable patches."""
    cls = type(client)
    ours = {name: value for name, value in vars(cls).items() if isinstance(value, _BedrockMethod)}
    return [Patch(cls, name, value.__wrapped__, value) for name, value in ours.items()]


def measure(calls: dict[str, Callable[[], Any]], switches: dict[str, Switch], count: int) -> dict[str, dict[str, Any]]:
    """Per call kind: wall and CPU times of plain and instrumented calls, alternating call by call."""
    results: dict[str, dict[str, Any]] = {}
    for kind, call in calls.items():
        switch = switches[kind]
        for _ in range(20):  # warm up both
            call()
            switch.on()
            call()
            switch.off()
        times: dict[str, list[float]] = {"plain": [], "instrumented": []}
        cpu: dict[str, list[float]] = {"plain": [], "instrumented": []}
        for i in range(count):
            for mode in ("plain", "instrumented") if i % 2 else ("instrumented", "plain"):
                if mode == "instrumented":
                    switch.on()
                start, start_cpu = time.perf_counter(), time.thread_time()
                call()
                cpu_time, wall = time.thread_time() - start_cpu, time.perf_counter() - start
                switch.off()
                times[mode].append(wall)
                cpu[mode].append(cpu_time)
        paired = statistics.median(t - p for t, p in zip(times["instrumented"], times["plain"], strict=True))
        results[kind] = {
            "plain": pct(times["plain"], 0.5),
            "instrumented": pct(times["instrumented"], 0.5),
            "added": pct(times["instrumented"], 0.5) - pct(times["plain"], 0.5),
            "paired": paired,
            "cpu": pct(cpu["instrumented"], 0.5) - pct(cpu["plain"], 0.5),
        }
        r = results[kind]
        print(
            f"  {kind:22s} plain p50 {us(r['plain'])}  instrumented p50 {us(r['instrumented'])}"
            f"  added p50 {us(r['added'])}  paired {us(r['paired'])}  CPU added {us(r['cpu'])}"
        )
    return results


def in_process(provider: Any, rounds: int = 7, n: int = 3000) -> None:
    """The wrappers alone around a stand-in returning a ready response (no network), against the same
    stand-in plain and inside a bare span with the same attributes: this thread's CPU time per call."""
    from google.genai import types

    from agentops_otel.instrumentation._settings import make_settings
    from agentops_otel.instrumentation.bedrock import BedrockInstrumentor, _finish_converse
    from agentops_otel.instrumentation.google_genai import _GENERATE

    settings = make_settings(provider, Configuration())
    attrs = {"agentops.span.kind": "llm", "gen_ai.provider.name": "x", "server.address": "127.0.0.1", "server.port": 1}
    bedrock_body = load_interactions(FIXTURES_DIR / "bedrock/converse_cache_tools.json")[0]["response"]["body"]
    converse = __import__("json").loads(bedrock_body)
    gemini_body = load_interactions(FIXTURES_DIR / FIXTURES[0])[0]["response"]["body"]
    generated = types.GenerateContentResponse._from_response(response=__import__("json").loads(gemini_body), kwargs={})
    bedrock = BedrockInstrumentor()
    previous = bedrock._settings
    bedrock._settings = settings
    google = GoogleGenAIInstrumentor()
    google_previous = google._settings
    google._settings = settings
    converse_wrapper = bedrock._wrapper(True, _finish_converse, stream=False)
    generate_wrapper = google._wrapper(_GENERATE, stream=False)
    tracer = provider.get_tracer("bench")

    class Module:  # what the google-genai wrapper reads from Models: its API client
        _api_client = type("ApiClient", (), {"vertexai": False, "_http_options": None})()

    module = Module()

    class BedrockClient:  # what the Bedrock wrapper reads from a client: its endpoint
        meta = type("Meta", (), {"endpoint_url": "http://127.0.0.1:1"})()

    bedrock_client = BedrockClient()

    def bare(result: Any) -> Callable[[], Any]:
        def call() -> Any:
            span = tracer.start_span("chat m", attributes=attrs)
            span.end()
            return result

        return call

    kinds = {
        "bedrock converse": (
            lambda: converse,
            bare(converse),
            lambda: converse_wrapper(lambda **k: converse, bedrock_client, (), {"modelId": "m", "messages": MESSAGES}),
        ),
        "gemini generate_content": (
            lambda: generated,
            bare(generated),
            lambda: generate_wrapper(lambda **k: generated, module, (), {"model": "m", "contents": "hi"}),
        ),
    }
    print(f"wrappers alone, stand-in call returning a ready response: CPU per call, median of {rounds} x {n}")
    for kind, (plain, span, wrapped) in kinds.items():
        figures = []
        for fn in (plain, span, wrapped):
            per_round = []
            for _ in range(rounds):
                start = time.thread_time()
                for _ in range(n):
                    fn()
                per_round.append((time.thread_time() - start) / n)
            figures.append(statistics.median(per_round))
        print(
            f"  {kind:22s} plain {us(figures[0])}  bare span {us(figures[1] - figures[0])} added"
            f"  instrumented {us(figures[2] - figures[0])} added"
        )
    bedrock._settings = previous
    google._settings = google_previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (smoke run)")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    count = 100 if opts.quick else 400
    rounds = 1 if opts.quick else max(1, opts.rounds)
    for name in [n for n in os.environ if n.startswith(("AWS_", "GOOGLE_", "GEMINI_"))]:
        del os.environ[name]
    empty = tempfile.mkdtemp()
    os.environ.update(
        AWS_CONFIG_FILE=f"{empty}/none", AWS_SHARED_CREDENTIALS_FILE=f"{empty}/none", AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip

    interactions = [i for name in FIXTURES for i in with_encoded_bodies(load_interactions(FIXTURES_DIR / name))]
    provider = make_provider()
    instrument(tracer_provider=provider, config=Configuration())
    with ServerProcess(interactions) as server:
        base = server.openai_base_url.removesuffix("/v1")
        gemini = genai.Client(api_key="bench", http_options={"base_url": base, "api_version": "v1beta"})
        config = BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"})
        bedrock = boto3.client("bedrock-runtime", endpoint_url=base, config=config)
        ours = bedrock_patches(bedrock)  # read once: a Switch turns them off when made
        switches = {
            "gemini generate_content": Switch(GoogleGenAIInstrumentor()._patches),
            "bedrock converse": Switch(ours),
            "bedrock invoke_model": Switch(ours),
            "bedrock converse_stream": Switch(ours),
        }
        calls: dict[str, Callable[[], Any]] = {
            "gemini generate_content": lambda: gemini.models.generate_content(model="gemini-2.5-flash", contents="hi"),
            "bedrock converse": lambda: bedrock.converse(
                modelId="us.anthropic.claude-3-5-sonnet-20241022-v2:0", messages=MESSAGES
            ),
            "bedrock invoke_model": lambda: bedrock.invoke_model(
                modelId="amazon.titan-text-express-v1", body=TITAN
            )["body"].read(),
            "bedrock converse_stream": lambda: list(
                bedrock.converse_stream(modelId="amazon.nova-lite-v1:0", messages=MESSAGES)["stream"]
            ),
        }
        per_round = []
        for number in range(rounds):
            print(f"--- round {number + 1} of {rounds}: {count} calls of each kind and mode")
            per_round.append(measure(calls, switches, count))
    for switch in switches.values():
        switch.on()
    in_process(provider)
    uninstrument()
    provider.shutdown()

    print(f"=== summary: median over {rounds} round(s) (goal: added p50 <= 90 µs)")
    for kind in calls:
        figure = {key: statistics.median(r[kind][key] for r in per_round) for key in per_round[0][kind]}
        print(
            f"  {kind:22s} plain p50 {us(figure['plain'])}  added p50 {us(figure['added'])}"
            f"  paired {us(figure['paired'])}  CPU added {us(figure['cpu'])}"
        )


if __name__ == "__main__":
    main()
