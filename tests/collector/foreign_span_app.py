"""An SDK session holding spans another instrumentation made (its own tracer, GenAI attributes, no
agentops.span.kind), run in its own process. Prints one JSON line: session id, end_session() cost
and get_analytics().

    python tests/collector/foreign_span_app.py COLLECTOR_URL API_KEY
"""

from __future__ import annotations

import json
import sys

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

import agentops_otel as ao

CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 30,
    "gen_ai.usage.output_tokens": 12,
}


def main() -> None:
    url, key = sys.argv[1:]
    session = ao.init(api_key=key, endpoint=url, instrument_llm_calls=False, exit_handlers=False)
    tracer = trace.get_tracer("another.instrumentation")
    with tracer.start_as_current_span("invoke_agent planner", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT):
            pass
        stream = {k: v for k, v in CHAT.items() if "usage" not in k}  # a stream without usage
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={**stream, "gen_ai.request.stream": True}):
            pass
        openlit = {**CHAT, "gen_ai.request.model": "house-model", "gen_ai.usage.cost": 0.00045}
        with tracer.start_as_current_span("chat house-model", attributes=openlit):
            pass
        with tracer.start_as_current_span("execute_tool search", attributes={"gen_ai.operation.name": "execute_tool"}):
            pass
        with tracer.start_as_current_span("ChatCompletion", attributes={"openinference.span.kind": "LLM"}) as span:
            span.set_status(Status(StatusCode.ERROR, "rate limited"))
    analytics = ao.get_analytics()
    cost = session.end_session("Success")
    print(json.dumps({"session_id": session.session_id, "cost": str(cost), "analytics": analytics}))


if __name__ == "__main__":
    main()
