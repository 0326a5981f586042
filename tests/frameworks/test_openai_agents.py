"""The real OpenAI Agents SDK running real agents against the replay server: agent, tool and action
spans around the ``openai`` instrumentor's LLM spans, one session per run, the SDK's own upload kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import agents
import openai
import pytest
from agents import Agent, GuardrailFunctionOutput, RunConfig, Runner, function_tool, input_guardrail
from agents.exceptions import InputGuardrailTripwireTriggered
from agents.models.openai_provider import OpenAIProvider
from opentelemetry.trace import StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.session import root_span_id
from agentops_otel.usage import span_price
from tests.conftest import fixture_path, recorded_path
from tests.frameworks.conftest import Tree

INGEST = "traces/ingest"


@pytest.fixture
def run_config(replay_server: Any) -> Iterator[RunConfig]:
    """Model calls through an ``AsyncOpenAI`` client of the replay server; the SDK's own trace
    upload (its default processor, left registered) posts to the replay server, answered by path."""
    exporter = agents.tracing.default_exporter()
    endpoint_before = exporter.endpoint
    replay_server.answer_always(INGEST, 204)
    exporter.endpoint = f"{replay_server.openai_base_url}/{INGEST}"
    agents.set_tracing_export_api_key("test-key")
    agents.set_tracing_disabled(False)
    client = openai.AsyncOpenAI(base_url=replay_server.openai_base_url, api_key="test-key", max_retries=0)
    try:
        yield RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=True))
    finally:
        agents.flush_traces()  # what is buffered goes to the replay server, not to the real endpoint
        exporter.endpoint = endpoint_before


def usages(path: Path) -> list[tuple[int, int]]:
    """(input, output) tokens of each Responses API answer of a recording, in order (streams included)."""
    found = []
    for interaction in json.loads(path.read_text())["interactions"]:
        if not interaction["request"]["uri"].endswith("/responses"):
            continue
        body = interaction["response"]["body"]
        if body.lstrip().startswith("event:") or body.lstrip().startswith("data:"):
            line = next(
                line for line in body.splitlines() if '"response.completed"' in line and line.startswith("data:")
            )
            usage = json.loads(line[5:])["response"]["usage"]
        else:
            usage = json.loads(body)["usage"]
        found.append((usage["input_tokens"], usage["output_tokens"]))
    return found


def only_session(sdk: Any, tree: Tree) -> ao.Session:
    (root,) = tree.kind(sc.KIND_SESSION)
    return sdk.client._known[uuid.UUID(root.attributes[sc.SESSION_ID]).int]


def assert_llm_calls(tree: Tree, expected: list[tuple[int, int]], session: ao.Session) -> None:
    """One LLM span per model call, with the exact tokens, and the session's totals their sum."""
    llm = sorted(tree.kind(sc.KIND_LLM), key=lambda s: s.start_time)
    got = [(s.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS], s.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) for s in llm]
    assert got == expected, tree.render()
    costs = [span_price(dict(s.attributes)).total for s in llm]
    assert all(c is not None for c in costs)
    assert session.get_analytics()["LLM calls"] == len(expected)
    assert session.cost == sum(costs, Decimal(0)) > 0


def weather_agent() -> Agent:
    @function_tool
    async def get_weather(city: str) -> str:
        """Gets the current weather for a specified city."""
        return {"London": "It's cloudy with 15°C", "Paris": "Sunny, 22°C"}.get(city, "Weather not available.")

    return Agent(
        name="WeatherAgent",
        instructions="You get the weather for a city using the get_weather tool.",
        model="gpt-4.1",
        tools=[get_weather],
    )


@pytest.mark.parametrize(
    "recording",
    [
        pytest.param(lambda: recorded_path("frameworks/openai_agents/agent_function_tool.json"), id="recorded"),
        pytest.param(lambda: fixture_path("openai_agents/tool_run.json"), id="fixture"),
    ],
)
def test_tool_run_is_a_session_of_its_own(sdk: Any, replay_server: Any, run_config: RunConfig, recording: Any) -> None:
    path = recording()
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    result = Runner.run_sync(weather_agent(), "What is the weather in London?", run_config=run_config)
    assert result.final_output

    tree = Tree(sdk.spans())
    session = only_session(sdk, tree)
    root = tree.one("session")
    agent = tree.one("invoke_agent WeatherAgent")
    tool = tree.one("execute_tool get_weather")
    assert tree.parent(agent) is root
    assert agent.attributes[sc.SPAN_KIND] == sc.KIND_AGENT
    assert agent.attributes[sc.AGENT_NAME] == agent.attributes[sc.GEN_AI_AGENT_NAME] == "WeatherAgent"
    assert agent.attributes[sc.FRAMEWORK] == sc.FRAMEWORK_OPENAI_AGENTS
    assert tool.attributes[sc.SPAN_KIND] == sc.KIND_TOOL and tree.parent(tool) is agent
    assert tool.attributes[sc.GEN_AI_TOOL_NAME] == "get_weather"
    assert json.loads(tool.attributes[sc.EVENT_PARAMS])["city"] in ("London", "Paris")
    assert tool.attributes[sc.EVENT_RETURNS] in ("It's cloudy with 15°C", "Sunny, 22°C")
    for llm in tree.kind(sc.KIND_LLM):
        assert tree.parent(llm) is agent, tree.render()
    first, second = sorted(tree.kind(sc.KIND_LLM), key=lambda s: s.start_time)
    assert first.end_time <= tool.start_time and tool.end_time <= second.start_time  # the order of the run
    assert_llm_calls(tree, usages(path), session)
    assert session.get_analytics()["Tool calls"] == 1
    assert root.attributes[sc.SESSION_TAGS] == (sc.FRAMEWORK_OPENAI_AGENTS,)
    assert root.attributes[sc.SESSION_END_STATE] == "Success" and root.status.status_code is StatusCode.OK
    assert {s.context.trace_id for s in tree.spans} == {root.context.trace_id}
    assert not session.is_running


def test_the_sdk_upload_is_left_as_configured(sdk: Any, replay_server: Any, run_config: RunConfig) -> None:
    replay_server.load(fixture_path("openai_agents/tool_run.json"))
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    Runner.run_sync(weather_agent(), "What is the weather in Paris?", run_config=run_config)
    agents.flush_traces()
    uploaded = [item for r in replay_server.requests_to(INGEST) for item in r.json()["data"]]
    kinds = [item["span_data"]["type"] for item in uploaded if item["object"] == "trace.span"]
    assert (kinds.count("agent"), kinds.count("function"), kinds.count("response")) == (1, 1, 2), kinds
    assert len(sdk.by_name("execute_tool get_weather")) == 1


@pytest.mark.parametrize(
    ("recording", "triage", "target", "instructions"),
    [
        pytest.param(
            lambda: recorded_path("frameworks/openai_agents/agent_handoff.json"),
            "TriageAgent",
            "AgentA",
            "You decide which agent to handoff to.",
            id="recorded",
        ),
        pytest.param(
            lambda: fixture_path("openai_agents/handoff_run.json"),
            "TriageAgent",
            "Billing agent",
            "Route billing questions.",
            id="fixture",
        ),
    ],
)
def test_handoff_is_an_action_between_two_agents(
    sdk: Any, replay_server: Any, run_config: RunConfig, recording: Any, triage: str, target: str, instructions: str
) -> None:
    path = recording()
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    agent_a = Agent(name=target, instructions="Agent A does something.", model="gpt-4.1")
    agent_b = Agent(name="AgentB", instructions="Agent B does something else.", model="gpt-4.1")
    triage_agent = Agent(name=triage, instructions=instructions, model="gpt-4.1", handoffs=[agent_a, agent_b])
    result = Runner.run_sync(
        triage_agent, "Please handle this task by delegating to another agent.", run_config=run_config
    )
    assert result.last_agent is agent_a

    tree = Tree(sdk.spans())
    root = tree.one("session")
    first = tree.one(f"invoke_agent {triage}")
    second = tree.one(f"invoke_agent {target}")
    handoff = tree.one("handoff")
    assert tree.parent(first) is root and tree.parent(second) is root
    assert tree.parent(handoff) is first and handoff.attributes[sc.SPAN_KIND] == sc.KIND_ACTION
    assert json.loads(handoff.attributes[sc.EVENT_RETURNS]) == {"to_agent": target}
    llm_first, llm_second = sorted(tree.kind(sc.KIND_LLM), key=lambda s: s.start_time)
    assert tree.parent(llm_first) is first and tree.parent(llm_second) is second, tree.render()
    assert_llm_calls(tree, usages(path), only_session(sdk, tree))
    assert only_session(sdk, tree).get_analytics()["Actions"] == 1


def test_streamed_handoff_with_a_tool(sdk: Any, replay_server: Any, run_config: RunConfig) -> None:
    path = recorded_path("frameworks/openai_agents/music_composer_handoffs_streaming.json")
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)

    @function_tool
    def compose_music(style: str, key: str) -> str:
        """Compose music in the specified style and key."""
        return f"Composed a beautiful {style} piece in {key} major"

    composer = Agent(
        name="Symphony Composer",
        instructions="You compose and arrange symphonic music pieces using your composition tools.",
        model="gpt-4o",
        tools=[compose_music],
    )
    coordinator = Agent(
        name="Music Coordinator",
        instructions="You coordinate musical performances. When users ask for composition, "
        "hand off to the Symphony Composer.",
        model="gpt-4o",
        handoffs=[composer],
    )

    async def run() -> Any:
        result = Runner.run_streamed(coordinator, "Can you create a new symphony in D major?", run_config=run_config)
        async for _ in result.stream_events():
            pass
        return result

    import asyncio

    result = asyncio.run(run())
    assert result.final_output

    tree = Tree(sdk.spans())
    coordinator_span = tree.one("invoke_agent Music Coordinator")
    composer_span = tree.one("invoke_agent Symphony Composer")
    tool = tree.one("execute_tool compose_music")
    assert tree.parent(tree.one("handoff")) is coordinator_span
    assert tree.parent(tool) is composer_span
    parents = [tree.parent(s).name for s in sorted(tree.kind(sc.KIND_LLM), key=lambda s: s.start_time)]
    assert parents == ["invoke_agent Music Coordinator", *["invoke_agent Symphony Composer"] * 2], tree.render()
    assert all(s.attributes.get(sc.GEN_AI_REQUEST_STREAM) for s in tree.kind(sc.KIND_LLM))
    assert_llm_calls(tree, usages(path), only_session(sdk, tree))


def test_run_inside_a_running_session_nests_under_the_current_span(
    sdk: Any, replay_server: Any, run_config: RunConfig
) -> None:
    replay_server.load(fixture_path("openai_agents/tool_run.json"))
    session = sdk.init(instrument_llm_calls=True)

    @ao.record_action("plan")
    def plan() -> Any:
        return Runner.run_sync(weather_agent(), "What is the weather in Paris?", run_config=run_config)

    plan()
    session.end_session("Success")
    tree = Tree(sdk.spans())
    assert len(tree.kind(sc.KIND_SESSION)) == 1, "the run opened no session of its own"
    assert tree.parent(tree.one("invoke_agent WeatherAgent")) is tree.one("plan")
    assert tree.one("plan").parent.span_id == root_span_id(session.session_id)
    assert tree.one("session").attributes[sc.SESSION_TAGS] == ()
    analytics = session.get_analytics()
    assert (analytics["LLM calls"], analytics["Tool calls"], analytics["Actions"]) == (2, 1, 1)


def test_failed_run_ends_its_session_as_failure(sdk: Any, replay_server: Any, run_config: RunConfig) -> None:
    replay_server.load(fixture_path("openai/responses_400.json"))
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    with pytest.raises(openai.BadRequestError):
        Runner.run_sync(weather_agent(), "What is the weather in Paris?", run_config=run_config)

    tree = Tree(sdk.spans())
    root = tree.one("session")
    agent = tree.one("invoke_agent WeatherAgent")
    (llm,) = tree.kind(sc.KIND_LLM)
    assert tree.parent(llm) is agent and llm.status.status_code is StatusCode.ERROR
    assert agent.status.status_code is StatusCode.ERROR
    assert root.attributes[sc.SESSION_END_STATE] == "Failure" and root.status.status_code is StatusCode.ERROR
    assert "does not exist" in root.attributes[sc.SESSION_END_STATE_REASON]
    assert only_session(sdk, tree).get_analytics()["Errors"] == 2


def test_guardrail_tripwire_is_an_action_and_fails_the_run(sdk: Any, replay_server: Any, run_config: RunConfig) -> None:
    replay_server.load(fixture_path("openai_agents/tool_run.json"))  # the model call may start before the tripwire
    sdk.init(instrument_llm_calls=True, auto_start_session=False)

    @input_guardrail(run_in_parallel=False)
    def no_secrets(context: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info="secret asked", tripwire_triggered="password" in str(text))

    agent = Agent(name="Guarded", instructions="Answer.", model="gpt-4.1", input_guardrails=[no_secrets])
    with pytest.raises(InputGuardrailTripwireTriggered):
        Runner.run_sync(agent, "Tell me the admin password", run_config=run_config)

    tree = Tree(sdk.spans())
    guardrail = tree.one("guardrail no_secrets")
    assert guardrail.attributes[sc.SPAN_KIND] == sc.KIND_ACTION
    assert json.loads(guardrail.attributes[sc.EVENT_RETURNS]) == {"triggered": True}
    assert tree.parent(guardrail) is tree.one("invoke_agent Guarded")
    assert tree.kind(sc.KIND_LLM) == []
    assert tree.one("session").attributes[sc.SESSION_END_STATE] == "Failure"


def test_no_framework_spans_after_shutdown(sdk: Any, replay_server: Any, run_config: RunConfig) -> None:
    replay_server.load(fixture_path("openai_agents/tool_run.json"))
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    sdk.client.shutdown()  # uninstruments: the processor stays registered with the SDK, inert
    Runner.run_sync(weather_agent(), "What is the weather in Paris?", run_config=run_config)
    assert sdk.exporter.get_finished_spans() == ()
    assert len(replay_server.requests_to("responses")) == 2


def test_run_after_the_session_ended_is_a_session_of_its_own(
    sdk: Any, replay_server: Any, run_config: RunConfig
) -> None:
    replay_server.load(fixture_path("openai_agents/tool_run.json"))
    first = sdk.init(instrument_llm_calls=True, default_tags=["app"])
    first.end_session("Success")
    Runner.run_sync(weather_agent(), "What is the weather in Paris?", run_config=run_config)

    roots = {s.attributes[sc.SESSION_ID]: s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_SESSION}
    assert len(roots) == 2
    own = next(root for session_id, root in roots.items() if session_id != first.session_id)
    assert own.attributes[sc.SESSION_TAGS] == ("app", sc.FRAMEWORK_OPENAI_AGENTS)
    agent = next(s for s in sdk.spans() if s.name == "invoke_agent WeatherAgent")
    assert agent.context.trace_id == own.context.trace_id and agent.parent.span_id == own.context.span_id


def test_custom_model_gets_its_llm_span_from_the_generation_span(sdk: Any, run_config: RunConfig) -> None:
    """A model that does not call an instrumented library (here a ``Model`` of the test's own that
    records its call in a generation span, as the SDK's LiteLLM model does) still counts once."""
    from agents import ModelResponse, Usage, generation_span
    from agents.models.interface import Model, ModelProvider
    from openai.types.responses import ResponseOutputMessage, ResponseOutputText

    class LocalModel(Model):
        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            with generation_span(model="local-llm", model_config={}) as span:
                span.span_data.usage = {"input_tokens": 17, "output_tokens": 5}
                text = ResponseOutputText(type="output_text", text="Hello.", annotations=[])
                message = ResponseOutputMessage(
                    id="msg_local", type="message", role="assistant", status="completed", content=[text]
                )
                return ModelResponse(output=[message], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    class LocalProvider(ModelProvider):
        def get_model(self, model_name: str | None) -> Model:
            return LocalModel()

    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    Runner.run_sync(Agent(name="Local", instructions="Hi."), "Hi", run_config=RunConfig(model_provider=LocalProvider()))

    tree = Tree(sdk.spans())
    (llm,) = tree.kind(sc.KIND_LLM)
    assert llm.name == "chat local-llm" and tree.parent(llm) is tree.one("invoke_agent Local")
    assert (llm.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS], llm.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (17, 5)
    assert llm.attributes[sc.FRAMEWORK] == sc.FRAMEWORK_OPENAI_AGENTS


def test_traces_the_sdk_never_finishes_end_their_sessions_past_the_open_limit(
    sdk: Any, run_config: RunConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """Past MAX_OPEN_RUNS traces started and never finished, the oldest one's session ends as a
    Failure saying why (said once in the log); the newer ones stay open."""
    from agentops_otel.instrumentation._framework import ABANDONED, MAX_OPEN_RUNS

    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    traces = [agents.trace(f"never-finished-{i}") for i in range(MAX_OPEN_RUNS + 1)]
    for started in traces:
        started.start()
    roots = [s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_SESSION]
    assert len(roots) == 1
    assert roots[0].attributes[sc.SESSION_END_STATE] == "Failure"
    assert roots[0].attributes[sc.SESSION_END_STATE_REASON] == ABANDONED
    assert sum("never ended" in r.getMessage() for r in caplog.records) == 1
    from agentops_otel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    assert len(OpenAIAgentsInstrumentor._processor._traces) == MAX_OPEN_RUNS  # the newer ones still open
    for started in traces[1:]:  # cleanup: the processor outlives this test
        started.finish()
    assert len(OpenAIAgentsInstrumentor._processor._traces) == 0
