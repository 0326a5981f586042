"""agentops-otel quickstart: a collector, an instrumented agent, its analytics and REST stats.

    python examples/quickstart.py            # offline: a local canned OpenAI-compatible server
    OPENAI_API_KEY=sk-... python examples/quickstart.py   # the real OpenAI API instead

It starts the embedded collector (``agentops-otel collector``; on 4318/4317 when free, with the
same data directory as a plain ``agentops-otel collector``, so the sessions are there when you
start one later), runs a small weather agent whose OpenAI calls are instrumented with no code
change, ends the session, prints the SDK's analytics and the collector's REST stats for the
session, and keeps the collector running so you can open the dashboard (Ctrl-C to stop; ``--exit``
to stop right away). A collector already serving on the port is used instead of starting another.
The collector it started stops with it however it ends (Ctrl-C, SIGTERM, SIGHUP, even ``kill -9``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

import openai

import agentops_otel as ao
from agentops_otel.collector import settings
from agentops_otel.collector.process import CollectorProcess, start_collector

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


def default_data_dir() -> Path:
    """Where a plain ``agentops-otel collector`` keeps its data (the same variable, the same default)."""
    return settings.value("data_dir")


def running_collector(port: int) -> str | None:
    """The URL of an agentops-otel collector already serving on ``port`` of 127.0.0.1, if any."""
    if port == 0:
        return None
    url = f"http://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return url if json.loads(response.read()).get("status") == "ok" else None
    except (OSError, ValueError, AttributeError):
        return None


def cli_command() -> str:
    """How to run ``agentops-otel`` from this shell: the bare name when it is on PATH (an activated
    venv), else its path in this interpreter's environment (``.venv/bin/agentops-otel``)."""
    installed = Path(sys.executable).parent / "agentops-otel"
    on_path = shutil.which("agentops-otel")
    if on_path and Path(on_path).resolve() == installed.resolve():
        return "agentops-otel"
    try:
        return shlex.quote(os.path.relpath(installed))
    except ValueError:  # another drive (Windows)
        return shlex.quote(str(installed))


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the quickstart like Ctrl-C does, so its ``finally`` stops the collector."""

    def exit_now(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), exit_now)
    # Started from a background job, Python may have inherited SIGINT ignored: Ctrl-C must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def rest_get(url: str) -> dict:
    request = urllib.request.Request(url, headers={"X-Agentops-Api-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description="agentops-otel quickstart")
    parser.add_argument("--exit", action="store_true", help="stop the collector when done instead of waiting")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="collector data (default: the collector's own, $AGENTOPS_COLLECTOR_DATA_DIR or ~/.agentops-otel)",
    )
    for name, text in (("http_port", "OTLP/HTTP + REST port"), ("grpc_port", "OTLP/gRPC port")):
        port = settings.BY_NAME[name]
        parser.add_argument(port.flag, type=int, default=port.default, help=f"{text} (0: any free port)")
    args = parser.parse_args()

    stop_on_signals()
    existing = running_collector(args.http_port)
    collector: CollectorProcess | None = None
    if existing:
        print(f"Using the agentops-otel collector already running at {existing}")
        collector_url = existing
    else:
        print(f"Starting the agentops-otel collector (data in {args.data_dir})...")
        ports = {"http_port": port_or_any(args.http_port), "grpc_port": port_or_any(args.grpc_port)}
        collector = start_collector(args.data_dir, exit_with_parent=True, **ports)
        collector_url = collector.url
    canned = None
    try:
        if os.environ.get("OPENAI_API_KEY"):
            client, model, provider = openai.OpenAI(), "gpt-4o-mini", "the OpenAI API"
        else:
            canned = CannedOpenAIServer()
            client = openai.OpenAI(api_key="not-needed", base_url=canned.base_url)
            model, provider = "gpt-4o-mini", f"a local canned OpenAI-compatible server ({canned.base_url})"
        print(f"Running the agent against {provider}...")

        session = ao.init(api_key=API_KEY, endpoint=collector_url, default_tags=["quickstart", "weather"])
        answer = run_agent(client, model, "What should I wear in Paris today?")
        analytics = session.get_analytics()
        cost = session.end_session("Success", "answered the question")

        stats = rest_get(f"{collector_url}/v2/sessions/{session.session_id}/stats")
        print(f"\nAgent answer: {answer}")
        print(f"\nSession {session.session_id} ended; end_session() returned ${cost}")
        print("\nAnalytics (computed by the SDK, locally):")
        for key, value in analytics.items():
            print(f"  {key:<11} {value}")
        print(f"\nREST stats (GET {collector_url}/v2/sessions/{session.session_id}/stats):")
        print("  " + json.dumps(stats, indent=2).replace("\n", "\n  "))
        print(
            "\nWhere to look next:\n"
            f"  dashboard   {collector_url}/   (API key: {API_KEY}; every key is its own project here)\n"
            f"  REST docs   {collector_url}/docs\n"
            f"  export      curl -H 'X-Agentops-Api-Key: {API_KEY}' "
            f"{collector_url}/v2/sessions/{session.session_id}/export"
        )
        if collector is None:
            return 0
        reopen = f"{cli_command()} collector"
        if args.data_dir.expanduser().resolve() != default_data_dir().resolve():
            reopen += f" --data-dir {shlex.quote(str(args.data_dir))}"
        print(f"  data        {collector.db_path}\n  reopen      {reopen}   (the sessions are kept there)")
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
        if collector is not None:
            collector.stop()


if __name__ == "__main__":
    sys.exit(main())
