"""An instrumented program for the end-to-end test: ``python -m tests.otelcol.session_app ENDPOINT OPENAI_URL
ANTHROPIC_URL OPENAI_FIXTURE ANTHROPIC_FIXTURE``.

It runs one agentops-otel session exporting to ENDPOINT (the OpenTelemetry Collector), makes the
recorded requests with the real openai and anthropic clients (answered by the test's replay
server), records an action, ends the session and prints ``SESSION <id>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anthropic
import openai

import agentops_otel as ao
from tests.support.replay import as_kwargs


def request_body(fixture: str) -> dict:
    return json.loads(json.loads(Path(fixture).read_text())["interactions"][0]["request"]["body"])


def main() -> None:
    endpoint, openai_url, anthropic_url, openai_fixture, anthropic_fixture = sys.argv[1:6]
    # The key reaches only the OpenTelemetry Collector, which does not check it: the key that
    # decides the project is the one otel-collector.yaml sends on to the agentops-otel collector.
    session = ao.init(endpoint=endpoint, api_key="not-the-project-key", default_tags=["through-otelcol"])
    assert session is not None
    print(f"SESSION {session.session_id}", flush=True)
    with openai.OpenAI(base_url=openai_url, api_key="test-key", max_retries=0) as client:
        create = client.chat.completions.create
        create(**as_kwargs(create, request_body(openai_fixture)))
    with anthropic.Anthropic(base_url=anthropic_url, api_key="test-key", max_retries=0) as client:
        create = client.messages.create
        create(**as_kwargs(create, request_body(anthropic_fixture)))
    ao.record(ao.ActionEvent(action_type="done"))
    ao.end_session("Success")


if __name__ == "__main__":
    main()
