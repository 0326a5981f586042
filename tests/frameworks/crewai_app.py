"""A CrewAI application run by tests/frameworks/test_crewai.py in CrewAI's own virtualenv.

``python crewai_app.py <scenario> <replay base URL>``: initialises agentops-otel with in-memory
export, runs the scenario against the replay server, and prints one JSON object after ``RESULT_MARK``
on a line of its own: the finished spans (name, ids, parent, status, attributes) and the analytics
of every session.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentops_otel


def crew_with_a_tool(base_url: str) -> Any:
    """Two agents: a scraper using a tool, then an analyst working from its result."""
    from crewai import LLM, Agent, Crew, Task
    from crewai.tools import tool

    @tool("scrape_website")
    def scrape_website(url: str) -> str:
        """Scrape text content from a website URL"""
        return (
            '"The world as we have created it is a process of our thinking. '
            'It cannot be changed without changing our thinking." by Albert Einstein'
        )

    llm = LLM(model="gpt-4.1-nano", base_url=base_url, api_key="test-key", temperature=0)
    scraper = Agent(
        role="Website Scraper",
        goal="Scrape content from URL",
        backstory="You extract text from websites",
        tools=[scrape_website],
        llm=llm,
        allow_delegation=False,
    )
    analyzer = Agent(
        role="Content Analyzer",
        goal="Extract quotes from text",
        backstory="You extract quotes from text",
        llm=llm,
        allow_delegation=False,
    )
    scrape = Task(
        description="Call the scrape_website tool to fetch text from http://quotes.toscrape.com/ "
        "and return the result.",
        expected_output="Text content from the website.",
        agent=scraper,
    )
    analyze = Task(
        description="Extract the first quote from the content.",
        expected_output="Quote with author.",
        agent=analyzer,
        context=[scrape],
    )
    return Crew(agents=[scraper, analyzer], tasks=[scrape, analyze], name="quotes").kickoff()


def agent_kickoff(base_url: str) -> Any:
    from crewai import LLM, Agent

    llm = LLM(model="gpt-4.1-nano", base_url=base_url, api_key="test-key", temperature=0)
    agent = Agent(
        role="Helpful Assistant",
        goal="Answer questions clearly and concisely",
        backstory="You are a helpful assistant.",
        llm=llm,
    )
    return agent.kickoff("What is 2+2?")


RESULT_MARK = "AGENTOPS-RESULT "
SCENARIOS = {"crew": crew_with_a_tool, "kickoff": agent_kickoff}


def main() -> None:
    scenario, base_url = sys.argv[1], sys.argv[2]
    in_session = len(sys.argv) > 3 and sys.argv[3] == "in-session"
    exporter = InMemorySpanExporter()
    session = agentops_otel.init(exporter=exporter, exit_handlers=False, auto_start_session=in_session)
    error = None
    try:
        SCENARIOS[scenario](base_url)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    if session is not None:
        session.end_session("Success")
    client = agentops_otel.get_client()
    client.flush_all(10)
    spans = [
        {
            "name": s.name,
            "trace_id": s.context.trace_id,
            "span_id": s.context.span_id,
            "parent_id": s.parent.span_id if s.parent is not None else None,
            "status": s.status.status_code.name,
            "attributes": dict(s.attributes or {}),
        }
        for s in exporter.get_finished_spans()
    ]
    analytics = {str(tid): known.get_analytics() for tid, known in client._known.items()}
    costs = {str(tid): str(known.cost) for tid, known in client._known.items()}
    # one marked line: CrewAI may print on stdout too, before or after it
    result = json.dumps({"spans": spans, "analytics": analytics, "costs": costs, "error": error}, default=list)
    print(f"{RESULT_MARK}{result}", flush=True)


if __name__ == "__main__":
    main()
