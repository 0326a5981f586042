"""Framework runs in a process of their own, exported over OTLP to a collector (test_collector.py).

    python tests/frameworks/framework_app.py COLLECTOR_URL API_KEY

Runs, with ``init(auto_start_session=False)``: a LangChain agent with a tool, an OpenAI Agents SDK
agent with a tool (each a session of its own), then a session started by hand holding a
``track_agent`` agent. Prints one JSON line: per run, its session id, cost and analytics.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import openai
from agents import Agent, RunConfig, Runner, function_tool, set_trace_processors
from agents.models.openai_provider import OpenAIProvider
from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import agentops_otel as ao
from tests.support.replay import FIXTURES_DIR, ReplayServer


def newest_session(before: set[str]) -> ao.Session:
    client = ao.get_client()
    (session,) = [s for s in client._known.values() if s.session_id not in before]
    return session


def known_ids() -> set[str]:
    return {s.session_id for s in ao.get_client()._known.values()}


def report(session: ao.Session) -> dict[str, Any]:
    return {"session_id": session.session_id, "cost": str(session.cost), "analytics": session.get_analytics()}


@ao.track_agent(name="Planner")
class Planner:
    def plan(self, goal: str) -> str:
        return f"plan for {goal}"


def main() -> None:
    url, key = sys.argv[1:3]
    ao.init(api_key=key, endpoint=url, auto_start_session=False, exit_handlers=False)
    set_trace_processors([ao.instrumentation.OpenAIAgentsInstrumentor()._processor])  # no upload to OpenAI
    runs: dict[str, Any] = {}
    with ReplayServer() as server:
        before = known_ids()
        server.load(FIXTURES_DIR / "langchain/tool_agent.json")

        @tool
        def get_weather(location: str) -> str:
            """Get the weather for a location."""
            return f"The weather in {location} is sunny."

        model = ChatOpenAI(model="gpt-4o-mini", base_url=server.openai_base_url, api_key="k", max_retries=0)
        agent = create_agent(model, tools=[get_weather], name="weather_agent")
        agent.invoke({"messages": [("user", "What's the weather in London?")]})
        runs["langchain"] = report(newest_session(before))

        before = known_ids()
        server.load(FIXTURES_DIR / "openai_agents/tool_run.json")

        def get_weather_for(city: str) -> str:
            """Gets the current weather for a specified city."""
            return "Sunny, 22°C"

        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
        config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=True))
        weather = Agent(
            name="WeatherAgent",
            instructions="Weather.",
            model="gpt-4.1",
            tools=[function_tool(get_weather_for, name_override="get_weather")],
        )
        Runner.run_sync(weather, "What is the weather in Paris?", run_config=config)
        runs["openai-agents"] = report(newest_session(before))

    session = ao.start_session(tags=["by-hand"])
    Planner().plan("a trip")
    session.end_session("Success")
    runs["track_agent"] = report(session)
    ao.get_client().flush_all(10)
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
