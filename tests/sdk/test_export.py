"""Integration: real OTLP/HTTP export to a receiver process, real child processes, signals, dead collectors."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

import agentops_otel as ao
from agentops_otel import export as export_module
from agentops_otel import semconv as sc
from agentops_otel.client import EXIT_REASON
from agentops_otel.session import root_span_id
from tests.sdk.conftest import child_env, refused_endpoint, run_child
from tests.support.otlp_sink import trace_hex

ROOT = sc.KIND_SESSION


@pytest.fixture
def exporters(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SpanExporter]]:
    """The OTLP exporters the SDK makes, shut down after the test, before a blackhole it sends to closes.

    The SDK's wait is bounded: an exporter still retrying against a refused or closed endpoint would
    otherwise log "Transient error ... retrying" for seconds after the test (even after the whole run).
    """
    made: list[SpanExporter] = []
    real = export_module.make_exporter

    def make(config: ao.Configuration, *args: object) -> SpanExporter:
        made.append(real(config, *args))
        return made[-1]

    monkeypatch.setattr(export_module, "make_exporter", make)
    yield made
    for exporter in made:
        exporter.shutdown()


def session_id_from(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("SESSION "):
            return line.split()[1]
    raise AssertionError(f"no SESSION line in {stdout!r}")


def root_span(spans):
    roots = [s for s in spans if s["attributes"].get(sc.SPAN_KIND) == ROOT]
    assert len(roots) == 1, [s["name"] for s in spans]
    return roots[0]


def wait_for_root(sink, session_id, timeout=30):
    return sink.wait_for(
        lambda spans: any(s["parent_span_id"] == "" for s in spans), timeout=timeout, trace_id=trace_hex(session_id)
    )


def wait_exit(process, timeout):
    try:
        return process.wait(timeout=timeout)
    except Exception:
        process.kill()
        process.wait()
        raise


def read_until(process, marker: str, timeout: float = 30) -> list[str]:
    """Lines of the child's stdout up to and including ``marker`` (bounded by ``timeout``)."""
    import threading

    lines: list[str] = []
    found = threading.Event()

    def reader() -> None:
        for line in process.stdout:
            lines.append(line.strip())
            if line.strip() == marker:
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    assert found.wait(timeout), f"child never printed {marker}: {lines} {process.poll()}"
    return lines


# --- in-process, real OTLP/HTTP -----------------------------------------------------------------
def test_spans_reach_a_real_otlp_receiver_with_ids_parents_and_api_key(sdk, sink):
    session = ao.init(endpoint=sink.endpoint, api_key="key-123", tracer_provider=TracerProvider(), exit_handlers=False)
    sdk.client.config.instrument_llm_calls = False

    @ao.record_action("plan")
    def plan():
        ao.record(ao.LLMEvent(model="gpt-4o", provider="openai", prompt_tokens=10, completion_tokens=5))

    plan()
    cost = session.end_session("Failure", "gave up")
    spans = wait_for_root(sink, session.session_id)
    assert len(spans) == 3
    root = root_span(spans)
    assert root["trace_id"] == trace_hex(session.session_id)
    assert root["span_id"] == f"{root_span_id(session.session_id):016x}"
    assert root["attributes"][sc.SESSION_END_STATE] == "Failure"
    assert root["attributes"][sc.SESSION_END_STATE_REASON] == "gave up"
    assert root["status"]["code"] == 2  # ERROR
    by_name = {s["name"]: s for s in spans}
    assert by_name["plan"]["parent_span_id"] == root["span_id"]
    assert by_name["chat gpt-4o"]["parent_span_id"] == by_name["plan"]["span_id"]
    assert by_name["chat gpt-4o"]["kind"] == 3  # CLIENT
    assert by_name["chat gpt-4o"]["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert {s["api_key"] for s in spans} == {"key-123"}
    assert cost > 0


def test_end_session_with_a_refused_collector_is_bounded_and_spools_what_it_could_not_send(
    sdk, caplog, exporters, spool_dir
):
    endpoint = refused_endpoint()
    session = ao.init(endpoint=endpoint, max_wait_time=1000, tracer_provider=TracerProvider(), exit_handlers=False)
    for _ in range(200):
        ao.record(ao.ActionEvent())
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        assert session.end_session("Success") == Decimal(0)
    assert time.monotonic() - started < 1.0 + 3.0  # the 1 s bound plus room for a loaded machine
    assert f"cannot deliver spans to {endpoint}/v1/traces (connection refused)" in caplog.text
    assert f"keeping them in the spool ({spool_dir})" in caplog.text
    assert sum(int(p.name.split("-")[2]) for p in spool_dir.glob("*.otlp")) == 201  # every event and the root


def test_end_session_with_a_hung_collector_is_bounded(sdk, blackhole, exporters):
    session = ao.init(endpoint=blackhole, max_wait_time=1000, tracer_provider=TracerProvider(), exit_handlers=False)
    for _ in range(200):
        ao.record(ao.ActionEvent())
    started = time.monotonic()
    session.end_session("Success")
    # The 1 s bound plus room for a loaded machine; unbounded, it would last the exporter's 10 s timeout.
    assert time.monotonic() - started < 1.0 + 3.0


def test_a_burst_of_50k_events_loses_nothing(sdk, sink):
    session = ao.init(
        endpoint=sink.endpoint, tracer_provider=TracerProvider(), exit_handlers=False, max_wait_time=60_000
    )
    for _ in range(50_000):
        ao.record(ao.ActionEvent())
    session.end_session("Success")
    assert sink.wait_for_count(50_001, timeout=120) == 50_001
    assert session.get_analytics()["Actions"] == 50_000


def test_otel_sdk_disabled_is_a_cheap_no_op(sdk, sink, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    session = ao.init(endpoint=sink.endpoint)
    assert isinstance(session, ao.Session) and session.is_running
    assert sdk.client.config.sdk_disabled and not sdk.client.recording

    @ao.record_tool("t")
    def tool(x):
        return x * 2

    # Cheap means no span is made at all (timing it would depend on the machine's load; its cost,
    # ~10 µs a call, is measured by bench/bench_sdk.py).
    spans_started = []
    start_span = sdk_trace.Tracer.start_span
    monkeypatch.setattr(
        sdk_trace.Tracer, "start_span", lambda self, *a, **k: spans_started.append(a) or start_span(self, *a, **k)
    )
    for i in range(1_000):
        ao.record(ao.ActionEvent())
        assert tool(i) == i * 2
    ao.add_tags(["x"])
    assert ao.get_analytics()["Cost"] == "0.00"
    assert ao.end_session("Success") == Decimal(0)
    assert session.end_state == "Success"
    assert sink.count() == 0
    assert spans_started == []


# --- real child processes ---------------------------------------------------------------------
def test_exit_without_end_session_ends_indeterminate_and_flushes(sink):
    child = run_child("exit", sink.endpoint)
    assert child.returncode == 0, child.stderr
    session_id = session_id_from(child.stdout)
    spans = wait_for_root(sink, session_id)
    root = root_span(spans)
    assert root["attributes"][sc.SESSION_END_STATE] == "Indeterminate"
    assert root["attributes"][sc.SESSION_END_STATE_REASON] == EXIT_REASON
    assert {s["name"] for s in spans} == {"session", "before-exit"}
    resource = root["resource"]
    assert resource[sc.HOST_NAME] and resource[sc.PROCESS_RUNTIME_NAME] == "cpython"
    assert resource[sc.SERVICE_NAME] == "agentops-otel" and resource[sc.SDK_VERSION]
    assert {s["api_key"] for s in spans} == {"child-key"}


def test_uncaught_exception_ends_failure_and_the_previous_hook_still_runs(sink):
    child = run_child("raise", sink.endpoint)
    assert child.returncode == 1
    assert "RuntimeError: boom" in child.stderr and "Traceback" in child.stderr
    session_id = session_id_from(child.stdout)
    spans = wait_for_root(sink, session_id)
    root = root_span(spans)
    assert root["attributes"][sc.SESSION_END_STATE] == "Failure"
    assert root["attributes"][sc.SESSION_END_STATE_REASON] == "RuntimeError: boom"
    assert root["status"]["code"] == 2
    (error,) = [s for s in spans if s["attributes"].get(sc.SPAN_KIND) == sc.KIND_ERROR]
    assert error["parent_span_id"] == root["span_id"]
    assert error["events"][0]["name"] == "exception"
    assert "boom" in error["events"][0]["attributes"]["exception.message"]


def test_sigint_ends_the_session_then_raises_keyboard_interrupt(sink, children):
    process = children("wait", sink.endpoint)
    lines = read_until(process, "READY")
    process.send_signal(signal.SIGINT)
    code = wait_exit(process, 30)
    stderr = process.stderr.read()
    assert "KeyboardInterrupt" in stderr
    assert code in (-signal.SIGINT, 130, 1)
    session_id = session_id_from("\n".join(lines))
    root = root_span(wait_for_root(sink, session_id))
    assert root["attributes"][sc.SESSION_END_STATE] == "Indeterminate"
    assert root["attributes"][sc.SESSION_END_STATE_REASON] == "Process received SIGINT"


def test_sigterm_ends_the_session_flushes_and_dies_by_the_signal(sink, children):
    process = children("wait", sink.endpoint)
    lines = read_until(process, "READY")
    process.send_signal(signal.SIGTERM)
    assert wait_exit(process, 30) == -signal.SIGTERM
    session_id = session_id_from("\n".join(lines))
    spans = wait_for_root(sink, session_id)
    assert root_span(spans)["attributes"][sc.SESSION_END_STATE_REASON] == "Process received SIGTERM"
    assert "before-signal" in {s["name"] for s in spans}


def test_ctrl_c_with_a_hung_collector_exits_within_max_wait_time(blackhole, children):
    process = children("wait", blackhole, "2000")
    read_until(process, "READY")
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    wait_exit(process, 30)
    assert time.monotonic() - started < 2.0 + 3.0


def test_second_ctrl_c_never_hangs(blackhole, children):
    process = children("wait", blackhole, "60000")  # the exit flush would wait a minute
    read_until(process, "READY")
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)  # let the first interrupt reach the exit flush (timing only; correctness below)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    wait_exit(process, 30)
    assert time.monotonic() - started < 10


def test_inherited_session_across_two_processes_via_the_environment(sink):
    parent = run_child("parent", sink.endpoint, timeout=90)
    assert parent.returncode == 0, parent.stderr
    session_id = session_id_from(parent.stdout)
    spans = wait_for_root(sink, session_id)
    spans = sink.wait_for(lambda s: len(s) >= 5, trace_id=trace_hex(session_id))
    root = root_span(spans)
    assert root["attributes"][sc.SESSION_END_STATE] == "Success"
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) == {"session", "parent-before", "parent-after", "child-event", "execute_tool lookup"}
    assert all(s["trace_id"] == trace_hex(session_id) for s in spans)
    assert all(s["parent_span_id"] == root["span_id"] for s in spans if s is not root)
    assert by_name["child-event"]["resource"][sc.PROCESS_PID] != root["resource"][sc.PROCESS_PID]


def test_a_joining_process_can_end_the_session(sink):
    owner = run_child("owner-no-end", sink.endpoint)
    assert owner.returncode == 0, owner.stderr
    session_id = session_id_from(owner.stdout)
    sink.wait_for(lambda s: len(s) == 1, trace_id=trace_hex(session_id))  # no root: skip_auto_end_session
    joiner = run_child("join-end", sink.endpoint, session_id)
    assert joiner.returncode == 0, joiner.stderr
    assert session_id_from(joiner.stdout) == session_id
    spans = wait_for_root(sink, session_id)
    root = root_span(spans)
    assert root["span_id"] == f"{root_span_id(session_id):016x}"
    assert root["attributes"][sc.SESSION_END_STATE] == "Failure"
    assert root["attributes"][sc.SESSION_END_STATE_REASON] == "ended by the joining process"
    assert {s["name"] for s in spans} == {"session", "owner-event", "joined"}
    assert all(s["parent_span_id"] == root["span_id"] for s in spans if s is not root)


def test_an_existing_tracer_provider_is_kept(sink):
    child = run_child("existing-provider", sink.endpoint)
    assert child.returncode == 0, child.stderr
    assert "Overriding" not in child.stderr
    report = json.loads(next(line[7:] for line in child.stdout.splitlines() if line.startswith("REPORT ")))
    assert report["provider_kept"] and report["override_messages"] == []
    # the application's own exporter still gets everything, ours too
    assert report["app_exporter_names"] == ["app-only-span", "app-span-in-session", "inside-app-span", "session"]
    session_id = session_id_from(child.stdout)
    spans = wait_for_root(sink, session_id)
    assert {s["name"] for s in spans} == {"session", "app-span-in-session", "inside-app-span"}
    assert "app-only-span" not in {s["name"] for s in sink.spans()}


def test_configuration_from_the_environment_at_init(sink):
    child = run_child(
        "env-only",
        "unused",
        AGENTOPS_API_KEY="env-key",
        OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint,
        OTEL_SERVICE_NAME="my-agent",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=ml",
        AGENTOPS_DEFAULT_TAGS="alpha, beta",
    )
    assert child.returncode == 0, child.stderr
    root = root_span(wait_for_root(sink, session_id_from(child.stdout)))
    assert root["api_key"] == "env-key"
    assert root["resource"][sc.SERVICE_NAME] == "my-agent"
    assert root["resource"]["deployment.environment"] == "test" and root["resource"]["team"] == "ml"
    assert root["attributes"][sc.SESSION_TAGS] == ["alpha", "beta"]


@pytest.mark.parametrize("opt_out", ["true"])
def test_env_data_opt_out_from_the_environment(sink, opt_out):
    child = run_child(
        "env-only", "unused", OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, AGENTOPS_ENV_DATA_OPT_OUT=opt_out
    )
    assert child.returncode == 0, child.stderr
    root = root_span(wait_for_root(sink, session_id_from(child.stdout)))
    assert not any(key.startswith(("host.", "os.", "agentops.host")) for key in root["resource"])
    assert not any(key.startswith(("host.", "os.", "agentops.host")) for key in root["attributes"])


def test_otlp_grpc_on_request(sdk, sink):
    session = ao.init(
        endpoint=sink.grpc_endpoint,
        exporter_protocol="grpc",
        api_key="grpc-key",
        tracer_provider=TracerProvider(),
        exit_handlers=False,
    )
    ao.record(ao.ToolEvent(name="over-grpc"))
    session.end_session("Success")
    spans = wait_for_root(sink, session.session_id)
    assert {s["name"] for s in spans} == {"session", "execute_tool over-grpc"}
    assert {s["api_key"] for s in spans} == {"grpc-key"}


def test_an_endpoint_without_a_scheme_still_exports(sdk, sink):
    session = ao.init(
        endpoint=sink.endpoint.removeprefix("http://"), tracer_provider=TracerProvider(), exit_handlers=False
    )
    session.end_session("Success")
    (root,) = wait_for_root(sink, session.session_id)
    assert root["attributes"][sc.SESSION_END_STATE] == "Success"


def test_grpc_protocol_from_the_environment(sdk, sink, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.grpc_endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "X-Agentops-Api-Key=from-headers")
    session = ao.init(tracer_provider=TracerProvider(), exit_handlers=False)
    session.end_session("Success")
    (root,) = wait_for_root(sink, session.session_id)
    assert root["api_key"] == "from-headers"


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_multiprocessing_children_join_the_session(sink, start_method):
    parent = run_child(start_method, sink.endpoint, timeout=90)
    assert parent.returncode == 0, parent.stderr
    session_id = session_id_from(parent.stdout)
    spans = sink.wait_for(lambda s: len(s) >= 4, trace_id=trace_hex(session_id))
    root = root_span(spans)  # exactly one: the child never ends the parent's session
    names = {s["name"] for s in spans}
    assert "parent-event" in names and "execute_tool lookup" in names
    assert any(name.startswith("worker-") for name in names)
    assert all(s["parent_span_id"] == root["span_id"] for s in spans if s is not root)


def test_a_session_configuration_with_its_own_api_key_exports_with_it(sdk, sink):
    sdk_session = ao.init(
        endpoint=sink.endpoint, api_key="client-key", tracer_provider=TracerProvider(), exit_handlers=False
    )
    other = ao.start_session(config=ao.Configuration(endpoint=sink.endpoint, api_key="other-project"))
    other.record(ao.ActionEvent(action_type="for-other"))
    sdk_session.record(ao.ActionEvent(action_type="for-client"))
    other.end_session("Success")
    sdk_session.end_session("Success")
    first = wait_for_root(sink, sdk_session.session_id)
    second = wait_for_root(sink, other.session_id)
    assert {s["api_key"] for s in first} == {"client-key"} and {s["name"] for s in first} == {"session", "for-client"}
    assert {s["api_key"] for s in second} == {"other-project"} and {s["name"] for s in second} == {
        "session",
        "for-other",
    }


def spooled_spans(spool_dir) -> int:
    """Spans in the spool files of ``spool_dir`` (their count is in the name)."""
    return sum(int(p.name.split("-")[2]) for p in spool_dir.glob("*.otlp"))


def test_a_process_whose_collector_hangs_waits_max_wait_time_once_not_again_at_exit(blackhole, spool_dir):
    code = (
        "import agentops_otel as ao\n"
        f"ao.init(endpoint={blackhole!r}, max_wait_time=8000)\n"
        "ao.record(ao.ActionEvent())\n"
        "ao.end_session('Success')\n"
        "print('ended', flush=True)\n"
    )
    # Each send outlasts max_wait_time (the exporters' default, 10 s, does not when the batch went
    # out a few seconds before end_session on a loaded machine: the send then times out first, its
    # spans are spooled and end_session's flush never times out).
    env = child_env(OTEL_EXPORTER_OTLP_TIMEOUT="120000")
    child = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ended"
        ended = time.monotonic()
        _, stderr = child.communicate(timeout=60)
        exit_took = time.monotonic() - ended
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, stderr
    assert "did not finish within 8.0 s" in stderr and "exiting without waiting for the exporter" in stderr
    # A second wait at exit would take the full 8 s; an exit without one takes well under a second on
    # an idle box, and the 6 s bound leaves room for a heavily loaded one.
    assert exit_took < 6.0
    assert spooled_spans(spool_dir) == 2  # what the collector never answered for waits in the spool


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_no_api_key_or_header_value_reaches_any_log_line(sink, protocol):
    """A malformed OTEL_EXPORTER_OTLP_HEADERS entry, every logger at DEBUG, a repr: the key shows nowhere."""
    secret = "sk-SECRET-0123456789"
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "import agentops_otel as ao\n"
        "session = ao.init(instrument_llm_calls=False)\n"
        "print(repr(ao.Configuration.from_env()), flush=True)\n"
        "ao.record(ao.ActionEvent(action_type='with-a-key'))\n"
        "session.end_session('Success')\n"
        "print('SESSION', session.session_id, flush=True)\n"
    )
    endpoint = sink.grpc_endpoint if protocol == "grpc" else sink.endpoint
    env = child_env(
        AGENTOPS_API_KEY=secret,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_HEADERS=f"X-Agentops-Api-Key:{secret},authorization=Bearer%20{secret},bad",
    )
    child = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert secret not in child.stdout + child.stderr
    assert "malformed entry 1 in OTEL_EXPORTER_OTLP_HEADERS" in child.stderr
    spans = wait_for_root(sink, session_id_from(child.stdout))
    assert {s["api_key"] for s in spans} == {secret}  # hidden from logs, still sent


def test_a_process_whose_collector_is_down_spools_at_end_session_and_exits_without_waiting(spool_dir):
    endpoint = refused_endpoint()
    code = (
        "import agentops_otel as ao\n"
        f"ao.init(endpoint={endpoint!r}, max_wait_time=60000)\n"
        "ao.record(ao.ActionEvent())\n"
        "ao.end_session('Success')\n"
        "print('ended', flush=True)\n"
    )
    child = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=50)
    assert child.returncode == 0, child.stderr
    # well under max_wait_time (60 s): nothing to wait for once the spans are safe in the spool
    assert f"cannot deliver spans to {endpoint}/v1/traces (connection refused)" in child.stderr
    assert "2 spans wait in the spool" in child.stderr and "agentops-otel spool flush" in child.stderr
    assert spooled_spans(spool_dir) == 2


def test_a_hung_collector_drops_nothing_everything_waits_in_the_spool(sdk, blackhole, exporters, caplog, spool_dir):
    # end_session waits 5 s: time enough, on a loaded machine too, for the worker to serialize all
    # 2,000 spans while the first request hangs (with less, what it had not reached is not spooled yet).
    session = ao.init(endpoint=blackhole, tracer_provider=TracerProvider(), exit_handlers=False, max_wait_time=5000)
    with caplog.at_level(logging.WARNING):
        for _ in range(2_000):  # the first request hangs; the worker goes on serializing the rest
            ao.record(ao.ActionEvent())
        session.end_session("Success")
    assert not any("Queue full" in r.getMessage() for r in caplog.records)
    assert spooled_spans(spool_dir) == 2_001  # the request in flight too: at worst it is sent twice
    assert "cannot deliver spans to" in caplog.text and "(no answer in time)" in caplog.text
