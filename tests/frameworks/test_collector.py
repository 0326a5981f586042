"""Framework runs through OTLP into the real collector: its REST API counts their LLM calls, tools and
actions like hand-recorded ones, prices them as the SDK does, and their agents carry the same
attributes as a ``track_agent`` agent."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from agentops_otel import semconv as sc
from tests.collector.conftest import KEY, collector  # noqa: F401 (the real collector process)
from tests.support.replay import REPO_ROOT

APP = Path(__file__).with_name("framework_app.py")
AGENT_ATTRIBUTES = {sc.SPAN_KIND, sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_AGENT_NAME, sc.AGENT_NAME, sc.SESSION_ID}


def test_framework_sessions_in_the_collector(collector, tmp_path: Path) -> None:  # noqa: F811
    result = subprocess.run(
        [sys.executable, str(APP), collector.url, KEY],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO_ROOT,
        env={"PATH": "", "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT), "NO_PROXY": "127.0.0.1"},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])

    expected = {  # (LLM calls, tool calls, actions, tags)
        "langchain": (2, 1, 3, [sc.FRAMEWORK_LANGCHAIN]),  # the model node twice, the tools node
        "openai-agents": (2, 1, 0, [sc.FRAMEWORK_OPENAI_AGENTS]),
        "track_agent": (0, 0, 0, ["by-hand"]),
    }
    agents = {}
    for name, run in runs.items():
        status, stats = collector.get(f"/v2/sessions/{run['session_id']}/stats", KEY)
        assert status == 200, (name, stats)
        llm_calls, tool_calls, actions, tags = expected[name]
        assert (stats["llm_calls"], stats["tool_calls"], stats["actions"]) == (llm_calls, tool_calls, actions), name
        analytics = run["analytics"]
        assert (analytics["LLM calls"], analytics["Tool calls"], analytics["Actions"]) == (
            llm_calls,
            tool_calls,
            actions,
        )
        assert stats["tags"] == tags and stats["end_state"] == "Success", name
        assert Decimal(stats["cost"]) == Decimal(run["cost"]), name
        if llm_calls:
            assert Decimal(run["cost"]) > 0
        _, export = collector.get(f"/v2/sessions/{run['session_id']}/export", KEY)
        (agent,) = [s for s in export["spans"] if s["attributes"].get(sc.SPAN_KIND) == sc.KIND_AGENT]
        agents[name] = agent
    for name, agent in agents.items():
        assert set(agent["attributes"]) >= AGENT_ATTRIBUTES, (name, agent["attributes"])
        assert agent["name"] == f"invoke_agent {agent['attributes'][sc.AGENT_NAME]}"
    assert agents["track_agent"]["attributes"][sc.AGENT_NAME] == "Planner"
