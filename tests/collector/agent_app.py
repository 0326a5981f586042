"""A real instrumented agent run in its own process: the SDK exporting to a collector, real clients
replaying recordings. Prints one JSON line: session id, end_session() cost, analytics, calls made.

    python tests/collector/agent_app.py COLLECTOR_URL API_KEY RECORDING.json [...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anthropic
import openai

import agentops_otel as ao
from tests.instrumentation.expected import expected_attributes
from tests.support.replay import ReplayServer, as_kwargs, endpoint_of, method_for


def replay(path: Path, server: ReplayServer) -> list[dict]:
    provider = path.parent.name
    calls = []
    interactions = server.load(path)
    if provider == "openai":
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0)
    else:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test-key", max_retries=0)
    with client:
        for interaction in interactions:
            request, response = interaction["request"], interaction["response"]
            endpoint = endpoint_of(request["uri"])
            body = json.loads(request["body"])
            stream = bool(body.get("stream"))
            method = method_for(provider, endpoint, client)
            ok = True
            try:
                result = method(**as_kwargs(method, body))
                if stream:
                    list(result)
            except Exception:  # API errors and cut streams are calls too (counted, not priced)
                ok = False
            expected = {}
            if ok and response["status"] < 400:
                expected = expected_attributes(provider, endpoint, response["body"], stream)
            calls.append({"file": path.name, "provider": provider, "ok": ok and bool(expected), "expected": expected})
    return calls


@ao.record_tool("lookup")
def lookup(city: str) -> str:
    return f"sunny in {city}"


def main() -> None:
    url, key, *files = sys.argv[1:]
    session = ao.init(
        api_key=key, endpoint=url, instrument_llm_calls=True, exit_handlers=False, default_tags=["recorded"]
    )
    calls = []
    with ReplayServer() as server:
        for name in files:
            calls += replay(Path(name), server)
    lookup("Paris")
    analytics = ao.get_analytics()
    cost = session.end_session("Success")
    print(json.dumps({"session_id": session.session_id, "cost": str(cost), "analytics": analytics, "calls": calls}))


if __name__ == "__main__":
    main()
