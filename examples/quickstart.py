"""agentops-otel quickstart: a collector, an instrumented agent, its analytics and REST stats.

    python examples/quickstart.py            # offline: a local canned OpenAI-compatible server
    OPENAI_API_KEY=sk-... python examples/quickstart.py   # the real OpenAI API instead

It starts the embedded collector (``agentops-otel collector``; on 4318/4317 when free), runs a
small weather agent whose OpenAI calls are instrumented with no code change, ends the session,
prints the SDK's analytics and the collector's REST stats for the session, and keeps the collector
running so you can open the dashboard (Ctrl-C to stop; ``--exit`` to stop right away).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

import openai

import agentops_otel as ao
from agentops_otel.collector.process import start_collector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from canned_openai_server import CannedOpenAIServer

API_KEY = "quickstart-key"  # on 127.0.0.1 with no keys registered, every key is its own project
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Today's weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def port_or_any(port: int) -> int:
    """``port`` when it is free on 127.0.0.1, else 0 (any free port)."""
    if port == 0:
        return 0
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


@ao.record_tool("get_weather")
def get_weather(city: str) -> str:
    return {"Paris": "18°C and sunny", "Lisbon": "22°C with a light breeze"}.get(city, "mild")


@ao.record_action("plan_trip")
def run_agent(client: openai.OpenAI, model: str, question: str) -> str:
    messages: list[dict] = [{"role": "user", "content": question}]
    for _ in range(4):
        response = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        message = response.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": get_weather(**arguments)})
    return "(no answer)"


def rest_get(url: str) -> dict:
    request = urllib.request.Request(url, headers={"X-Agentops-Api-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description="agentops-otel quickstart")
    parser.add_argument("--exit", action="store_true", help="stop the collector when done instead of waiting")
    parser.add_argument(
        "--data-dir", type=Path, default=Path.home() / ".agentops-otel" / "quickstart", help="collector data"
    )
    parser.add_argument("--http-port", type=int, default=4318, help="OTLP/HTTP + REST port (0: any free port)")
    parser.add_argument("--grpc-port", type=int, default=4317, help="OTLP/gRPC port (0: any free port)")
    args = parser.parse_args()

    print("Starting the agentops-otel collector...")
    ports = {"http_port": port_or_any(args.http_port), "grpc_port": port_or_any(args.grpc_port)}
    collector = start_collector(args.data_dir, **ports)
    canned = None
    try:
        if os.environ.get("OPENAI_API_KEY"):
            client, model, provider = openai.OpenAI(), "gpt-4o-mini", "the OpenAI API"
        else:
            canned = CannedOpenAIServer()
            client = openai.OpenAI(api_key="not-needed", base_url=canned.base_url)
            model, provider = "gpt-4o-mini", f"a local canned OpenAI-compatible server ({canned.base_url})"
        print(f"Running the agent against {provider}...")

        session = ao.init(api_key=API_KEY, endpoint=collector.url, default_tags=["quickstart", "weather"])
        answer = run_agent(client, model, "What should I wear in Paris today?")
        analytics = session.get_analytics()
        cost = session.end_session("Success", "answered the question")

        stats = rest_get(f"{collector.url}/v2/sessions/{session.session_id}/stats")
        print(f"\nAgent answer: {answer}")
        print(f"\nSession {session.session_id} ended; end_session() returned ${cost}")
        print("\nAnalytics (computed by the SDK, locally):")
        for key, value in analytics.items():
            print(f"  {key:<11} {value}")
        print(f"\nREST stats (GET {collector.url}/v2/sessions/{session.session_id}/stats):")
        print("  " + json.dumps(stats, indent=2).replace("\n", "\n  "))
        print(
            "\nWhere to look next:\n"
            f"  dashboard   {collector.url}/   (API key: {API_KEY})\n"
            f"  REST docs   {collector.url}/docs\n"
            f"  export      curl -H 'X-Agentops-Api-Key: {API_KEY}' "
            f"{collector.url}/v2/sessions/{session.session_id}/export\n"
            f"  data        {collector.db_path}  (reopen later: agentops-otel collector --data-dir {args.data_dir})"
        )
        if args.exit:
            return 0
        print("\nThe collector keeps running; press Ctrl-C to stop it.")
        while collector.process.poll() is None:
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if canned is not None:
            canned.close()
        collector.stop()


if __name__ == "__main__":
    sys.exit(main())
