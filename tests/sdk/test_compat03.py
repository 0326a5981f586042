"""AgentOps 0.3 names and forms, in process: events, end states, agents, the Session's extras."""

from __future__ import annotations

import logging
import warnings

import pytest

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.auth_warning import key_refused
from agentops_otel.client import get_client
from agentops_otel.collector.auth import masked_key
from agentops_otel.events import EventType
from agentops_otel.spool import Target


@pytest.mark.parametrize(
    ("given", "state"),
    [
        ("Success", "Success"),
        ("success", "Success"),
        ("SUCCESS", "Success"),
        ("Fail", "Failure"),
        ("fail", "Failure"),
        ("Failure", "Failure"),
        (" indeterminate ", "Indeterminate"),
        (ao.EndState.FAIL, "Failure"),
    ],
)
def test_end_state_variants(given, state):
    assert ao.EndState.parse(given).value == state


@pytest.mark.parametrize("bad", ["Succes", "", None, 3, "Done"])
def test_a_bad_end_state_lists_the_valid_ones(bad):
    with pytest.raises(ValueError, match=r"'Success', 'Failure' \(or 'Fail'\), 'Indeterminate'"):
        ao.EndState.parse(bad)


def test_positional_events_follow_03s_field_order():
    action = ao.ActionEvent("received_user_input", {"q": 1}, "answer")
    assert (action.action_type, action.params, action.returns, action.event_type) == (
        "received_user_input",
        {"q": 1},
        "answer",
        "actions",
    )
    assert ao.ActionEvent(EventType.ACTION).action_type is None
    assert ao.ActionEvent("x", action_type="kept").action_type == "kept"
    assert ao.ToolEvent("search").name == "search"
    assert ao.ActionEvent("received_user_input").span_name() == "received_user_input"


def test_track_agent_takes_agentops_name_whatever_the_class_defines():
    @ao.track_agent()
    class WithNew:
        def __new__(cls, value):
            instance = super().__new__(cls)
            instance.value = value
            return instance

    @ao.track_agent()
    class Crew:
        def __init__(self, role):
            self.role = role

    assert WithNew(1, agentops_name="Planner").agentops_agent_name == "Planner"
    assert Crew("researcher").agentops_agent_name == "researcher"  # CrewAI agents: their role
    assert Crew("x", agentops_name="Named").agentops_agent_name == "Named"
    assert WithNew(2).agentops_agent_name == "WithNew"


def test_session_extras(sdk):
    session = sdk.init()
    assert session.session_url == f"http://localhost:4318/#/sessions/{session.session_id}"
    agent_id = session.create_agent("Helper")
    session.record(ao.ActionEvent("step"), flush_now=True)
    assert [s.name for s in sdk.exporter.get_finished_spans()][-1] == "step"  # exported already
    session.set_video("https://example.test/v.mp4")
    assert session.event_counts == {"llms": 0, "tools": 0, "actions": 1, "errors": 0, "apis": 0}
    assert session.jwt is None and session.token_cost == 0
    session.end_session("Success")
    [created] = sdk.by_name("create_agent Helper")
    assert created.attributes[sc.GEN_AI_AGENT_ID] == agent_id
    assert created.attributes[sc.GEN_AI_OPERATION_NAME] == "create_agent"
    root = sdk.by_name("session")[0]
    assert root.attributes[sc.SESSION_VIDEO] == "https://example.test/v.mp4"
    assert session.create_agent("Late") is None  # ended


def test_client_is_the_process_client_and_module_lookups(sdk):
    session = sdk.init()
    assert ao.Client() is get_client() is sdk.client
    client = ao.Client()
    assert client.is_initialized and client.has_sessions and not client.is_multi_session
    assert client.current_session_ids == [session.session_id]
    assert ao.get_session(session.session_id) is session
    assert ao.get_session("not-a-uuid") is None
    client.add_default_tags(["later"])
    assert ao.start_session().tags == ["later"]
    ao.end_all_sessions()
    assert not client.has_sessions


def test_record_function_is_deprecated_and_still_records(sdk):
    sdk.init()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @ao.record_function("legacy")
        def legacy():
            return 1

    assert legacy() == 1
    assert any("record_action" in str(w.message) and w.category is DeprecationWarning for w in caught)
    assert sdk.by_name("legacy")


def test_a_refused_key_is_said_once_per_key_and_target_masked(caplog):
    secret = "a-very-long-secret-key-for-this-test"
    target = Target("http://127.0.0.1:9/v1/traces", "http/protobuf", (("X-Agentops-Api-Key", secret),))
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        assert [key_refused(target, "HTTP 401") for _ in range(3)] == [True, True, True]
        assert key_refused(target, "HTTP 500") is False  # not about the key: the spool's own notice
    [message] = [r.getMessage() for r in caplog.records]
    assert "401 Unauthorized" in message and masked_key(secret) in message and "keys file" in message
    assert secret not in caplog.text


def test_parent_key_is_hidden_in_the_configurations_repr():
    assert "org-secret" not in repr(ao.Configuration(api_key="k-secret", parent_key="org-secret"))


def test_the_clients_03_methods(sdk, caplog):
    client = ao.Client()
    client.configure(default_tags=["pre"])
    session = sdk.init()
    assert session.tags == ["pre"] and client.initialize() is session  # already initialised
    client.add_tags(["x"])
    client.set_tags(["y"])
    client.record(ao.ActionEvent("via_client"))
    assert client.create_agent("Scout", "scout-1") == "scout-1"
    assert client.end_session("Nope") is None and session.is_running
    assert client.end_session("Success", is_auto_end=False) is not None
    assert session.end_state == "Success" and session.tags == ["y"]
    assert sdk.by_name("via_client") and sdk.by_name("create_agent Scout")
    assert isinstance(client.host_env, dict)


def test_is_auto_end_is_skipped_with_skip_auto_end_session(sdk):
    session = sdk.init(skip_auto_end_session=True)
    assert ao.end_session("Success", is_auto_end=True) is None and session.is_running
    assert ao.end_session("Success") is not None and not session.is_running


def test_the_clients_configure_takes_03s_positional_order(sdk):
    client = ao.Client()
    client.configure(None, None, None, 1234, None, ["positional"])  # api_key, ..., max_wait_time, ..., default_tags
    session = sdk.init()
    assert session.tags == ["positional"] and sdk.client.config.max_wait_time == 1234
    with pytest.raises(TypeError, match="unexpected arguments"):
        client.configure(colour="red")


def test_patch_takes_its_argument_by_03s_name(sdk):
    session = sdk.init()
    bound = session.patch(func=lambda: ao.record(ao.ActionEvent("patched")))
    bound()
    session.end_session("Success")
    assert sdk.by_name("patched")
