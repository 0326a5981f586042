"""Real LangChain and LangGraph runs against the replay server: chains and graph nodes as action
spans, agents as agent spans, tools as tool spans, each model call one LLM span under the step
that made it (the provider instrumentor's, or the callback's for a library we do not instrument)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import openai
import pytest
from langchain.agents import create_agent
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.instrumentation import OpenAIInstrumentor
from agentops_otel.session import root_span_id
from agentops_otel.usage import span_price
from tests.conftest import fixture_path, recorded_path
from tests.frameworks.conftest import Tree


def chat_usages(path: Path) -> list[tuple[int, int]]:
    """(prompt, completion) tokens of each non-streamed chat completion of a recording, in order."""
    found = []
    for interaction in json.loads(path.read_text())["interactions"]:
        usage = json.loads(interaction["response"]["body"])["usage"]
        found.append((usage["prompt_tokens"], usage["completion_tokens"]))
    return found


def tokens(span: Any) -> tuple[int, int]:
    return span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS], span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS]


def only_session(sdk: Any, tree: Tree) -> ao.Session:
    (root,) = tree.kind(sc.KIND_SESSION)
    return sdk.client._known[uuid.UUID(root.attributes[sc.SESSION_ID]).int]


def assert_totals(sdk: Any, tree: Tree) -> None:
    """The session counts every LLM span once and costs their exact sum."""
    session = only_session(sdk, tree)
    llm = tree.kind(sc.KIND_LLM)
    assert session.get_analytics()["LLM calls"] == len(llm)
    costs = [span_price(dict(s.attributes)).total for s in llm]
    assert session.cost == sum((c for c in costs if c is not None), Decimal(0)) > 0


@tool
def get_weather(location: str) -> str:
    """Get the weather for a location."""
    return f"The weather in {location} is sunny."


def chat_openai(replay_server: Any, model: str = "gpt-4o-mini", **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=replay_server.openai_base_url, api_key="test-key", max_retries=0, **kwargs)


class MathState(TypedDict):
    request: str
    result: str


@pytest.mark.parametrize(
    ("recording", "model"),
    [
        pytest.param(
            lambda: recorded_path("frameworks/langchain/langgraph_node_openai_call.json"), "gpt-4o", id="recorded"
        ),
        pytest.param(lambda: fixture_path("openai/chat_cached_reasoning.json"), "o4-mini", id="fixture"),
    ],
)
def test_graph_node_calling_the_openai_sdk(sdk: Any, replay_server: Any, recording: Any, model: str) -> None:
    path = recording()
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    client = openai.OpenAI(base_url=replay_server.openai_base_url, api_key="test-key", max_retries=0)

    def calculate(state: MathState) -> dict[str, str]:
        messages = [
            {"role": "system", "content": "You are a mathematician."},
            {"role": "user", "content": state["request"]},
        ]
        reply = client.chat.completions.create(model=model, messages=messages)
        return {"result": reply.choices[0].message.content or ""}

    graph = StateGraph(MathState)
    graph.add_node("calculate", calculate)
    graph.add_edge(START, "calculate")
    graph.add_edge("calculate", END)
    assert graph.compile().invoke({"request": "What's 5 + 5?"})["result"]

    tree = Tree(sdk.spans())
    root, graph_span, node = tree.one("session"), tree.one("LangGraph"), tree.one("calculate")
    (llm,) = tree.kind(sc.KIND_LLM)
    assert (tree.parent(graph_span), tree.parent(node), tree.parent(llm)) == (root, graph_span, node), tree.render()
    assert graph_span.attributes[sc.SPAN_KIND] == node.attributes[sc.SPAN_KIND] == sc.KIND_ACTION
    assert node.attributes[sc.FRAMEWORK] == sc.FRAMEWORK_LANGCHAIN
    assert [tokens(llm)] == chat_usages(path)
    assert root.attributes[sc.SESSION_TAGS] == (sc.FRAMEWORK_LANGCHAIN,)
    assert root.attributes[sc.SESSION_END_STATE] == "Success"
    assert_totals(sdk, tree)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_agent_with_a_tool(sdk: Any, replay_server: Any, mode: str) -> None:
    path = fixture_path("langchain/tool_agent.json")
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    agent = create_agent(
        chat_openai(replay_server, temperature=0),
        tools=[get_weather],
        system_prompt="You are a helpful assistant.",
        name="weather_agent",
    )
    question = {"messages": [("user", "What's the weather in London?")]}
    if mode == "async":
        import asyncio

        result = asyncio.run(agent.ainvoke(question))
    else:
        result = agent.invoke(question)
    assert result["messages"][-1].content == "It is sunny in London."

    tree = Tree(sdk.spans())
    agent_span = tree.one("invoke_agent weather_agent")
    assert agent_span.attributes[sc.SPAN_KIND] == sc.KIND_AGENT
    assert agent_span.attributes[sc.AGENT_NAME] == agent_span.attributes[sc.GEN_AI_AGENT_NAME] == "weather_agent"
    assert tree.parent(agent_span) is tree.one("session")
    tool_span = tree.one("execute_tool get_weather")
    assert tree.parent_name(tool_span) == "tools" and tree.parent(tree.parent(tool_span)) is agent_span
    assert json.loads(tool_span.attributes[sc.EVENT_PARAMS]) == {"location": "London"}
    assert tool_span.attributes[sc.EVENT_RETURNS] == "The weather in London is sunny."
    llm = sorted(tree.kind(sc.KIND_LLM), key=lambda s: s.start_time)
    assert [tree.parent_name(s) for s in llm] == ["model", "model"], tree.render()
    assert all(tree.parent(tree.parent(s)) is agent_span for s in llm)
    assert [tokens(s) for s in llm] == chat_usages(path)
    assert only_session(sdk, tree).get_analytics()["Tool calls"] == 1
    assert_totals(sdk, tree)


def test_graph_with_a_tool_node_and_streamed_model(sdk: Any, replay_server: Any) -> None:
    replay_server.load(recorded_path("frameworks/langchain/agent_executor_tool_streaming.json"))
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    model = chat_openai(replay_server, temperature=0, streaming=True).bind_tools([get_weather])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke([SystemMessage("You are a helpful assistant."), *state["messages"]])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    result = graph.compile().invoke({"messages": [HumanMessage("What's the weather in London?")]})
    assert "sunny" in result["messages"][-1].content

    tree = Tree(sdk.spans())
    graph_span = tree.one("LangGraph")
    assert tree.parent_name(tree.one("execute_tool get_weather")) == "tools"
    llm = sorted(tree.kind(sc.KIND_LLM), key=lambda s: s.start_time)
    assert [tree.parent_name(s) for s in llm] == ["agent", "agent"], tree.render()
    assert all(tree.parent(tree.parent(s)) is graph_span for s in llm)
    assert all(s.attributes[sc.GEN_AI_REQUEST_STREAM] for s in llm)
    # the recorded stream reports no usage: the calls count, without tokens (a partial cost)
    assert all(sc.GEN_AI_USAGE_INPUT_TOKENS not in s.attributes for s in llm)
    assert only_session(sdk, tree).get_analytics()["LLM calls"] == 2


def test_parallel_nodes_in_threads_keep_their_calls(sdk: Any, replay_server: Any) -> None:
    """LangGraph runs the two branches in its thread pool: each LLM span is under its own node."""
    path = fixture_path("langchain/tool_agent.json")
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    client = openai.OpenAI(base_url=replay_server.openai_base_url, api_key="test-key", max_retries=0)

    class State(TypedDict, total=False):
        left: str
        right: str

    def ask(key: str) -> Any:
        def node(state: State) -> dict[str, str]:
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": key}])
            return {key: reply.id}

        return node

    graph = StateGraph(State)
    graph.add_node("left", ask("left"))
    graph.add_node("right", ask("right"))
    graph.add_edge(START, "left")
    graph.add_edge(START, "right")
    graph.add_edge("left", END)
    graph.add_edge("right", END)
    result = graph.compile().invoke({})
    assert {result["left"], result["right"]} == {"chatcmpl-lc-1", "chatcmpl-lc-2"}

    tree = Tree(sdk.spans())
    for node in ("left", "right"):
        (llm,) = [s for s in tree.kind(sc.KIND_LLM) if tree.parent_name(s) == node]
        assert llm.attributes[sc.GEN_AI_RESPONSE_ID] == result[node]
    assert sorted(tokens(s) for s in tree.kind(sc.KIND_LLM)) == sorted(chat_usages(path))
    assert_totals(sdk, tree)


def test_chain_with_a_prompt_and_a_model(sdk: Any, replay_server: Any) -> None:
    path = recorded_path("frameworks/langchain/lcel_function_call.json")
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    joke = {
        "name": "Joke",
        "description": "Joke to tell user.",
        "parameters": {
            "type": "object",
            "properties": {
                "setup": {"description": "question to set up a joke", "type": "string"},
                "punchline": {"description": "answer to resolve the joke", "type": "string"},
            },
            "required": ["setup", "punchline"],
        },
    }
    prompt = ChatPromptTemplate.from_messages([("system", "You are helpful assistant"), ("user", "{input}")])
    chain = prompt | chat_openai(replay_server, "gpt-3.5-turbo", temperature=0.7).bind(functions=[joke])
    chain.invoke({"input": "tell me a short joke"})

    tree = Tree(sdk.spans())
    sequence = tree.one("RunnableSequence")
    assert tree.parent(tree.one("ChatPromptTemplate")) is sequence
    (llm,) = tree.kind(sc.KIND_LLM)
    assert tree.parent(llm) is sequence and [tokens(llm)] == chat_usages(path)[:1]
    assert only_session(sdk, tree).get_analytics()["Actions"] == 2
    assert_totals(sdk, tree)


def test_chat_anthropic_keeps_one_llm_span(sdk: Any, replay_server: Any) -> None:
    replay_server.load(recorded_path("frameworks/langchain/chat_anthropic.json"))
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    model = ChatAnthropic(model="claude-2.1", base_url=replay_server.base_url, api_key="test-key", max_retries=0)
    reply = model.invoke([SystemMessage("You are a helpful assistant"), HumanMessage("tell me a short joke")])
    assert reply.content

    tree = Tree(sdk.spans())
    (llm,) = tree.kind(sc.KIND_LLM)
    assert llm.attributes[sc.GEN_AI_PROVIDER_NAME] == sc.PROVIDER_ANTHROPIC and tokens(llm) == (19, 22)
    assert tree.parent(llm) is tree.one("session") and sc.FRAMEWORK not in llm.attributes


def test_model_over_an_uninstrumented_library_gets_its_span_from_the_callback(sdk: Any, replay_server: Any) -> None:
    path = fixture_path("langchain/tool_agent.json")
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    OpenAIInstrumentor().uninstrument()  # as with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=agentops_openai
    chain = RunnableLambda(lambda question: [HumanMessage(question)]) | chat_openai(replay_server, temperature=0)
    reply = chain.invoke("What's the weather in London?")
    assert reply.tool_calls

    tree = Tree(sdk.spans())
    (llm,) = tree.kind(sc.KIND_LLM)
    assert llm.name == "chat gpt-4o-mini" and tree.parent(llm) is tree.one("RunnableSequence")
    assert llm.attributes[sc.FRAMEWORK] == sc.FRAMEWORK_LANGCHAIN
    assert llm.attributes[sc.GEN_AI_PROVIDER_NAME] == sc.PROVIDER_OPENAI
    assert llm.attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert llm.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert [tokens(llm)] == chat_usages(path)[:1]
    assert llm.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0
    assert_totals(sdk, tree)


def test_chain_inside_a_running_session(sdk: Any, replay_server: Any) -> None:
    replay_server.load(fixture_path("langchain/tool_agent.json"))
    session = sdk.init(instrument_llm_calls=True)
    model = chat_openai(replay_server, temperature=0)

    @ao.record_action("ask")
    def ask() -> Any:
        return (RunnableLambda(lambda q: [HumanMessage(q)]) | model).invoke("What's the weather?")

    ask()
    session.end_session("Success")
    tree = Tree(sdk.spans())
    assert len(tree.kind(sc.KIND_SESSION)) == 1
    assert tree.parent(tree.one("RunnableSequence")) is tree.one("ask")
    assert tree.one("ask").parent.span_id == root_span_id(session.session_id)
    (llm,) = tree.kind(sc.KIND_LLM)
    assert tree.parent(llm) is tree.one("RunnableSequence")


def test_failed_call_ends_the_run_session_as_failure(sdk: Any, replay_server: Any) -> None:
    replay_server.load(recorded_path("frameworks/langchain/chat_openai_error_401.json"))
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | chat_openai(replay_server, "gpt-3.5-turbo")
    with pytest.raises(openai.AuthenticationError):
        chain.invoke({"q": "What is the capital of France?"})

    tree = Tree(sdk.spans())
    root, sequence = tree.one("session"), tree.one("RunnableSequence")
    (llm,) = tree.kind(sc.KIND_LLM)
    assert tree.parent(llm) is sequence and llm.status.status_code is StatusCode.ERROR
    assert sequence.status.status_code is StatusCode.ERROR
    assert sequence.attributes[sc.ERROR_TYPE].endswith("AuthenticationError")  # langchain-openai's subclass
    assert root.attributes[sc.SESSION_END_STATE] == "Failure"
    assert "Incorrect API key provided" in root.attributes[sc.SESSION_END_STATE_REASON]


def test_tool_error_is_a_failed_tool_span(sdk: Any) -> None:
    sdk.init(instrument_llm_calls=True, auto_start_session=False)

    @tool
    def divide(a: int, b: int) -> float:
        """Divide a by b."""
        return a / b

    with pytest.raises(ZeroDivisionError):
        divide.invoke({"a": 1, "b": 0})
    tree = Tree(sdk.spans())
    span = tree.one("execute_tool divide")
    assert span.status.status_code is StatusCode.ERROR and span.attributes[sc.ERROR_TYPE] == "ZeroDivisionError"
    assert tree.parent(span) is tree.one("session")
    assert tree.one("session").attributes[sc.SESSION_END_STATE] == "Failure"


def test_history_messages_reach_the_model_unchanged(sdk: Any, replay_server: Any) -> None:
    """Instrumentation changes nothing the model sends or returns (a recorded tool-history call)."""
    path = recorded_path("frameworks/langchain/tool_calls_with_history.json")
    replay_server.load(path)
    sdk.init(instrument_llm_calls=True, auto_start_session=False)
    model = chat_openai(replay_server, "gpt-4.1-nano", temperature=0).bind_tools([get_weather])
    messages = [
        SystemMessage("Be crisp and friendly."),
        HumanMessage("Hey, what's the weather in San Francisco?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "San Francisco"}, "id": "tool_123"}]),
        ToolMessage("Sunny as always!", tool_call_id="tool_123"),
        HumanMessage("What's the weather in London?"),
    ]
    reply = model.invoke(messages)
    assert reply.tool_calls[0]["args"] == {"location": "London"}
    sent = replay_server.requests_to("chat/completions")[0].json()
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "user"]
    (llm,) = Tree(sdk.spans()).kind(sc.KIND_LLM)
    assert [tokens(llm)] == chat_usages(path)


def test_cancelled_run_is_not_an_error(sdk: Any) -> None:
    """A task cancelled by its caller (a timeout, a client gone) ends its spans without an error."""
    import asyncio

    sdk.init(instrument_llm_calls=True, auto_start_session=False)

    started = asyncio.Event()

    async def slow(x: int) -> int:
        started.set()
        await asyncio.Event().wait()  # until cancelled
        return x

    chain = RunnableLambda(lambda x: x + 1) | RunnableLambda(slow)

    async def main() -> None:
        task = asyncio.create_task(chain.ainvoke(1))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    tree = Tree(sdk.spans())
    sequence = tree.one("RunnableSequence")
    assert sequence.status.status_code is not StatusCode.ERROR, sequence.status
    assert tree.one("session").attributes[sc.SESSION_END_STATE] == "Success"
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing of the run stays current


def test_agentops_03_handler_after_stop_instrumenting(sdk: Any, replay_server: Any) -> None:
    """CrewAI's AgentOps integration: ``stop_instrumenting()``, then a ``LangchainCallbackHandler``
    on its LLM. The handler's model calls are one LLM span each, from the callback, in the session."""
    path = fixture_path("langchain/tool_agent.json")
    replay_server.load(path)
    session = sdk.init(instrument_llm_calls=True)
    ao.stop_instrumenting()
    model = chat_openai(replay_server, temperature=0, callbacks=[ao.LangchainCallbackHandler()])
    assert model.invoke("What's the weather in London?").tool_calls
    session.end_session("Success")

    tree = Tree(sdk.spans())
    (llm,) = tree.kind(sc.KIND_LLM)
    assert tree.parent(llm) is tree.one("session") and [tokens(llm)] == chat_usages(path)[:1]
    assert session.get_analytics()["LLM calls"] == 1


def test_agentops_03_handler_while_instrumented_counts_once(sdk: Any, replay_server: Any) -> None:
    replay_server.load(fixture_path("langchain/tool_agent.json"))
    session = sdk.init(instrument_llm_calls=True)
    chain = RunnableLambda(lambda q: [HumanMessage(q)]) | chat_openai(replay_server, temperature=0)
    chain.invoke("What's the weather?", config={"callbacks": [ao.AsyncLangchainCallbackHandler()]})
    session.end_session("Success")

    tree = Tree(sdk.spans())
    assert len(tree.kind(sc.KIND_LLM)) == 1 and len(tree.named("RunnableSequence")) == 1, tree.render()


def test_runs_langchain_never_ends_are_ended_past_the_open_limit(sdk: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A run whose end LangChain never reports is not kept forever: past MAX_OPEN_RUNS open runs the
    oldest span ends (said once), the others stay open, and the session goes on."""
    from langchain_core.callbacks import CallbackManager

    from agentops_otel.instrumentation._framework import MAX_OPEN_RUNS

    session = sdk.init(instrument_llm_calls=True)
    manager = CallbackManager.configure()  # with our handler, through LangChain's configure hook
    token = otel_context.attach(otel_context.get_current())  # each start makes its run's span current
    try:
        runs = [manager.on_chain_start({"name": f"never-ends-{i}"}, {"q": i}) for i in range(MAX_OPEN_RUNS + 1)]
    finally:
        otel_context.detach(token)
    ended = [s.name for s in sdk.spans() if s.name.startswith("never-ends")]
    assert ended == ["never-ends-0"]
    assert sum("never ended" in r.getMessage() for r in caplog.records) == 1
    for run in runs[1:]:  # cleanup: the handler outlives this test
        run.on_chain_end({})
    assert len([s for s in sdk.spans() if s.name.startswith("never-ends")]) == MAX_OPEN_RUNS + 1
    session.end_session("Success")
    root = next(s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_SESSION)
    assert root.attributes[sc.SESSION_END_STATE] == "Success"
