"""Configuration: defaults, environment variables (read at init, not import), arguments, bad values."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import pytest
from opentelemetry import context as otel_context

import agentops_otel as ao
from agentops_otel.config import API_KEY_HEADER, Configuration, parse_key_values


def test_defaults():
    config = Configuration.from_env({})
    assert config.endpoint == "http://localhost:4318"
    assert config.traces_endpoint == "http://localhost:4318/v1/traces"
    assert config.max_wait_time == 5000 and config.max_queue_size == 100_000
    assert config.instrument_llm_calls and config.auto_start_session
    assert not (config.skip_auto_end_session or config.env_data_opt_out or config.sdk_disabled)
    assert not (config.capture_message_content or config.openai_stream_usage)
    assert config.exporter_protocol == "http/protobuf" and config.export_headers == {}


def test_environment_variables():
    config = Configuration.from_env(
        {
            "AGENTOPS_API_KEY": "k",
            "AGENTOPS_MAX_WAIT_TIME": "250",
            "AGENTOPS_MAX_QUEUE_SIZE": "10",
            "AGENTOPS_DEFAULT_TAGS": "a, b,,a",
            "AGENTOPS_INSTRUMENT_LLM_CALLS": "false",
            "AGENTOPS_AUTO_START_SESSION": "0",
            "AGENTOPS_SKIP_AUTO_END_SESSION": "yes",
            "AGENTOPS_ENV_DATA_OPT_OUT": "TRUE",
            "AGENTOPS_LOG_LEVEL": "debug",
            "AGENTOPS_EXIT_HANDLERS": "off",
            "AGENTOPS_PROPAGATE_SESSION": "false",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
            "AGENTOPS_OPENAI_STREAM_USAGE": "1",
            "OTEL_SDK_DISABLED": "true",
            "OTEL_SERVICE_NAME": "svc",
            "OTEL_RESOURCE_ATTRIBUTES": "a=1,b=two%20words",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-one=1,x-two=2",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
    )
    assert config.api_key == "k" and config.export_headers == {"x-one": "1", "x-two": "2", API_KEY_HEADER: "k"}
    assert config.max_wait_time == 250 and config.max_queue_size == 10
    assert config.default_tags == ["a", "b"]
    assert not config.instrument_llm_calls and not config.auto_start_session and config.skip_auto_end_session
    assert config.env_data_opt_out and config.log_level == "debug"
    assert not config.exit_handlers and not config.propagate_to_children
    assert config.capture_message_content and config.openai_stream_usage and config.sdk_disabled
    assert config.service_name == "svc" and config.resource_attributes == {"a": "1", "b": "two words"}
    assert config.exporter_protocol == "grpc"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9/custom"}, "http://c:9/custom"),
        (
            {"AGENTOPS_EXPORTER_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:2"},
            "http://a:1/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:2"},
            "http://t:1/v1/traces",
        ),
        ({"AGENTOPS_API_ENDPOINT": "http://old:3"}, "http://old:3/v1/traces"),  # AgentOps 0.3's name
        (
            {"AGENTOPS_API_ENDPOINT": "http://old:3", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:2"},
            "http://c:2/v1/traces",
        ),
        ({"AGENTOPS_API_ENDPOINT": "http://old:3", "AGENTOPS_EXPORTER_ENDPOINT": "http://a:1"}, "http://a:1/v1/traces"),
    ],
)
def test_endpoint_precedence(env, expected):
    assert Configuration.from_env(env).traces_endpoint == expected


def test_grpc_defaults_to_the_otlp_grpc_port():
    from_env = Configuration.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert from_env.endpoint == from_env.traces_endpoint == "http://localhost:4317"
    assert Configuration(exporter_protocol="grpc").traces_endpoint == "http://localhost:4317"
    assert Configuration.from_env({}, exporter_protocol="grpc").traces_endpoint == "http://localhost:4317"
    assert Configuration().replace(exporter_protocol="grpc").endpoint == "http://localhost:4317"
    assert Configuration(exporter_protocol="grpc").replace(exporter_protocol="http/protobuf").endpoint == (
        "http://localhost:4318"
    )
    given = Configuration.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:9"})
    assert given.traces_endpoint == "http://c:9" and given.replace(api_key="k").endpoint == "http://c:9"


def test_an_endpoint_without_a_scheme_is_taken_as_http_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        from_argument = Configuration(endpoint="localhost:4318")
    assert from_argument.traces_endpoint == "http://localhost:4318/v1/traces"
    assert "endpoint='localhost:4318' has no scheme" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        from_env = Configuration.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"})
    assert (
        from_env.traces_endpoint == "http://collector:4318/v1/traces" and "OTEL_EXPORTER_OTLP_ENDPOINT" in caplog.text
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # host:port is a usual gRPC form: no warning
        assert Configuration(endpoint="collector:4317", exporter_protocol="grpc").endpoint == "http://collector:4317"
    assert not caplog.text


def test_an_endpoint_with_another_scheme_is_an_error_as_an_argument_and_ignored_in_the_environment(caplog):
    with pytest.raises(ValueError, match="endpoint must be an http:// or https:// URL"):
        Configuration(endpoint="ftp://collector:4318")
    with caplog.at_level(logging.WARNING):
        config = Configuration.from_env(
            {"AGENTOPS_EXPORTER_ENDPOINT": "udp://c:1", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:2"}
        )
    assert config.traces_endpoint == "https://c:2/v1/traces" and "AGENTOPS_EXPORTER_ENDPOINT" in caplog.text


def test_arguments_win_over_the_environment():
    config = Configuration.from_env(
        {"AGENTOPS_API_KEY": "env", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:1/x"},
        api_key="arg",
        endpoint="http://arg:2",
        max_wait_time=None,
    )
    assert config.api_key == "arg" and config.traces_endpoint == "http://arg:2/v1/traces"
    assert config.max_wait_time == 5000


def test_bad_environment_values_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        config = Configuration.from_env(
            {"AGENTOPS_MAX_WAIT_TIME": "soon", "OTEL_SDK_DISABLED": "maybe", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )
    assert config.max_wait_time == 5000 and not config.sdk_disabled and config.exporter_protocol == "http/protobuf"
    assert "AGENTOPS_MAX_WAIT_TIME='soon'" in caplog.text and "using the default 5000" in caplog.text
    assert "OTEL_SDK_DISABLED='maybe' (expected true or false); using the default false" in caplog.text
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'" in caplog.text and "using the default http/protobuf" in caplog.text


@pytest.mark.parametrize(
    ("name", "raw", "default"),
    [
        ("AGENTOPS_MAX_WAIT_TIME", "-1", 5000),
        ("AGENTOPS_MAX_QUEUE_SIZE", "0", 100_000),
        ("AGENTOPS_MAX_EXPORT_BATCH_SIZE", "0", 2048),
        ("AGENTOPS_EXPORT_INTERVAL", "0", 500),
    ],
)
def test_out_of_range_environment_numbers_fall_back_to_the_default(caplog, name, raw, default):
    with caplog.at_level(logging.WARNING):
        config = Configuration.from_env({name: raw})
    field = name.removeprefix("AGENTOPS_").lower()
    assert getattr(config, field) == default
    assert name in caplog.text and f"default {default}" in caplog.text


def test_bad_log_level_in_the_environment_is_ignored_and_init_works(sdk, monkeypatch, caplog):
    monkeypatch.setenv("AGENTOPS_LOG_LEVEL", "VERBOSE")
    monkeypatch.setenv("AGENTOPS_MAX_WAIT_TIME", "-1")
    monkeypatch.setenv("AGENTOPS_MAX_QUEUE_SIZE", "0")
    logger = logging.getLogger("agentops_otel")
    before = logger.level
    with caplog.at_level(logging.WARNING):
        session = sdk.init()
    assert logger.level == before and "AGENTOPS_LOG_LEVEL" in caplog.text and "unchanged" in caplog.text
    assert sdk.client.config.max_wait_time == 5000 and sdk.client.config.max_queue_size == 100_000
    ao.record(ao.ActionEvent(action_type="recorded"))
    session.end_session("Success")
    assert sdk.by_name("recorded")


def test_bad_arguments_raise_before_any_state_changes_and_a_later_init_works(sdk):
    for bad in ({"log_level": "VERBOSE"}, {"max_wait_time": -1}, {"max_queue_size": 0}, {"export_interval": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            sdk.init(**bad)
        assert not sdk.client.initialized and not sdk.client.recording
    session = sdk.init()
    ao.record(ao.ActionEvent(action_type="recorded"))
    session.end_session("Success")
    assert sdk.by_name("recorded")


def test_a_failing_init_is_undone_so_a_later_init_works(sdk, monkeypatch):
    # Fault injected (nothing real fails this late once the arguments are valid): the session start raises.
    from agentops_otel import client as client_module

    def broken_start(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(client_module.Client, "start_session", broken_start)
    hook_before = sys.excepthook
    with pytest.raises(RuntimeError, match="injected"):
        sdk.init(exit_handlers=True)
    assert not sdk.client.initialized and not sdk.client.recording
    assert sys.excepthook is hook_before  # the exit handlers it installed are gone again
    monkeypatch.undo()
    session = sdk.init()
    ao.record(ao.ActionEvent(action_type="recorded"))
    session.end_session("Success")
    assert sdk.by_name("recorded")


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="max_queue_size"):
        Configuration(max_queue_size=0)
    with pytest.raises(ValueError, match="exporter_protocol"):
        Configuration(exporter_protocol="udp")
    with pytest.raises(TypeError, match="api_key"):
        Configuration(api_key=123)
    with pytest.raises(TypeError, match="default_tags"):
        Configuration(default_tags=[1])


def test_parse_key_values_skips_malformed_entries(caplog):
    with caplog.at_level(logging.WARNING):
        assert parse_key_values("a=1,broken,=x, b = 2 ", "X") == {"a": "1", "b": "2"}
    assert "broken" in caplog.text


SECRET = "sk-SECRET-0123456789"


def test_a_malformed_header_entry_is_ignored_by_its_position_never_shown(caplog):
    """``Name:value`` (a colon, as in HTTP) is the usual slip, and the value is an API key."""
    env = {"OTEL_EXPORTER_OTLP_HEADERS": f"X-Agentops-Api-Key:{SECRET},x-team=ops,={SECRET}"}
    with caplog.at_level(logging.DEBUG):
        config = Configuration.from_env(env)
    assert config.exporter_headers == {"x-team": "ops"}
    assert "malformed entry 1 in OTEL_EXPORTER_OTLP_HEADERS" in caplog.text
    assert "malformed entry 3 in OTEL_EXPORTER_OTLP_HEADERS" in caplog.text
    assert SECRET not in caplog.text


def test_the_repr_of_a_configuration_hides_the_api_key_and_header_values():
    config = Configuration(api_key=SECRET, exporter_headers={"Authorization": f"Bearer {SECRET}", "x-team": "ops"})
    for shown in (repr(config), str(config), f"{config}", repr([config]), repr(config.replace(max_wait_time=1))):
        assert SECRET not in shown and "ops" not in shown
        assert "api_key='***'" in shown and "'Authorization': '***'" in shown and "max_wait_time=" in shown
    assert "api_key=None" in repr(Configuration())
    assert config.api_key == SECRET and config.export_headers[API_KEY_HEADER] == SECRET  # only the repr hides them


def test_configure_updates_in_place_and_validates():
    config = Configuration()
    config.configure(api_key="k", max_wait_time=10, default_tags=None)
    assert config.api_key == "k" and config.max_wait_time == 10
    with pytest.raises(ValueError):
        config.configure(max_wait_time=-1)
    assert config.max_wait_time == 10


def test_environment_is_read_when_init_runs_not_at_import(sdk, monkeypatch):
    monkeypatch.setenv("AGENTOPS_API_KEY", "set-after-import")
    monkeypatch.setenv("AGENTOPS_DEFAULT_TAGS", "late")
    session = sdk.init()
    assert sdk.client.config.api_key == "set-after-import"
    assert session.tags == ["late"]
    session.end_session("Success")


def test_bad_inherited_session_id_in_the_environment_is_ignored(sdk, monkeypatch, caplog):
    monkeypatch.setenv("AGENTOPS_INHERITED_SESSION_ID", "garbage")
    with caplog.at_level(logging.WARNING):
        session = sdk.init()
    assert not session.is_inherited and "ignoring the inherited session id" in caplog.text
    session.end_session("Success")


def test_log_level(sdk, monkeypatch):
    monkeypatch.setenv("AGENTOPS_LOG_LEVEL", "ERROR")
    logger = logging.getLogger("agentops_otel")
    before = logger.level
    try:
        sdk.init(auto_start_session=False)
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(before)


def test_session_id_is_exported_to_child_processes_and_restored(sdk, monkeypatch):
    monkeypatch.setenv("AGENTOPS_INHERITED_SESSION_ID", "")
    session = sdk.init()
    assert os.environ["AGENTOPS_INHERITED_SESSION_ID"] == session.session_id
    second = ao.start_session()
    assert os.environ["AGENTOPS_INHERITED_SESSION_ID"] == second.session_id
    second.end_session("Success")
    assert os.environ["AGENTOPS_INHERITED_SESSION_ID"] == session.session_id
    session.end_session("Success")
    assert os.environ["AGENTOPS_INHERITED_SESSION_ID"] == ""


def _child_sees(**popen: object) -> str:
    """What a real child process finds in AGENTOPS_INHERITED_SESSION_ID."""
    code = "import os; print(os.environ.get('AGENTOPS_INHERITED_SESSION_ID'))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, **popen
    ).stdout.strip()


def test_a_child_process_joins_the_session_current_where_it_is_started(sdk):
    sdk.init(auto_start_session=False)
    first = sdk.client.start_session(attach=False)
    second = sdk.client.start_session(attach=False)  # the newest: the process-wide value
    assert os.environ["AGENTOPS_INHERITED_SESSION_ID"] == second.session_id
    token = otel_context.attach(first.root_context)
    try:
        assert _child_sees() == first.session_id
        assert _child_sees(env={**os.environ, "EXTRA": "1"}) == first.session_id  # a copy of os.environ
        assert _child_sees(env={"PATH": os.environ.get("PATH", "")}) == "None"  # built without it: kept so
    finally:
        otel_context.detach(token)
    assert _child_sees() == second.session_id  # no session current here: the newest, as before
    first.end_session("Success")
    second.end_session("Success")


def test_without_the_private_popen_signature_children_get_the_newest_session(sdk, monkeypatch):
    from agentops_otel import context_threads

    monkeypatch.setattr(context_threads, "_ENV_INDEX", None)  # a Python whose _execute_child has no env
    sdk.init(auto_start_session=False)
    first = sdk.client.start_session(attach=False)
    second = sdk.client.start_session(attach=False)
    token = otel_context.attach(first.root_context)
    try:
        assert _child_sees() == second.session_id  # the process-wide value, as before the patch existed
    finally:
        otel_context.detach(token)
    first.end_session("Success")
    second.end_session("Success")


def test_start_session_after_init_without_auto_start_joins_the_inherited_session_once(sdk, monkeypatch):
    parent_session = str(uuid.uuid4())
    monkeypatch.setenv("AGENTOPS_INHERITED_SESSION_ID", parent_session)
    assert sdk.init(auto_start_session=False) is None
    joined = ao.start_session()
    assert joined.session_id == parent_session and joined.is_inherited
    joined.end_session("Success")
    own = ao.start_session()
    assert own.session_id != parent_session and not own.is_inherited
    own.end_session("Success")


def test_traces_specific_exporter_variables_win_over_the_generic_ones():
    config = Configuration.from_env(
        {
            "OTEL_EXPORTER_OTLP_HEADERS": "x-generic=1",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-traces=2",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        }
    )
    assert config.export_headers == {"x-traces": "2"}
    assert config.exporter_protocol == "grpc"


def test_agentops_cloud_endpoint_is_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        config = Configuration.from_env({"AGENTOPS_API_ENDPOINT": "https://api.agentops.ai"})
    assert config.traces_endpoint == "http://localhost:4318/v1/traces"
    assert "AGENTOPS_API_ENDPOINT" in caplog.text and "does not receive OpenTelemetry" in caplog.text


def test_agentops_03_variables():
    config = Configuration.from_env(
        {"AGENTOPS_PARENT_KEY": "org", "AGENTOPS_LOGGING_LEVEL": "debug", "AGENTOPS_ENV_DATA_OPT_OUT": "True"}
    )
    assert config.parent_key == "org" and config.log_level == "debug" and config.env_data_opt_out
    assert config.export_headers["X-Agentops-Parent-Key"] == "org"
    newer = Configuration.from_env({"AGENTOPS_LOGGING_LEVEL": "DEBUG", "AGENTOPS_LOG_LEVEL": "ERROR"})
    assert newer.log_level == "ERROR"  # the newer name wins
    assert Configuration(parent_key="p").export_headers == {"X-Agentops-Parent-Key": "p"}


@pytest.mark.parametrize(
    ("config", "dashboard"),
    [
        (Configuration(), "http://localhost:4318"),
        (Configuration(endpoint="https://collector.example:8443/base/"), "https://collector.example:8443/base"),
        (Configuration(endpoint="http://c:9/v1/traces", endpoint_is_traces_url=True), "http://c:9"),
        (Configuration(exporter_protocol="grpc", endpoint="http://c:4317"), "http://c:4318"),
        (Configuration(dashboard_url="https://dash.example/"), "https://dash.example"),
    ],
)
def test_session_url_is_the_collector_dashboard_page(config, dashboard):
    assert config.session_url("abc") == f"{dashboard}/#/sessions/abc"


def test_configure_before_init_is_what_init_uses_and_is_locked_while_sessions_run(sdk, caplog):
    ao.configure(max_wait_time=1234, default_tags=["pre"])
    ao.set_parent_key("org-key")
    assert ao.get_api_key() is None
    ao.set_api_key("k-123")
    assert ao.get_api_key() == "k-123"
    session = sdk.init(default_tags=["explicit"])  # an init() argument wins over configure()
    config = sdk.client.config
    assert (config.max_wait_time, config.parent_key, config.api_key) == (1234, "org-key", "k-123")
    assert session.tags == ["explicit"]
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        ao.configure(max_wait_time=99)
    assert "locked" in caplog.text and config.max_wait_time == 1234
    session.end_session("Success")
    ao.configure(max_wait_time=99)
    assert config.max_wait_time == 99
    with pytest.raises(TypeError, match="unexpected"):
        ao.configure(no_such_setting=1)
