"""Framework instrumentation is lazy (nothing imported that the application did not import), found
through the ``opentelemetry_instrumentor`` entry points, and switched by instrument()/uninstrument().
Import-order cases run in fresh interpreters, since a framework can only be imported once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import instrumentors
from tests.conftest import fixture_path
from tests.instrumentation.test_lifecycle import run_script
from tests.instrumentation.test_zero_code import console_spans

FRAMEWORK_MODULES = ("agents", "langchain_core", "langgraph", "crewai")


def test_entry_points_name_every_instrumentor() -> None:
    found = {ep.value for ep in metadata.entry_points(group="opentelemetry_instrumentor")}
    for instrumentor in instrumentors():
        assert f"{type(instrumentor).__module__}:{type(instrumentor).__name__}" in found


def test_init_imports_no_framework(tmp_path: Path) -> None:
    result = run_script(
        f"""
    import sys, json
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import agentops_otel
    agentops_otel.init(exporter=InMemorySpanExporter(), exit_handlers=False)
    print(json.dumps([m for m in {FRAMEWORK_MODULES!r} if m in sys.modules]))
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


AGENT_RUN = """
    import json
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tests.support.replay import ReplayServer, FIXTURES_DIR

    def run(agents):
        import openai
        from agents.models.openai_provider import OpenAIProvider

        with ReplayServer() as server:
            server.answer_always("traces/ingest", 204)  # the SDK's own upload
            agents.tracing.default_exporter().endpoint = server.openai_base_url + "/traces/ingest"
            agents.set_tracing_export_api_key("k")
            server.load(FIXTURES_DIR / "openai_agents/handoff_run.json")
            client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
            billing = agents.Agent(name="Billing agent", instructions="Answer.", model="gpt-4.1")
            triage = agents.Agent(name="TriageAgent", instructions="Route.", model="gpt-4.1", handoffs=[billing])
            config = agents.RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=True))
            agents.Runner.run_sync(triage, "When was my invoice paid?", run_config=config)
            agents.flush_traces()
"""

INIT = "agentops_otel.init(exporter=exporter, exit_handlers=False, auto_start_session=False)"


@pytest.mark.parametrize("order", ["init-first", "import-first"])
def test_agents_sdk_in_either_import_order(tmp_path: Path, order: str) -> None:
    first, then = (INIT, "import agents") if order == "init-first" else ("import agents", INIT)
    result = run_script(
        AGENT_RUN
        + f"""
    import sys
    import agentops_otel
    exporter = InMemorySpanExporter()
    {first}
    {then}
    run(agents)
    agentops_otel.get_client().flush_all(10)
    print(json.dumps(sorted(s.name for s in exporter.get_finished_spans())))
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "chat gpt-4.1",
        "chat gpt-4.1",
        "handoff",
        "invoke_agent Billing agent",
        "invoke_agent TriageAgent",
        "session",
    ]


CHAIN_RUN = """
    def run():
        from langchain_core.runnables import RunnableLambda

        chain = RunnableLambda(lambda x: x + 1).with_config(run_name="add") | RunnableLambda(lambda x: x * 2)
        assert chain.invoke(1) == 4
"""


@pytest.mark.parametrize("order", ["init-first", "import-first", "uninstrumented"])
def test_langchain_in_either_import_order(tmp_path: Path, order: str) -> None:
    imports = "import langchain_core.runnables"
    first, then = (INIT, imports) if order == "init-first" else (imports, INIT)
    stop = "from agentops_otel.instrumentation import uninstrument; uninstrument()" if order == "uninstrumented" else ""
    result = run_script(
        AGENT_RUN
        + CHAIN_RUN
        + f"""
    import agentops_otel
    exporter = InMemorySpanExporter()
    {first}
    {then}
    {stop}
    run()
    agentops_otel.get_client().flush_all(10)
    print(json.dumps(sorted(s.name for s in exporter.get_finished_spans())))
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    expected = [] if order == "uninstrumented" else ["RunnableLambda", "RunnableSequence", "add", "session"]
    assert json.loads(result.stdout) == expected


ZERO_CODE_APP = """
import os
from typing import TypedDict

import openai
from langgraph.graph import END, START, StateGraph

client = openai.OpenAI(base_url=os.environ["REPLAY_URL"] + "/v1", api_key="k", max_retries=0)


class State(TypedDict):
    answer: str


def ask(state: State) -> dict:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}])
    return {"answer": reply.id}


graph = StateGraph(State)
graph.add_node("ask", ask)
graph.add_edge(START, "ask")
graph.add_edge("ask", END)
graph.compile().invoke({"answer": ""})
"""


def test_zero_code_langgraph(tmp_path: Path, replay_server: Any) -> None:
    """``opentelemetry-instrument`` finds the LangChain instrumentor by its entry point: with no
    agentops_otel code in the app, the graph, its node and the node's model call nest as usual."""
    replay_server.load(fixture_path("langchain/tool_agent.json"))
    (tmp_path / "app.py").write_text(ZERO_CODE_APP)
    env = {
        **os.environ,
        "REPLAY_URL": replay_server.base_url,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("opentelemetry-instrument")), sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    spans = {s["name"]: s for s in console_spans(result.stdout)}
    graph, node, llm = spans["LangGraph"], spans["ask"], spans["chat gpt-4o-mini"]
    assert node["parent_id"] == graph["context"]["span_id"] and llm["parent_id"] == node["context"]["span_id"]
    assert node["attributes"][sc.SPAN_KIND] == sc.KIND_ACTION and llm["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] == 61
