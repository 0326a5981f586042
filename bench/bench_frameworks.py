"""What the agent-framework instrumentation adds per framework step, against the uninstrumented
run measured in the same process, rounds alternating.

Each workload runs the real framework with no network, so that the framework's own work is the
baseline and our share stands out:
- OpenAI Agents SDK: ``Runner.run`` (on one event loop) of an agent that calls an async function
  tool, then answers; its model
  is a stand-in returning ready ``ModelResponse`` objects (the LLM call's own instrumentation is
  measured by ``bench_instrumentation.py``). Steps per run: the agent and the tool.
- LangChain / LangGraph: a compiled ``StateGraph`` of three nodes, one of them calling a tool.
  Steps per run: the graph, its three nodes and the tool.
- CrewAI: ``Crew.kickoff`` of one agent and one task, its LLM a stand-in returning a final answer.
  Steps per run: the crew, the task and the agent. CrewAI cannot be installed beside the others
  (it pins ``openai`` below 3): run this one with the interpreter of CrewAI's venv, which the tests
  build (``tests/frameworks/crewai_env.py``):
  ``~/.cache/agentops-otel/crewai/<key>/bin/python bench/bench_frameworks.py --only crewai``.

Modes: ``off`` (instrumentors switched off: the Agents SDK calls our processor, which returns at
once; LangChain gets no handler at all), ``noop`` (LangChain only: a callback handler that does
nothing, installed the same way, i.e. what LangChain's own callback machinery costs once any handler
is there, as with LangSmith) and ``session`` (inside a running ``agentops_otel.init()`` session,
spans into a BatchSpanProcessor whose exporter drops them). Figures: median time per run of each
mode over blocks of runs, and the added time per step: ``session - off`` over the steps, and for
LangChain also ``session - noop`` (our handler's own share). The machine is shared and noisy:
compare the ratios of one run. Run: ``.venv/bin/python bench/bench_frameworks.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "src"))  # CrewAI's venv has no install of ours

import agentops_otel
from agentops_otel.instrumentation import instrumentors


class DropExporter(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


# --- OpenAI Agents SDK ---------------------------------------------------------------------------
def agents_workload() -> Callable[[], None]:
    import agents
    from agents import Agent, ModelResponse, RunConfig, Runner, Usage, function_tool
    from agents.models.interface import Model, ModelProvider
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

    agents.set_trace_processors([])  # only ours (re-added below): no upload from a benchmark

    call = ResponseFunctionToolCall(
        id="fc_1", call_id="call_1", type="function_call", name="get_weather", arguments='{"city":"Paris"}'
    )
    answer = ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text="Sunny.", annotations=[])],
    )

    class CannedModel(Model):
        async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
            items = input if isinstance(input, list) else []
            tool_done = any(isinstance(item, dict) and item.get("type") == "function_call_output" for item in items)
            return ModelResponse(output=[answer if tool_done else call], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    class Provider(ModelProvider):
        def get_model(self, model_name: str | None) -> Model:
            return CannedModel()

    @function_tool
    async def get_weather(city: str) -> str:  # async: a sync tool would start a thread per call
        """Gets the weather."""
        return "Sunny"

    agent = Agent(name="WeatherAgent", instructions="Weather.", tools=[get_weather])
    config = RunConfig(model_provider=Provider())

    loop = asyncio.new_event_loop()  # one loop for every run: asyncio.run's setup would dominate

    def run() -> None:
        loop.run_until_complete(Runner.run(agent, "Weather in Paris?", run_config=config))

    return run


# --- LangChain / LangGraph -----------------------------------------------------------------------
class NoopHook:
    """A configure hook giving LangChain a handler that does nothing, while ``on``."""

    on = False

    def __init__(self) -> None:
        from langchain_core.callbacks import BaseCallbackHandler
        from langchain_core.tracers.context import register_configure_hook

        self.handler = BaseCallbackHandler()
        register_configure_hook(self, inheritable=True)  # type: ignore[arg-type]

    def get(self, default: Any = None) -> Any:
        return self.handler if self.on else default


def langgraph_workload() -> Callable[[], None]:
    from langchain_core.tools import tool
    from langgraph.graph import END, START, StateGraph

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    class State(TypedDict, total=False):
        text: str

    graph = StateGraph(State)
    graph.add_node("plan", lambda state: {"text": state["text"] + "!"})
    graph.add_node("act", lambda state: {"text": lookup.invoke({"key": state["text"]})})
    graph.add_node("answer", lambda state: {"text": state["text"] * 2})
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "act")
    graph.add_edge("act", "answer")
    graph.add_edge("answer", END)
    compiled = graph.compile()

    def run() -> None:
        compiled.invoke({"text": "a"})

    return run


def crewai_workload() -> Callable[[], None]:
    from crewai import Agent, Crew, Task
    from crewai.llms.base_llm import BaseLLM

    class CannedLLM(BaseLLM):
        def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            return "Thought: I know it.\nFinal Answer: 4"

        def supports_function_calling(self) -> bool:
            return False

    agent = Agent(role="Calculator", goal="Add", backstory="Adds numbers", llm=CannedLLM(model="canned"))
    crew = Crew(agents=[agent], tasks=[Task(description="What is 2+2?", expected_output="A number", agent=agent)])

    def run() -> None:
        crew.kickoff()

    return run


WORKLOADS = {
    "openai-agents": (agents_workload, "agent, tool"),
    "langgraph": (langgraph_workload, "graph, 3 nodes, tool"),
    "crewai": (crewai_workload, "crew, task, agent"),
}


def switch(settings: list[Any], on: bool) -> None:
    for instrumentor, saved in zip(instrumentors(), settings, strict=True):
        if hasattr(instrumentor, "framework"):
            instrumentor._settings = saved if on else None


def measure(run: Callable[[], None], runs: int) -> float:
    """CPU time of the process per run (all threads, the export worker's included): steadier than
    wall time on a shared machine, where preemption adds whole milliseconds at random."""
    start = time.process_time()
    for _ in range(runs):
        run()
    return (time.process_time() - start) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test, not figures)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="one workload")
    options = parser.parse_args()
    runs = 20 if options.quick else 100
    rounds = 2 if options.quick else options.rounds

    exporter = DropExporter()
    session = agentops_otel.init(exporter=exporter, exit_handlers=False, default_tags=["bench"])
    assert session is not None
    settings = [getattr(i, "_settings", None) for i in instrumentors()]
    print(f"{runs} runs per block, {rounds} rounds, modes alternating; median CPU time per run\n")
    print(f"{'workload':<15} {'steps':<24} {'off':>9} {'noop':>9} {'session':>9} {'ratio':>6} {'added/step':>11}")
    for name, (make, steps_text) in WORKLOADS.items():
        if options.only and name != options.only:
            continue
        try:
            run = make()
        except ImportError as exc:
            print(f"{name:<15} skipped: {exc.name} is not installed here")
            continue
        if name == "openai-agents":
            import agents

            from agentops_otel.instrumentation import OpenAIAgentsInstrumentor

            agents.add_trace_processor(OpenAIAgentsInstrumentor()._processor)
        switch(settings, True)
        agentops_otel.get_client().flush_all(10)
        before = exporter.count
        run()  # warm-up, and the number of spans one run makes
        agentops_otel.get_client().flush_all(10)
        steps = exporter.count - before
        modes = ("off", "noop", "session") if name == "langgraph" else ("off", "session")
        noop = NoopHook() if name == "langgraph" else None
        timings: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(rounds):
            for mode in modes:
                switch(settings, mode == "session")
                if noop is not None:
                    noop.on = mode == "noop"
                timings[mode].append(measure(run, runs))
        switch(settings, True)
        if noop is not None:
            noop.on = False
        median = {mode: statistics.median(values) for mode, values in timings.items()}
        off, on = median["off"], median["session"]
        added = f"{(on - off) / steps * 1e6:.0f}µs"
        if "noop" in median:
            added += f" ({(on - median['noop']) / steps * 1e6:.0f}µs over noop)"
        noop_text = f"{median['noop'] * 1e6:>7.0f}µs" if "noop" in median else f"{'-':>9}"
        print(
            f"{name:<15} {f'{steps} ({steps_text})':<24} {off * 1e6:>7.0f}µs {noop_text} {on * 1e6:>7.0f}µs "
            f"{on / off:>5.2f}x {added:>11}"
        )
    session.end_session("Success")


if __name__ == "__main__":
    main()
