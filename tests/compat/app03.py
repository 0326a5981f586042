"""AgentOps 0.3 code, as its users wrote it, run against ``agentops_otel`` in a process of its own.

    python tests/compat/app03.py SCENARIO

The collector comes from the environment (AGENTOPS_API_ENDPOINT, AGENTOPS_API_KEY: 0.3's names).
Each scenario prints one JSON line last: what the test then looks for in the collector's store.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path

import openai

import agentops_otel as agentops
from agentops_otel import ActionEvent, ErrorEvent, LLMEvent, ToolEvent
from tests.support.replay import FIXTURES_DIR, ReplayServer

CHAT = FIXTURES_DIR / "openai" / "chat_cached_reasoning.json"


def chat_request() -> dict:
    return json.loads(json.loads(CHAT.read_text())["interactions"][0]["request"]["body"])


def openai_client(server: ReplayServer, calls: int) -> openai.OpenAI:
    for _ in range(calls):
        server.load(CHAT)
    return openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0)


def multi_session(server: ReplayServer) -> dict:
    agentops.init(auto_start_session=False)
    s1 = agentops.start_session(tags=["first"])
    s2 = agentops.start_session(tags=["second"])
    client = openai_client(server, 3)

    client.chat.completions.create(**chat_request(), session=s1)
    create = s2.patch(client.chat.completions.create)
    create(**chat_request())
    create(**chat_request())

    @agentops.record_action("plan")
    def plan(goal):
        return f"plan for {goal}"

    @agentops.record_tool("search")
    def search(query):
        return [query]

    plan("trip", session=s1)
    search("flights", session=s2)
    s1.record(ActionEvent("received_user_input"))
    s1.end_session("Success")
    s2.end_session("Fail", "gave up")
    return {"s1": str(s1.session_id), "s2": str(s2.session_id)}


def positional_events(server: ReplayServer) -> dict:
    session = agentops.init(default_tags=["events"])
    agentops.record(ActionEvent("received_user_input", {"text": "hi"}, "ok"))
    agentops.record(ToolEvent("web_search", {"q": "weather"}, ["sunny"]))
    trigger = ActionEvent("parse_reply")
    agentops.record(ErrorEvent(trigger, ValueError("bad reply")))  # 0.3.0 to 0.3.23's order
    retry = ToolEvent("fetch_page")
    # 0.3.26's order: the Event's fields (event_type, params, returns, timestamps, ids), then the error's
    agentops.record(ErrorEvent("errors", {"page": 2}, None, None, None, None, None, None, retry, TimeoutError("slow")))
    llm = LLMEvent(prompt="hi", completion="hello", model="gpt-4o-mini", prompt_tokens=3, completion_tokens=2)
    agentops.record(llm)
    agentops.end_session("Success")
    return {"session": session.session_id}


def agents(server: ReplayServer) -> dict:
    session = agentops.init()

    @agentops.track_agent()
    class Plain:
        def act(self):
            return "plain"

    @agentops.track_agent(name="Writer")
    class WithInit:
        def __init__(self, topic):
            self.topic = topic

        def act(self):
            return self.topic

    researcher = Plain(agentops_name="ResearchAgent")
    editor = WithInit("news", agentops_name="EditorAgent")
    writer = WithInit("poems")
    for agent in (researcher, editor, writer):
        agent.act()
    agent_id = agentops.create_agent("Critic")
    session_agent_id = session.create_agent("Reviewer", "reviewer-1")
    agentops.end_session("Success")
    return {
        "session": session.session_id,
        "names": [researcher.agentops_agent_name, editor.agentops_agent_name, writer.agentops_agent_name],
        "ids": [researcher.agentops_agent_id, editor.agentops_agent_id],
        "created": [agent_id, session_agent_id],
    }


def module_functions(server: ReplayServer) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        key_before = agentops.get_api_key()
        agentops.set_api_key(key_before)  # as 0.3 code does after reading it from a vault
        agentops.configure(max_wait_time=4000, default_tags=["configured"])
        session = agentops.init(override=True)  # 0.2's name of instrument_llm_calls

        @agentops.record_function("legacy_step")
        def legacy_step():
            return 1

    legacy_step()
    client = openai_client(server, 2)
    client.chat.completions.create(**chat_request())
    agentops.stop_instrumenting()  # CrewAI's and AG2's integrations call it
    client.chat.completions.create(**chat_request())  # not recorded any more
    agentops.add_tags(["added"])
    agentops.set_tags(["replaced", "tags"])
    agentops.add_tags("one-more")
    found = agentops.get_session(session.session_id)
    analytics = agentops.get_analytics()
    other = agentops.start_session(tags=["other"])
    agentops.end_all_sessions()
    return {
        "session": session.session_id,
        "other": other.session_id,
        "key": key_before,
        "found": found is session,
        "url": session.session_url,
        "analytics": {k: str(v) for k, v in analytics.items()},
        "running": [session.is_running, other.is_running],
        "client_is_process_client": agentops.Client() is agentops.Client(),
        "deprecations": sorted(str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)),
        "level": logging.getLogger("agentops_otel").level,
        "host_env": session.host_env,
    }


def bad_end_states(server: ReplayServer) -> dict:
    session = agentops.init()
    results = [agentops.end_session("Succes"), session.end_session(42), agentops.end_session("Done")]
    still_running = session.is_running
    second = agentops.start_session()
    third = agentops.start_session()
    cost = session.end_session("success")
    second.end_session("FAIL")
    third.end_session("indeterminate")
    return {
        "sessions": [session.session_id, second.session_id, third.session_id],
        "results": results,
        "still_running": still_running,
        "cost": str(cost),
    }


def plain(server: ReplayServer) -> dict:
    session = agentops.init()
    agentops.record(ActionEvent("step"))
    agentops.end_session("Success")
    return {"session": session.session_id}


def langchain_handler(server: ReplayServer, handler_class=None) -> dict:
    """0.3's LangChain handler initialises the SDK itself (from 0.3's variables) when init() has not run."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    handler = (handler_class or agentops.LangchainCallbackHandler)()
    [session_id] = agentops.Client().current_session_ids
    reply = FakeListChatModel(responses=["hello"], callbacks=[handler]).invoke("hi").content
    agentops.end_session("Success")
    return {"session": session_id, "reply": reply}


def langchain_handler_async(server: ReplayServer) -> dict:
    return langchain_handler(server, agentops.AsyncLangchainCallbackHandler)


SCENARIOS = {
    f.__name__: f
    for f in (
        *(multi_session, positional_events, agents, module_functions, bad_end_states, plain),
        *(langchain_handler, langchain_handler_async),
    )
}


def main() -> None:
    with ReplayServer() as server:
        result = SCENARIOS[sys.argv[1]](server)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main()
