"""A session with actions, a tool, a hand-recorded LLM call and an error, then its analytics.

    python examples/sdk_basic.py

Offline by default: spans are kept in memory and printed as a tree. Set
``AGENTOPS_EXPORTER_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``), e.g. to a running
``agentops-otel collector``, to export them over OTLP instead.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentops_otel as ao

OFFLINE = not (os.environ.get("AGENTOPS_EXPORTER_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
memory = InMemorySpanExporter() if OFFLINE else None


@ao.record_tool("weather")
def weather(city: str) -> dict[str, object]:
    return {"city": city, "forecast": "sunny", "high_c": 24}


@ao.record_action("plan trip")
def plan_trip(city: str) -> str:
    forecast = weather(city)
    # An LLM call recorded by hand (instrumented OpenAI/Anthropic clients do this by themselves).
    ao.record(ao.LLMEvent(model="gpt-4o-mini", provider="openai", prompt_tokens=420, completion_tokens=80))
    return f"Pack sunglasses for {forecast['city']}."


def print_tree(spans: list) -> None:
    children: dict[int | None, list] = {}
    for span in spans:
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def show(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time):
            kind = span.attributes.get("agentops.span.kind")
            print(f"  {'  ' * depth}{span.name}  [{kind}, {span.status.status_code.name}]")
            show(span.context.span_id, depth + 1)

    show(None, 0)


def main() -> None:
    session = ao.init(default_tags=["example"], exporter=memory)
    print(plan_trip("Lisbon"))
    try:
        raise TimeoutError("booking service did not answer")
    except TimeoutError as exc:
        ao.record(ao.ErrorEvent(exception=exc, details="retry later"))
    ao.add_tags(["travel"])
    print("analytics:", ao.get_analytics())
    cost = ao.end_session("Success", "trip planned")
    print(f"session {session.session_id} ended; cost ${cost:.6f}")
    if memory is not None:
        print("spans (trace id = session id):")
        print_tree(list(memory.get_finished_spans()))


if __name__ == "__main__":
    main()
