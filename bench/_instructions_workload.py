"""The loops ``bench_instructions.py`` counts under callgrind: LLM calls through one instrumentation.

Self-contained (only the client libraries and the peer's own packages), because each peer runs it
with the python of its own virtual environment::

    python _instructions_workload.py MODE SERVER_URL OTLP_ENDPOINT SCHEDULE_MS PLAN

MODE is none, official, openllmetry, openinference or agentops-otel. SERVER_URL is
``_llm_server.py``'s base URL. Spans go over OTLP/HTTP to OTLP_ENDPOINT (``/v1/traces`` appended).
SCHEDULE_MS is the delay between background exports for every instrumentation (the SDK
BatchSpanProcessor's ``schedule_delay_millis``, our ``export_interval``), or ``default`` for each
one's own. PLAN is JSON: a list of phases ``[kind, chunks, calls]`` (kind: openai, openai_stream,
anthropic, anthropic_stream; chunks: the streamed answer's text chunks). After each phase the
process flushes its spans (their export is part of the phase), prints ``phase N``, its clock and
its CPU time (all threads), and waits for a line on stdin: the bench dumps callgrind's counters
of every thread meanwhile.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

MESSAGES = [{"role": "user", "content": "What's the weather in Paris?"}]


def sdk_provider(endpoint: str, schedule_ms: int | None):  # type: ignore[no-untyped-def]
    """What a user of a peer instrumentation sets up: SDK TracerProvider, batch processor, OTLP/HTTP."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    options = {} if schedule_ms is None else {"schedule_delay_millis": schedule_ms}
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"), **options))
    trace.set_tracer_provider(provider)
    return provider


def setup(mode: str, endpoint: str, schedule_ms: int | None) -> tuple[Callable[[], object], Callable[[], object]]:
    """Instrument for MODE; returns (flush, finish)."""
    if mode == "none":
        return lambda: None, lambda: None
    if mode == "agentops-otel":
        import agentops_otel

        options = {} if schedule_ms is None else {"export_interval": schedule_ms}
        agentops_otel.init(api_key="bench", endpoint=endpoint, **options)
        client = agentops_otel.get_client()
        # A generous bound: under valgrind a flush may take longer than max_wait_time (what it had
        # not sent by then would go to the spool and be delivered during the next phase).
        return lambda: client.flush_all(600), lambda: agentops_otel.end_session("Success")
    provider = sdk_provider(endpoint, schedule_ms)
    if mode == "official":
        # openai: the OpenTelemetry project's instrumentation; anthropic: the spans the anthropic
        # library itself emits when a global TracerProvider is set (no official instrumentation).
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif mode == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]

        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
    elif mode == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor  # type: ignore[no-redef]
        from openinference.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]

        OpenAIInstrumentor().instrument(tracer_provider=provider)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return provider.force_flush, provider.shutdown


def callers(server_url: str) -> tuple[dict[str, Callable[[int], object]], Callable[[], None]]:
    """One function per kind of call (its argument: the chunks of a streamed answer); and a closer."""
    import anthropic
    import openai

    oai = openai.OpenAI(base_url=f"{server_url}/v1", api_key="bench", max_retries=0)
    ant = anthropic.Anthropic(base_url=server_url, api_key="bench", max_retries=0)

    def openai_call(chunks: int) -> object:
        return oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    def openai_stream(chunks: int) -> object:
        stream = oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=chunks,
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk for chunk in stream]

    def anthropic_call(chunks: int) -> object:
        return ant.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]

    def anthropic_stream(chunks: int) -> object:
        stream = ant.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=chunks,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        return [event for event in stream]

    def close() -> None:
        oai.close()
        ant.close()

    kinds = {
        "openai": openai_call,
        "openai_stream": openai_stream,
        "anthropic": anthropic_call,
        "anthropic_stream": anthropic_stream,
    }
    return kinds, close


def main() -> None:
    mode, server_url, endpoint, schedule, plan = sys.argv[1:6]
    flush, finish = setup(mode, endpoint, None if schedule == "default" else int(schedule))
    kinds, close = callers(server_url)
    for number, (kind, chunks, calls) in enumerate(json.loads(plan)):
        call = kinds[kind]
        for _ in range(calls):
            call(chunks)
        flush()
        print(f"phase {number} {time.perf_counter()} {time.process_time()}", flush=True)
        sys.stdin.readline()
    close()
    finish()


if __name__ == "__main__":
    main()
