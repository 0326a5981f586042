"""AgentOps 0.3 usage patterns against the real collector: what each one lands in the store."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from agentops_otel.collector.auth import masked_key
from tests.compat.conftest import CHILD_KEY, CHILD_PROJECT, KEY, PARENT_KEY, PROJECT, env_03, run_app


def stats(collector, session_id: str) -> dict:
    status, body = collector.get(f"/v2/sessions/{session_id}/stats", KEY)
    assert status == 200, body
    return body


def span_names(collector, session_id: str) -> list[str]:
    status, body = collector.get(f"/v2/sessions/{session_id}/spans", KEY)
    assert status == 200, body
    return sorted(span["name"] for span in body["spans"])


def spans_named(collector, session_id: str, name: str) -> list[dict]:
    _, body = collector.get(f"/v2/sessions/{session_id}/spans", KEY)
    return [span for span in body["spans"] if span["name"] == name]


def test_multi_session_with_session_argument_and_patch(collector):
    run = run_app("multi_session", **env_03(collector))
    first, second = stats(collector, run.result["s1"]), stats(collector, run.result["s2"])
    assert (first["llm_calls"], first["actions"], first["tool_calls"]) == (1, 2, 0)
    assert (second["llm_calls"], second["actions"], second["tool_calls"]) == (2, 0, 1)
    assert first["end_state"] == "Success" and first["tags"] == ["first"]
    assert second["end_state"] == "Failure" and second["end_state_reason"] == "gave up"
    assert "received_user_input" in span_names(collector, run.result["s1"])
    assert "none current" not in run.stderr  # every call named its session


def test_positional_events_keep_their_names(collector):
    run = run_app("positional_events", **env_03(collector))
    session = run.result["session"]
    counts = stats(collector, session)
    assert (counts["actions"], counts["tool_calls"], counts["errors"], counts["llm_calls"]) == (2, 2, 2, 1)
    [action] = spans_named(collector, session, "received_user_input")
    assert action["attributes"]["agentops.action.type"] == "received_user_input"
    assert action["attributes"]["agentops.event.params"] == '{"text": "hi"}'
    assert action["attributes"]["agentops.event.returns"] == "ok"
    [tool] = spans_named(collector, session, "execute_tool web_search")
    assert tool["attributes"]["gen_ai.tool.name"] == "web_search"
    [error] = spans_named(collector, session, "ValueError")
    assert error["attributes"]["error.type"] == "ValueError"
    assert spans_named(collector, session, "parse_reply")  # the error's trigger, recorded before it
    [timeout] = spans_named(collector, session, "TimeoutError")  # 0.3.26's positional order
    assert timeout["attributes"]["agentops.event.params"] == '{"page": 2}'
    [fetch] = spans_named(collector, session, "execute_tool fetch_page")
    assert timeout["attributes"]["agentops.error.trigger_event.id"] == fetch["attributes"]["agentops.event.id"]


def test_agents_named_both_ways(collector):
    run = run_app("agents", **env_03(collector))
    session = run.result["session"]
    assert run.result["names"] == ["ResearchAgent", "EditorAgent", "Writer"]
    names = span_names(collector, session)
    for expected in ("invoke_agent ResearchAgent", "invoke_agent EditorAgent", "invoke_agent Writer"):
        assert expected in names
    [research] = spans_named(collector, session, "invoke_agent ResearchAgent")
    assert research["attributes"]["gen_ai.agent.id"] == run.result["ids"][0]
    [critic] = spans_named(collector, session, "create_agent Critic")
    [reviewer] = spans_named(collector, session, "create_agent Reviewer")
    assert critic["attributes"]["gen_ai.agent.id"] == run.result["created"][0]
    assert reviewer["attributes"]["gen_ai.agent.id"] == "reviewer-1" == run.result["created"][1]


def test_every_module_function_and_the_03_variables(collector):
    run = run_app(
        "module_functions",
        **env_03(collector, AGENTOPS_LOGGING_LEVEL="DEBUG", AGENTOPS_ENV_DATA_OPT_OUT="true"),
    )
    result = run.result
    assert result["key"] == KEY and result["found"] and result["client_is_process_client"]
    assert result["running"] == [False, False]  # end_all_sessions
    assert result["deprecations"] == [
        "init(override=...) is deprecated; use instrument_llm_calls=...",
        "record_function is deprecated; use record_action (or record_tool for tools)",
    ]
    assert result["level"] == 10  # AGENTOPS_LOGGING_LEVEL=DEBUG
    assert result["host_env"] is None  # AGENTOPS_ENV_DATA_OPT_OUT=true
    main = stats(collector, result["session"])
    assert main["llm_calls"] == 1  # the call after stop_instrumenting() is not recorded
    assert main["actions"] == 1 and "legacy_step" in span_names(collector, result["session"])
    assert main["tags"] == ["replaced", "tags", "one-more"]
    assert main["end_state"] == "Indeterminate"
    assert result["analytics"]["LLM calls"] == "1"
    other = stats(collector, result["other"])
    assert other["tags"] == ["configured", "other"] and other["end_state"] == "Indeterminate"
    _, export = collector.get(f"/v2/sessions/{result['session']}/export", KEY)
    assert "host.name" not in (export["session"]["host_env"] or {})
    # session_url: the session's page on this collector's dashboard
    assert result["url"] == f"{collector.url}/#/sessions/{result['session']}"
    with urllib.request.urlopen(result["url"].split("#")[0], timeout=30) as page:
        assert page.status == 200 and b"<html" in page.read().lower()


def test_bad_end_states_warn_and_leave_the_session_open(collector):
    run = run_app("bad_end_states", **env_03(collector))
    assert run.result["results"] == [None, None, None] and run.result["still_running"]
    for bad in ("'Succes'", "42", "'Done'"):
        [line] = [line for line in run.stderr.splitlines() if bad in line]
        assert "'Success', 'Failure' (or 'Fail'), 'Indeterminate'" in line
    states = [stats(collector, s)["end_state"] for s in run.result["sessions"]]
    assert states == ["Success", "Failure", "Indeterminate"]


def test_missing_key_is_said_once_at_init(collector):
    run = run_app("plain", AGENTOPS_API_ENDPOINT=collector.url)
    missing = [line for line in run.stderr.splitlines() if "AGENTOPS_API_KEY" in line and "no API key" in line]
    assert len(missing) == 1
    assert len([line for line in run.stderr.splitlines() if "API key (none)" in line]) == 1
    status, _ = collector.get(f"/v2/sessions/{run.result['session']}/stats", KEY)
    assert status == 404  # the collector refused the spans


def test_refused_key_is_one_clear_warning_without_the_key(collector):
    wrong = "wrong-key-0000-5678"
    run = run_app("plain", AGENTOPS_API_ENDPOINT=collector.url, AGENTOPS_API_KEY=wrong)
    refused = [line for line in run.stderr.splitlines() if "refused the spans sent with API key" in line]
    assert len(refused) == 1, run.stderr
    assert "401" in refused[0] and masked_key(wrong) in refused[0] and "keys file" in refused[0]
    assert wrong not in run.stderr


class _Capture(http.server.BaseHTTPRequestHandler):
    headers_seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[tuple[str, list[dict[str, str]]]]:
    handler = type("Capture", (_Capture,), {"headers_seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.headers_seen
    finally:
        server.shutdown()
        server.server_close()


def test_parent_key_goes_with_every_export(capture):
    url, seen = capture
    run_app("plain", AGENTOPS_API_ENDPOINT=url, AGENTOPS_API_KEY=KEY, AGENTOPS_PARENT_KEY="org-parent-key")
    assert seen and all(h.get("x-agentops-parent-key") == "org-parent-key" for h in seen)
    assert all(h.get("x-agentops-api-key") == KEY for h in seen)


def test_a_parent_key_reads_the_sessions_of_its_child_keys(collector):
    """0.3's organisation key: an app sends parent_key; the keys file's parent= is what lets it read."""
    child = run_app("plain", **env_03(collector, AGENTOPS_API_KEY=CHILD_KEY, AGENTOPS_PARENT_KEY=PARENT_KEY))
    other = run_app("plain", **env_03(collector, AGENTOPS_PARENT_KEY=PARENT_KEY))  # not named by the keys file
    child_id, other_id = child.result["session"], other.result["session"]
    status, page = collector.get("/v2/sessions", PARENT_KEY)
    assert status == 200 and {(s["project_id"], s["session_id"]) for s in page["sessions"]} == {
        (CHILD_PROJECT, child_id)
    }
    status, export = collector.get(f"/v2/sessions/{child_id}/export", PARENT_KEY)
    assert status == 200 and export["session"]["project_id"] == CHILD_PROJECT and export["actions"]
    assert collector.get("/v2/overview", PARENT_KEY)[1]["totals"]["sessions"] == 1
    assert collector.get(f"/v2/sessions/{other_id}/stats", PARENT_KEY)[0] == 404, "the header alone grants nothing"
    assert collector.get(f"/v2/sessions/{child_id}/stats", KEY)[0] == 404, "a sibling project reads nothing of it"
    assert collector.get(f"/v2/sessions/{other_id}/stats", KEY)[1]["project_id"] == PROJECT
    assert collector.get("/v2/sessions", "compat-org-parent-key-02")[0] == 401
    for secret in (PARENT_KEY, CHILD_KEY, KEY):
        assert secret not in collector.log() and secret not in child.stderr + other.stderr


def test_logging_to_file_writes_agentops_log_in_the_working_directory(collector, tmp_path):
    """AgentOps 0.3's AGENTOPS_LOGGING_TO_FILE: the SDK's log in ./agentops.log, warnings still on stderr."""
    keyless = run_app("plain", cwd=tmp_path, AGENTOPS_API_ENDPOINT=collector.url, AGENTOPS_LOGGING_TO_FILE="true")
    log = (tmp_path / "agentops.log").read_text()
    assert "no API key" in log and "AGENTOPS_API_KEY" in log and " - WARNING - " in log
    assert "no API key" in keyless.stderr, "still said on stderr"
    run_app("plain", cwd=tmp_path, **env_03(collector, AGENTOPS_LOGGING_TO_FILE="true", AGENTOPS_LOGGING_LEVEL="DEBUG"))
    log = (tmp_path / "agentops.log").read_text()
    assert "no API key" not in log, "a new process starts a new file"
    assert " - DEBUG - " in log and KEY not in log
    run_app("plain", cwd=tmp_path, **env_03(collector))
    assert (tmp_path / "agentops.log").read_text() == log, "not asked: the file is left alone"
    (tmp_path / "blocked" / "agentops.log").mkdir(parents=True)  # a file that cannot be opened: one warning
    blocked = run_app("plain", cwd=tmp_path / "blocked", **env_03(collector, AGENTOPS_LOGGING_TO_FILE="true"))
    assert "cannot write agentops.log" in blocked.stderr and blocked.result["session"]


@pytest.mark.parametrize(("scenario", "mode"), [("langchain_handler", "sync"), ("langchain_handler_async", "async")])
def test_the_langchain_handler_initialises_and_tags_as_03s_did(collector, scenario, mode):
    run = run_app(scenario, **env_03(collector))
    counts = stats(collector, run.result["session"])
    assert run.result["reply"] == "hello" and counts["tags"] == ["langchain", mode]
    assert counts["llm_calls"] == 1 and counts["end_state"] == "Success"
