"""An application that never imports agentops_otel, traced with no code change.

    OTEL_SERVICE_NAME=weather-agent OTEL_TRACES_EXPORTER=console \\
    OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \\
    opentelemetry-instrument python examples/instrumented_zero_code.py

``opentelemetry-instrument`` (with ``opentelemetry-distro`` installed) sets up the OpenTelemetry SDK
from the ``OTEL_*`` variables and loads agentops-otel's ``agentops_openai`` / ``agentops_anthropic``
instrumentors; every chat call below becomes an LLM span. Send them to an agentops-otel collector with
``OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318
OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf``. Offline by default (a local canned OpenAI-compatible
server); with ``OPENAI_API_KEY`` set it calls OpenAI.
"""

from __future__ import annotations

import os

import openai

from canned_openai_server import CannedOpenAIServer


def main() -> None:
    canned = None
    if os.environ.get("OPENAI_API_KEY"):
        client, model = openai.OpenAI(), "gpt-4o-mini"
    else:
        canned = CannedOpenAIServer()
        client, model = openai.OpenAI(api_key="not-needed", base_url=canned.base_url), "gpt-4o-mini"
    try:
        question = [{"role": "user", "content": "What's the weather in Lisbon?"}]
        reply = client.chat.completions.create(model=model, messages=question)
        print("model:", reply.choices[0].message.content or reply.choices[0].message.tool_calls)
        chunks = list(client.chat.completions.create(model=model, messages=question, stream=True))
        print("streamed chunks:", len(chunks))
    finally:
        if canned is not None:
            canned.close()


if __name__ == "__main__":
    main()
