"""The loop ``bench_instructions.py`` counts under callgrind: N openai chat calls, one instrumentation.

Self-contained (only ``openai`` and the peer's own packages), because each peer runs it with the
python of its own virtual environment::

    python _instructions_workload.py MODE CALLS OPENAI_BASE_URL OTLP_ENDPOINT

MODE is none, official, openllmetry, openinference or agentops-otel. Spans go over OTLP/HTTP to
OTLP_ENDPOINT (``/v1/traces`` appended); the process flushes them before it exits, so their
export is counted.
"""

from __future__ import annotations

import sys

WARM_UP = 3  # calls before the loop: first-call costs land in the start-up, which the slope cancels


def sdk_provider(endpoint: str):  # type: ignore[no-untyped-def]
    """What a user of a peer instrumentation sets up: SDK TracerProvider, batch processor, OTLP/HTTP."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def setup(mode: str, endpoint: str):  # type: ignore[no-untyped-def]
    """Instrument for MODE; returns the function that flushes and shuts down at the end."""
    if mode == "none":
        return lambda: None
    if mode == "agentops-otel":
        import agentops_otel

        agentops_otel.init(api_key="bench", endpoint=endpoint)

        def finish() -> None:
            agentops_otel.end_session("Success")

        return finish
    provider = sdk_provider(endpoint)
    if mode == "official":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    elif mode == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    elif mode == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    return provider.shutdown


def main() -> None:
    mode, calls, base_url, endpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    finish = setup(mode, endpoint)
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    for _ in range(WARM_UP + calls):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    client.close()
    finish()


if __name__ == "__main__":
    main()
