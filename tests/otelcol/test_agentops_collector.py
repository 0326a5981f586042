"""App (agentops-otel SDK) -> OpenTelemetry Collector with otel-collector.yaml -> agentops-otel collector.

The YAML's exporter sends the project's API key, so the session lands in that key's project (and
in no other), with the costs the OpenTelemetry Collector computed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentops_otel import semconv as sc
from agentops_otel.collector.process import CollectorProcess, collector_process
from agentops_otel.pricing import PRICE_SOURCE
from tests.conftest import fixture_path
from tests.otelcol.otelcol import FILE_EXPORTER, Otelcol
from tests.support.replay import REPO_ROOT, ReplayServer

pytestmark = pytest.mark.otelcol

PROJECT_KEY, OTHER_KEY = "key-of-project-a", "key-of-project-b"


def poll_json(collector: CollectorProcess, path: str, key: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = collector.get(path, key)
        if status == 200:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"GET {path}: {status} {body}\n{collector.log()}")
        time.sleep(0.1)


def test_sessions_land_in_the_project_of_the_key(
    otelcol_bin: Path, tmp_path: Path, replay_server: ReplayServer
) -> None:
    openai_fixture, anthropic_fixture = (
        fixture_path("openai/chat_tools_n2.json"),
        fixture_path("anthropic/messages_cache.json"),
    )
    replay_server.load(openai_fixture)
    replay_server.load(anthropic_fixture)
    keys = {"AGENTOPS_COLLECTOR_KEYS": f"project-a:{PROJECT_KEY},project-b:{OTHER_KEY}"}
    with collector_process(tmp_path / "agentops", grpc_port=0, env=keys) as agentops:
        env = {"AGENTOPS_COLLECTOR_ENDPOINT": agentops.url, "AGENTOPS_API_KEY": PROJECT_KEY}
        with Otelcol(
            otelcol_bin, tmp_path / "otelcol", exporters=("otlp_http/agentops", FILE_EXPORTER), env=env
        ) as otelcol:
            app_env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "OTEL_"))}
            app_env["ANTHROPIC_OPEN_TELEMETRY"] = "false"
            app = subprocess.run(
                [sys.executable, "-m", "tests.otelcol.session_app", otelcol.http_endpoint,
                 replay_server.openai_base_url, replay_server.base_url, str(openai_fixture), str(anthropic_fixture)],
                capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=app_env,
            )  # fmt: skip
            assert app.returncode == 0, app.stderr
            session_id = app.stdout.split("SESSION ", 1)[1].split()[0]
            trace_id = session_id.replace("-", "")
            written = otelcol.wait_for(lambda spans: sum(s["trace_id"] == trace_id for s in spans) >= 4)
            export = poll_json(agentops, f"/v2/sessions/{session_id}/export", PROJECT_KEY)

        assert export["session"]["project_id"] == "project-a"
        assert export["session"]["end_state"] == "Success"
        status, _ = agentops.get(f"/v2/sessions/{session_id}/stats", OTHER_KEY)
        assert status == 404  # not in the other key's project
        status, _ = agentops.get(f"/v2/sessions/{session_id}/stats", "an-unregistered-key")
        assert status == 401

        # the LLM spans the OpenTelemetry Collector priced are those the agentops-otel collector stored
        ottl = {
            s["span_id"]: s["attributes"] for s in written
            if s["trace_id"] == trace_id and s["attributes"].get(sc.SPAN_KIND) == sc.KIND_LLM
        }  # fmt: skip
        assert len(ottl) == 2
        for attrs in ottl.values():
            assert attrs[sc.COST_SOURCE] == PRICE_SOURCE and attrs[sc.GEN_AI_USAGE_COST] > 0
        stored = {span["span_id"]: span["attributes"] for span in export["llms"]}
        assert stored.keys() == ottl.keys()
        for span_id, attrs in ottl.items():
            assert stored[span_id][sc.PROJECT_ID] == "project-a"
            for key in (sc.GEN_AI_USAGE_COST, sc.COST_INPUT, sc.COST_OUTPUT, sc.GEN_AI_USAGE_INPUT_TOKENS):
                assert abs(stored[span_id][key] - attrs[key]) <= 1e-12, (key, stored[span_id][key], attrs[key])
        total = sum(a[sc.GEN_AI_USAGE_COST] for a in ottl.values())
        assert abs(float(export["stats"]["cost"]) - total) < 1e-9
