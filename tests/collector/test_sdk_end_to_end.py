"""The real SDK and real clients over 127.0.0.1 into the real collector: per-call tokens and cost
equal what the recorded responses say, and end_session()'s Decimal equals the collector's cost."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from agentops_otel import pricing
from agentops_otel import semconv as sc
from agentops_otel.pricing import TokenUsage
from agentops_otel.usage import NO_USAGE_SOURCE
from tests.collector.conftest import KEY
from tests.conftest import recorded_path, sdk_free_env
from tests.instrumentation.test_recordings import RECORDED
from tests.support.replay import FIXTURES_DIR, REPO_ROOT

APP = Path(__file__).with_name("agent_app.py")
USAGE_KEYS = (
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)


def run_agent(collector, files: list[Path]) -> dict:
    env = sdk_free_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, str(APP), collector.url, KEY, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_session(collector, run: dict) -> None:
    session_id = run["session_id"]
    status, stats = collector.get(f"/v2/sessions/{session_id}/stats", KEY)
    assert status == 200, stats
    # the SDK's own Decimal and the collector's decimal string are the same number
    assert Decimal(stats["cost"]) == Decimal(run["cost"])
    assert stats["llm_calls"] == len(run["calls"]) == run["analytics"]["LLM calls"]
    assert stats["tool_calls"] == 1 and stats["end_state"] == "Success" and stats["tags"] == ["recorded"]
    assert stats["errors"] == run["analytics"]["Errors"]
    assert stats["unpriced_llm_calls"] == run["analytics"]["Unpriced LLM calls"]
    assert stats["cost_partial"] == (stats["unpriced_llm_calls"] > 0)

    _, export = collector.get(f"/v2/sessions/{session_id}/export", KEY)
    llms = export["llms"]  # in start order = call order
    assert len(llms) == len(run["calls"])
    priced = 0
    for span, call in zip(llms, run["calls"], strict=True):
        attrs = span["attributes"]
        assert attrs[sc.PROJECT_ID] == stats["project_id"]
        if not call["ok"]:
            continue
        expected = call["expected"]
        assert {k: attrs.get(k) for k in USAGE_KEYS} == {k: expected.get(k) for k in USAGE_KEYS}, call["file"]
        if sc.GEN_AI_USAGE_INPUT_TOKENS not in expected and sc.GEN_AI_USAGE_OUTPUT_TOKENS not in expected:
            # a stream without usage: counted, flagged, not priced
            assert span["cost"] is None and attrs[sc.COST_SOURCE] == NO_USAGE_SOURCE, call["file"]
            assert span["cost_source"] == NO_USAGE_SOURCE and sc.GEN_AI_USAGE_COST not in attrs
            continue
        usage = TokenUsage(*(expected.get(k, 0) for k in USAGE_KEYS))
        rates = pricing.rates_for(expected[sc.GEN_AI_RESPONSE_MODEL], call["provider"])
        if rates is None:
            assert span["cost"] is None and attrs[sc.COST_SOURCE] == pricing.UNKNOWN_MODEL_SOURCE, call["file"]
            continue
        cost = pricing.cost_of(usage, rates)
        assert Decimal(span["cost"]) == cost.total, call["file"]
        assert attrs[sc.GEN_AI_USAGE_COST] == float(cost.total)
        assert attrs[sc.COST_INPUT] == float(cost.input) and attrs[sc.COST_OUTPUT] == float(cost.output)
        assert attrs[sc.COST_SOURCE] == pricing.PRICE_SOURCE
        priced += 1
    assert priced > 0


def test_own_fixtures_through_sdk_and_collector(collector):
    # agent_app replays what the openai and anthropic clients send (other folders belong to other tests)
    files = sorted(f for provider in ("openai", "anthropic") for f in (FIXTURES_DIR / provider).glob("*.json"))
    assert files
    check_session(collector, run_agent(collector, files))


@pytest.mark.recorded
def test_recorded_responses_through_sdk_and_collector(collector):
    files = [recorded_path(f"{provider}/{name}.json") for provider, names in RECORDED.items() for name in names]
    check_session(collector, run_agent(collector, files))


def test_inherited_session_across_two_real_processes(collector):
    """The SDK's own two-process program (tests/sdk/child_app.py): parent + child joining by environment."""
    env = sdk_free_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "sdk" / "child_app.py"), "parent", collector.url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    session_id = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("SESSION "))
    status, stats = collector.get(f"/v2/sessions/{session_id}/stats", "child-key")
    assert status == 200, stats
    assert (stats["events"], stats["actions"], stats["tool_calls"]) == (4, 3, 1)
    assert stats["end_state"] == "Success" and stats["end_state_reason"] == "parent finished"
    _, export = collector.get(f"/v2/sessions/{session_id}/export", "child-key")
    pids = {span["name"]: span["resource"][sc.PROCESS_PID] for span in export["spans"]}
    assert pids["child-event"] == pids["execute_tool lookup"] != pids["session"] == pids["parent-before"]
