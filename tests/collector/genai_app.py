"""An app traced by another OpenAI instrumentation (the official OpenTelemetry one, OpenLLMetry,
OpenInference or OpenLIT), the real ``openai`` client replaying recordings from a local server, its
spans (and logs) exported over OTLP to a collector. Prints one JSON line.

    python tests/collector/genai_app.py NAME MODE COLLECTOR_URL API_KEY RECORDING.json [...]

MODE ``zero-code``: the app's own TracerProvider and a root span of its own, no agentops_otel.
MODE ``sdk``: an agentops_otel session (our instrumentation off) holds the other instrumentation's
spans; prints get_analytics() and end_session()'s cost too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import openai
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from tests.support.replay import FIXTURES_DIR, ReplayServer, as_kwargs, endpoint_of, method_for

OPENLIT_PRICING = FIXTURES_DIR / "openlit" / "pricing.json"


def instrument(name: str, url: str, key: str) -> None:
    if name == "official":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    elif name == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    elif name == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
    elif name == "openlit":
        import openlit

        # OpenLIT's default setup: traces, metrics (and events) to the one OTLP endpoint; its
        # prices from our file (its default is fetched from the network).
        openlit.init(
            otlp_endpoint=url,
            otlp_headers={"X-Agentops-Api-Key": key},
            application_name="openlit-app",
            disable_batch=True,
            collect_system_metrics=False,
            pricing_json=str(OPENLIT_PRICING),
        )
        return
    else:
        raise SystemExit(f"unknown instrumentation {name}")
    OpenAIInstrumentor().instrument()


def logs_to(url: str, key: str):
    """GenAI events (message content) go out as OTLP logs, as the official instrumentations send them."""
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    provider = LoggerProvider()
    exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs", headers={"X-Agentops-Api-Key": key})
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    set_logger_provider(provider)
    return provider


def get_weather(city: str) -> str:
    return f"Sunny in {city}"


def agent_run(name: str, files: list[str], server: ReplayServer) -> None:
    """The recorded calls inside an agent invocation, then a tool call, each traced through the
    instrumentation's own API where it has one (the official GenAI utilities, OpenInference's
    tracer decorators); the others' apps only make the calls."""
    if name == "official":
        from opentelemetry.util.genai.handler import get_telemetry_handler

        handler = get_telemetry_handler()
        with handler.invoke_local_agent(agent_name="trip_planner"):
            replay(files, server)
            with handler.tool("get_weather") as tool:
                tool.tool_result = get_weather("Lisbon")
    elif name == "openinference":
        from openinference.instrumentation import OITracer, TraceConfig

        tracer = OITracer(trace.get_tracer("genai_app"), TraceConfig())

        @tracer.agent(name="trip_planner")
        def plan() -> None:
            replay(files, server)
            tracer.tool(name="get_weather")(get_weather)("Lisbon")

        plan()
    else:
        replay(files, server)


# Spans of each kind an app above sends: (llm, tool, agent)
KINDS = {"official": (2, 1, 1), "openinference": (2, 1, 1), "openllmetry": (2, 0, 0), "openlit": (2, 0, 0)}


def replay(files: list[str], server: ReplayServer) -> None:
    with openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0) as client:
        for name in files:
            for interaction in server.load(Path(name)):
                request = interaction["request"]
                body = json.loads(request["body"])
                method = method_for("openai", endpoint_of(request["uri"]), client)
                result = method(**as_kwargs(method, body))
                if body.get("stream"):
                    list(result)


def main() -> None:
    name, mode, url, key, *files = sys.argv[1:]
    out: dict = {}
    if mode == "sdk":
        import agentops_otel as ao

        session = ao.init(api_key=key, endpoint=url, instrument_llm_calls=False, exit_handlers=False)
        logs = logs_to(url, key) if name != "openlit" else None
        instrument(name, url, key)
        with ReplayServer() as server:
            agent_run(name, files, server)
        out["analytics"] = ao.get_analytics()
        out["cost"] = str(session.end_session("Success"))
        out["session_id"] = session.session_id
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        logs = None
        if name != "openlit":  # OpenLIT sets up its own providers and exporters
            provider = TracerProvider(resource=Resource.create({"service.name": f"{name}-app"}))
            exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"X-Agentops-Api-Key": key})
            provider.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            logs = logs_to(url, key)
        instrument(name, url, key)
        tracer = trace.get_tracer("genai_app")
        with tracer.start_as_current_span("agent run") as root, ReplayServer() as server:
            agent_run(name, files, server)
            root.set_status(Status(StatusCode.OK))
        trace_id = format(root.get_span_context().trace_id, "032x")
        out["session_id"] = f"{trace_id[:8]}-{trace_id[8:12]}-{trace_id[12:16]}-{trace_id[16:20]}-{trace_id[20:]}"
        trace.get_tracer_provider().shutdown()
    if logs is not None:
        logs.shutdown()
    if name == "openlit":
        from opentelemetry import metrics

        metrics.get_meter_provider().shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
