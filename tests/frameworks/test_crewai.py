"""Real CrewAI crews against the replay server, in CrewAI's own virtualenv (tests/frameworks/crewai_env.py):
crews and tasks as action spans, agents as agent spans, tools as tool spans, each model call one
LLM span under its agent with the recorded tokens, the session's totals their sum."""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agentops_otel import semconv as sc
from agentops_otel.usage import span_price
from tests.conftest import fixture_path, recorded_path
from tests.frameworks.crewai_app import RESULT_MARK
from tests.support.replay import REPO_ROOT, ReplayServer

APP = Path(__file__).with_name("crewai_app.py")


class Run:
    """What one run of crewai_app.py printed: spans as dicts, and each session's analytics and cost."""

    def __init__(self, output: dict[str, Any]) -> None:
        self.spans: list[dict[str, Any]] = output["spans"]
        self.analytics: dict[str, dict[str, Any]] = output["analytics"]
        self.costs: dict[str, str] = output["costs"]
        self.error: str | None = output["error"]
        self.by_id = {s["span_id"]: s for s in self.spans}

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["attributes"].get(sc.SPAN_KIND) == kind]

    def one(self, name: str) -> dict[str, Any]:
        found = [s for s in self.spans if s["name"] == name]
        assert len(found) == 1, (name, [s["name"] for s in self.spans])
        return found[0]

    def parent(self, span: dict[str, Any]) -> dict[str, Any] | None:
        return self.by_id.get(span["parent_id"])

    def llm_tokens(self) -> list[tuple[int, int]]:
        llm = sorted(self.kind(sc.KIND_LLM), key=lambda s: self.spans.index(s))
        return [
            (s["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS], s["attributes"][sc.GEN_AI_USAGE_OUTPUT_TOKENS]) for s in llm
        ]


def run_app(python: Path, tmp_path: Path, recording: Path, scenario: str, *extra: str) -> Run:
    with ReplayServer() as server:
        server.load(recording)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),  # CrewAI keeps its own files under HOME
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)]),
            "CREWAI_DISABLE_TELEMETRY": "true",  # CrewAI's own telemetry would leave the machine
            "CREWAI_TRACING_ENABLED": "false",
            "NO_PROXY": "127.0.0.1",
        }
        result = subprocess.run(
            [str(python), str(APP), scenario, server.openai_base_url, *extra],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        assert all(r.path == "/v1/chat/completions" for r in server.requests), [r.path for r in server.requests]
    marked = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)]
    assert len(marked) == 1, (result.stdout[-4000:], result.stderr[-4000:])
    return Run(json.loads(marked[0][len(RESULT_MARK) :]))


def chat_usages(path: Path) -> list[tuple[int, int]]:
    usages = [json.loads(i["response"]["body"])["usage"] for i in json.loads(path.read_text())["interactions"]]
    return [(u["prompt_tokens"], u["completion_tokens"]) for u in usages]


def assert_session_totals(run: Run) -> None:
    (analytics,) = run.analytics.values()
    (cost,) = run.costs.values()
    llm = run.kind(sc.KIND_LLM)
    assert analytics["LLM calls"] == len(llm)
    expected = sum((span_price(s["attributes"]).total for s in llm), Decimal(0))
    assert Decimal(cost) == expected > 0


@pytest.mark.parametrize(
    "recording",
    [
        pytest.param(lambda: recorded_path("frameworks/crewai/crew_tool_use.json"), id="recorded"),
        pytest.param(lambda: fixture_path("crewai/crew_run.json"), id="fixture"),
    ],
)
def test_crew_of_two_agents_with_a_tool(crewai_python: Path, tmp_path: Path, recording: Any) -> None:
    path = recording()
    run = run_app(crewai_python, tmp_path, path, "crew")
    assert run.error is None

    root = run.one("session")
    crew = run.one("quotes")
    assert run.parent(crew) is root and crew["attributes"][sc.SPAN_KIND] == sc.KIND_ACTION
    assert root["attributes"][sc.SESSION_TAGS] == [sc.FRAMEWORK_CREWAI]
    assert root["attributes"][sc.SESSION_END_STATE] == "Success"
    tasks = [s for s in run.kind(sc.KIND_ACTION) if s["name"].startswith("task ")]
    assert len(tasks) == 2 and all(run.parent(t) is crew for t in tasks)
    scraper, analyzer = run.one("invoke_agent Website Scraper"), run.one("invoke_agent Content Analyzer")
    for agent in (scraper, analyzer):
        assert agent["attributes"][sc.SPAN_KIND] == sc.KIND_AGENT
        assert agent["attributes"][sc.AGENT_ID] == agent["attributes"][sc.GEN_AI_AGENT_ID]  # CrewAI's agent id
        assert run.parent(run.parent(agent)) is crew  # agent under its task
    tool = run.one("execute_tool scrape_website")
    assert run.parent(tool) is scraper and tool["attributes"][sc.GEN_AI_TOOL_NAME] == "scrape_website"
    assert json.loads(tool["attributes"][sc.EVENT_PARAMS]) == {"url": "http://quotes.toscrape.com/"}
    parents = [run.parent(s)["name"] for s in run.kind(sc.KIND_LLM)]
    assert sorted(parents) == ["invoke_agent Content Analyzer", *["invoke_agent Website Scraper"] * 2]
    assert run.llm_tokens() == chat_usages(path)
    (analytics,) = run.analytics.values()
    assert (analytics["Tool calls"], analytics["Actions"], analytics["Errors"]) == (1, 3, 0)
    assert_session_totals(run)


def test_agent_kickoff_is_a_session(crewai_python: Path, tmp_path: Path) -> None:
    path = recorded_path("frameworks/crewai/agent_kickoff.json")
    run = run_app(crewai_python, tmp_path, path, "kickoff")
    assert run.error is None
    agent = run.one("invoke_agent Helpful Assistant")
    assert run.parent(agent) is run.one("session")
    (llm,) = run.kind(sc.KIND_LLM)
    assert run.parent(llm) is agent and run.llm_tokens() == chat_usages(path)
    assert_session_totals(run)


def test_crew_inside_a_running_session(crewai_python: Path, tmp_path: Path) -> None:
    run = run_app(crewai_python, tmp_path, fixture_path("crewai/crew_run.json"), "crew", "in-session")
    (root,) = run.kind(sc.KIND_SESSION)
    assert root["attributes"][sc.SESSION_TAGS] == []  # the app's own session: no session of the crew's
    assert run.parent(run.one("quotes")) is root
    assert len(run.kind(sc.KIND_LLM)) == 3


def test_failed_model_call_fails_the_run(crewai_python: Path, tmp_path: Path) -> None:
    run = run_app(crewai_python, tmp_path, fixture_path("openai/chat_404.json"), "kickoff")
    assert run.error is not None
    root = run.one("session")
    assert root["attributes"][sc.SESSION_END_STATE] == "Failure"
    agent = run.one("invoke_agent Helpful Assistant")
    assert agent["status"] == "ERROR"
    assert all(s["status"] == "ERROR" for s in run.kind(sc.KIND_LLM)) and run.kind(sc.KIND_LLM)
