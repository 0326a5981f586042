"""Sessions as traces: ids, root span, end states, tags, analytics, cost, bad input (in-memory export)."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from decimal import Decimal

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.analytics import format_cost, format_duration
from agentops_otel.session import root_span_id
from agentops_otel.usage import span_price


def root_of(spans):
    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 1, [s.name for s in spans]
    return roots[0]


def test_session_is_one_trace_with_a_derived_root_span(sdk):
    session = sdk.init(default_tags=["t1"])
    ao.record(ao.ActionEvent(action_type="search"))
    ao.record(ao.ToolEvent(name="calc"))
    session.end_session("Success", "done")

    spans = sdk.spans()
    root = root_of(spans)
    assert root.context.trace_id == uuid.UUID(session.session_id).int
    assert root.context.span_id == root_span_id(session.session_id) != 0
    assert all(s.context.trace_id == root.context.trace_id for s in spans)
    children = [s for s in spans if s is not root]
    assert {s.name for s in children} == {"search", "execute_tool calc"}
    assert all(s.parent.span_id == root.context.span_id for s in children)
    assert all(s.attributes[sc.SESSION_ID] == session.session_id for s in children)
    attrs = root.attributes
    assert attrs[sc.SPAN_KIND] == sc.KIND_SESSION
    assert attrs[sc.SESSION_ID] == attrs[sc.SESSION_ID_GENERIC] == session.session_id
    assert attrs[sc.SESSION_TAGS] == ("t1",)
    assert attrs[sc.SESSION_END_STATE] == "Success"
    assert attrs[sc.SESSION_END_STATE_REASON] == "done"
    assert root.status.status_code is StatusCode.OK


def test_root_span_id_is_deterministic_and_differs_per_session():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert root_span_id(a) == root_span_id(uuid.UUID(a)) == root_span_id(a.upper())
    assert root_span_id(a) != root_span_id(b)
    assert 0 < root_span_id(a) < 2**64


@pytest.mark.parametrize(
    ("given", "stored", "status"),
    [
        ("Success", "Success", StatusCode.OK),
        ("Failure", "Failure", StatusCode.ERROR),
        ("Fail", "Failure", StatusCode.ERROR),
        (ao.EndState.FAIL, "Failure", StatusCode.ERROR),
        ("Indeterminate", "Indeterminate", StatusCode.UNSET),
    ],
)
def test_end_state_sets_attribute_and_status(sdk, given, stored, status):
    session = sdk.init()
    session.end_session(given, "why", video="https://example.test/v.mp4")
    root = root_of(sdk.spans())
    assert session.end_state == root.attributes[sc.SESSION_END_STATE] == stored
    assert root.status.status_code is status
    assert root.attributes[sc.SESSION_VIDEO] == session.video == "https://example.test/v.mp4"
    assert session.end_state_reason == "why" and not session.is_running and session.end_timestamp


def test_bad_end_state_is_a_warning_that_changes_nothing(sdk, caplog):
    session = sdk.init()
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        assert ao.end_session("Done") is None
        assert session.end_session("Succes") is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all(re.search(r"'Success', 'Failure'.*'Indeterminate'", w) for w in warnings)
    assert "'Done'" in warnings[0] and "'Succes'" in warnings[1]
    assert session.is_running
    with pytest.raises(TypeError, match="end_state_reason"):
        session.end_session("Success", end_state_reason=42)
    assert session.is_running
    assert session.end_session("Success") == Decimal(0)


def test_bad_input_gets_clear_errors(sdk):
    sdk.init(auto_start_session=False)
    with pytest.raises(ValueError, match="inherited_session_id must be a UUID"):
        ao.start_session(inherited_session_id="not-a-uuid")
    with pytest.raises(ValueError, match="nil UUID"):
        ao.start_session(inherited_session_id=str(uuid.UUID(int=0)))
    with pytest.raises(TypeError, match="config must be"):
        ao.start_session(config={"api_key": "x"})
    with pytest.raises(TypeError, match="tags must contain only str"):
        ao.start_session(tags=["ok", 3])
    session = ao.start_session()
    with pytest.raises(TypeError, match=r"record\(\) takes"):
        ao.record("an event")
    with pytest.raises(TypeError, match="tags must"):
        ao.add_tags(5)
    with pytest.raises(ValueError, match="token counts"):
        ao.record(ao.LLMEvent(model="gpt-4o", prompt_tokens=-1))
    session.end_session("Success")


def test_bad_init_arguments_raise_before_anything_starts(sdk):
    with pytest.raises(TypeError, match="unexpected arguments"):
        sdk.init(no_such_option=True)
    with pytest.raises(ValueError, match="max_wait_time"):
        sdk.init(max_wait_time=-5)
    with pytest.raises(ValueError, match="inherited_session_id"):
        sdk.init(inherited_session_id="nope")
    assert not sdk.client.initialized


def test_init_twice_is_harmless(sdk):
    first = sdk.init()
    assert ao.init() is first
    assert sdk.client.active_sessions() == [first]
    first.end_session("Success")
    assert len([s for s in sdk.spans() if s.parent is None]) == 1


def test_a_second_init_warns_which_arguments_it_ignores(sdk, caplog):
    first = sdk.init(api_key="first", default_tags=["a"])
    with caplog.at_level(logging.DEBUG, logger="agentops_otel"):
        assert sdk.init(api_key="first", default_tags="a") is first  # the same setup: nothing to say
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert sdk.init(api_key="second", inherited_session_id=str(uuid.uuid4()), max_wait_time=1) is first
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "ignoring api_key, max_wait_time, inherited_session_id" in warning.getMessage()
    assert sdk.client.config.api_key == "first"
    first.end_session("Success")


def test_init_tags_must_be_a_list_of_strings(sdk):
    with pytest.deprecated_call(), pytest.raises(TypeError, match="tags must be a list of str, got int"):
        ao.init(tags=5)
    with pytest.deprecated_call(), pytest.raises(TypeError, match="tags must contain only str"):
        ao.init(tags=["ok", 5])
    assert not sdk.client.initialized


def test_auto_start_session_false_returns_none(sdk):
    assert sdk.init(auto_start_session=False) is None
    assert sdk.client.active_sessions() == []


def test_tags_add_without_duplicates_and_set_replaces(sdk):
    session = sdk.init(default_tags=["a"])
    ao.add_tags(["b", "a", "c"])
    ao.add_tags("b")
    assert session.tags == ["a", "b", "c"]
    ao.set_tags(["x", "x", "y"])
    assert session.tags == ["x", "y"]
    session.end_session("Success")
    assert root_of(sdk.spans()).attributes[sc.SESSION_TAGS] == ("x", "y")


def test_deprecated_tags_alias(sdk):
    with pytest.warns(DeprecationWarning, match="default_tags"):
        session = sdk.init(tags=["old"], default_tags=["new"])
    assert session.tags == ["new", "old"]
    session.end_session("Success")


def test_session_attributes(sdk):
    session = sdk.init()
    assert uuid.UUID(session.session_id)
    assert session.init_timestamp.endswith("+00:00") and session.end_timestamp is None
    assert session.end_state == "Indeterminate" and session.end_state_reason is None and session.video is None
    assert session.is_running and session.host_env["OS"]["Hostname"]
    session.end_session("Success")


def test_env_data_opt_out_sends_no_host_data(sdk):
    session = sdk.init(env_data_opt_out=True)
    assert session.host_env is None
    session.end_session("Success")
    root = root_of(sdk.spans())
    assert sc.HOST_NAME not in root.attributes and sc.HOST_NAME not in root.resource.attributes


def test_host_data_on_root_when_the_application_owns_the_resource(sdk):
    session = sdk.init()
    session.end_session("Success")
    attrs = root_of(sdk.spans()).attributes
    assert attrs[sc.HOST_CPU_COUNT] >= 1 and attrs[sc.HOST_NAME] and attrs[sc.SDK_VERSION]


def test_analytics_count_by_span_kind_and_errors(sdk):
    session = sdk.init()
    ao.record(ao.ActionEvent(action_type="a1"))
    ao.record(ao.ActionEvent(action_type="a2"))
    ao.record(ao.ToolEvent(name="t"))
    ao.record(ao.LLMEvent(model="gpt-4o", provider="openai", prompt_tokens=1000, completion_tokens=500))
    ao.record(ao.ErrorEvent(exception=RuntimeError("x")))
    # a span from any other instrumentation in the session: kind llm counts, whoever made it
    with trace.get_tracer("other", tracer_provider=sdk.provider).start_as_current_span(
        "chat x", attributes={sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}
    ) as span:
        span.set_status(StatusCode.ERROR)
    analytics = ao.get_analytics()
    assert set(analytics) == {"LLM calls", "Tool calls", "Actions", "Errors", "Duration", "Cost", "Unpriced LLM calls"}
    assert analytics["LLM calls"] == 2
    assert analytics["Tool calls"] == 1
    assert analytics["Actions"] == 2
    assert analytics["Errors"] == 2
    assert analytics["Duration"].endswith("s")
    cost = session.end_session("Success")
    # exactly the sum the collector makes from the same spans
    llm_spans = [s for s in sdk.spans() if s.attributes.get(sc.SPAN_KIND) == sc.KIND_LLM]
    expected = sum((c for c in (span_price(s.attributes).total for s in llm_spans) if c), Decimal(0))
    assert isinstance(cost, Decimal) and cost == expected > 0
    assert analytics["Cost"] == f"{expected:.6f}"


def test_cost_is_a_clean_decimal_spelled_like_the_collectors_cost(sdk):
    from agentops_otel.collector.format import money

    session = sdk.init()
    ao.record(ao.LLMEvent(model="gpt-4o-mini", provider="openai", prompt_tokens=0, completion_tokens=0))
    zero = session.end_session("Success")
    assert zero == 0 and str(zero) == "0"  # not Decimal('0E-9')
    session = ao.start_session()
    for _ in range(2):
        ao.record(ao.LLMEvent(model="gpt-4o-mini", provider="openai", prompt_tokens=10, completion_tokens=20))
    cost = session.end_session("Success")
    assert cost > 0 and str(cost) == money(cost)  # no trailing zeros: the collector's "cost" string
    assert session.get_analytics()["Cost"] == f"{cost:.6f}"


def test_cost_prices_cache_and_reasoning_tokens_per_genai_conventions(sdk):
    session = sdk.init()
    span_attrs = {
        sc.SPAN_KIND: sc.KIND_LLM,
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-3-5-sonnet-latest",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3000,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 200,
    }
    trace.get_tracer("x", tracer_provider=sdk.provider).start_span("chat", attributes=span_attrs).end()
    cost = session.end_session("Success")
    from agentops_otel.pricing import TokenUsage, cost_of, rates_for

    rates = rates_for("claude-3-5-sonnet-latest", "anthropic")
    assert rates.cache_read.base < rates.input.base < rates.cache_write.base
    assert cost == cost_of(TokenUsage(3000, 200, 1000, 1000), rates).total


def test_llm_spans_are_priced_off_the_callers_thread_and_cost_reads_are_complete(sdk, monkeypatch):
    from agentops_otel import analytics as analytics_module

    pricing_threads: list[str] = []
    real_span_price = analytics_module.span_price

    def spy(attrs, usage=None):
        pricing_threads.append(threading.current_thread().name)
        return real_span_price(attrs, usage)

    monkeypatch.setattr(analytics_module, "span_price", spy)
    session = sdk.init()
    event = ao.LLMEvent(model="gpt-4o", provider="openai", prompt_tokens=1000, completion_tokens=500)
    ao.record(event)
    assert pricing_threads == []  # recording did not price
    sdk.client.flush_all(10)  # the pipeline's worker exports the batch and prices it
    assert pricing_threads and threading.current_thread().name not in pricing_threads
    ao.record(event)  # still waiting for the worker: a cost read prices it on the spot
    one = span_price(
        {
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 500,
        }
    ).total
    assert session.get_analytics()["Cost"] == f"{2 * one:.6f}"
    assert session.end_session("Success") == 2 * one


def test_waiting_llm_spans_are_priced_by_the_caller_when_the_exporter_is_stuck(sdk, monkeypatch):
    from agentops_otel.analytics import SessionStats

    monkeypatch.setattr(SessionStats, "MAX_UNPRICED", 3)
    session = sdk.init(export_interval=60_000)
    for _ in range(7):  # the worker exports only on schedule (seconds away) or after 512 spans
        ao.record(ao.LLMEvent(model="gpt-4o", provider="openai", prompt_tokens=10, completion_tokens=10))
    assert len(session.stats._waiting) < 3
    assert session.stats.llm_calls == 7
    assert session.end_session("Success") > 0


def test_unknown_model_costs_zero_with_one_warning(sdk, caplog):
    session = sdk.init()
    model = f"no-such-model-{uuid.uuid4().hex}"  # the warning is once per process and model
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            ao.record(ao.LLMEvent(model=model, prompt_tokens=10, completion_tokens=10))
    assert session.end_session("Success") == Decimal(0)
    assert session.get_analytics()["Cost"] == "0.00"
    assert session.get_analytics()["LLM calls"] == 3
    assert len([r for r in caplog.records if model in r.getMessage()]) == 1


def test_duration_and_cost_formats():
    assert format_duration(3.44) == "3.4s"
    assert format_duration(123.4) == "2m 3.4s"
    assert format_duration(3600 + 60 + 1) == "1h 1m 1.0s"
    assert format_duration(3600 + 1) == "1h 1.0s"
    assert format_duration(59.97) == "1m 0.0s"
    assert format_cost(Decimal(0)) == "0.00"
    assert format_cost(Decimal("0.0035")) == "0.003500"


def test_end_session_twice_warns_and_returns_the_same_cost(sdk, caplog):
    session = sdk.init()
    ao.record(ao.LLMEvent(model="gpt-4o", provider="openai", prompt_tokens=100, completion_tokens=10))
    first = session.end_session("Success")
    with caplog.at_level(logging.WARNING):
        assert session.end_session("Failure") == first
    assert "already ended" in caplog.text
    assert session.end_state == "Success"
    assert len([s for s in sdk.spans() if s.parent is None]) == 1


def test_module_functions_without_a_session_warn_and_return(sdk, caplog):
    sdk.init(auto_start_session=False)
    with caplog.at_level(logging.WARNING):
        assert ao.end_session("Success") is None
        ao.record(ao.ActionEvent())
        assert ao.get_analytics() is None
    assert "no session is running" in caplog.text
    assert sdk.spans() == []


def test_record_after_end_is_dropped_with_a_warning(sdk, caplog):
    session = sdk.init()
    session.end_session("Success")
    with caplog.at_level(logging.WARNING):
        session.record(ao.ActionEvent(action_type="late"))
    assert "has ended" in caplog.text
    assert not sdk.by_name("late")


def test_several_sessions_and_none_current_raise_a_helpful_error(sdk):
    sdk.init(auto_start_session=False)
    from agentops_otel.client import get_client

    one = get_client().start_session(attach=False)
    two = get_client().start_session(attach=False)
    for call in (lambda: ao.record(ao.ActionEvent()), lambda: ao.end_session("Success"), ao.get_analytics):
        with pytest.raises(ao.MultipleSessionsError, match=r"session\.(record|end_session|get_analytics)"):
            call()
    one.record(ao.ActionEvent(action_type="one"))
    two.record(ao.ActionEvent(action_type="two"))
    one.end_session("Success")
    ao.record(ao.ActionEvent(action_type="only-two-left"))  # one running again: the module API works
    two.end_session("Success")
    spans = {s.name: s for s in sdk.spans()}
    assert spans["one"].context.trace_id == uuid.UUID(one.session_id).int
    assert spans["two"].context.trace_id == spans["only-two-left"].context.trace_id == uuid.UUID(two.session_id).int


def test_current_session_wins_over_others(sdk):
    sdk.init(auto_start_session=False)
    first = ao.start_session()
    second = ao.start_session()  # now current in this context
    ao.record(ao.ActionEvent(action_type="goes-to-second"))
    assert ao.end_session("Success") == Decimal(0)
    assert not second.is_running and first.is_running
    ao.record(ao.ActionEvent(action_type="goes-to-first"))
    first.end_session("Success")
    spans = {s.name: s for s in sdk.spans()}
    assert spans["goes-to-second"].context.trace_id == uuid.UUID(second.session_id).int
    assert spans["goes-to-first"].context.trace_id == uuid.UUID(first.session_id).int


def test_start_session_makes_root_current_and_end_restores(sdk):
    sdk.init(auto_start_session=False)
    assert not trace.get_current_span().get_span_context().is_valid
    session = ao.start_session()
    assert trace.get_current_span().get_span_context().span_id == root_span_id(session.session_id)
    # any instrumentation's span now nests under the root
    with trace.get_tracer("lib", tracer_provider=sdk.provider).start_as_current_span("lib call") as span:
        assert span.parent.span_id == root_span_id(session.session_id)
    session.end_session("Success")
    assert not trace.get_current_span().get_span_context().is_valid


def test_session_as_context_manager(sdk):
    sdk.init(auto_start_session=False)
    with ao.start_session() as ok:
        pass
    with pytest.raises(KeyError), ao.start_session() as failed:
        raise KeyError("k")
    assert ok.end_state == "Success"
    assert failed.end_state == "Failure" and "KeyError" in failed.end_state_reason


def test_per_session_configuration_overrides_the_clients(sdk):
    sdk.init(auto_start_session=False, default_tags=["client"])
    custom = ao.Configuration(default_tags=["custom"], max_wait_time=1234)
    session = ao.start_session(tags=["extra"], config=custom)
    assert session.tags == ["custom", "extra"] and session.config.max_wait_time == 1234
    session.end_session("Success")


def test_spans_outside_sessions_are_not_exported(sdk):
    sdk.init(auto_start_session=False)
    trace.get_tracer("app", tracer_provider=sdk.provider).start_span("unrelated").end()
    session = ao.start_session()
    session.end_session("Success")
    assert [s.name for s in sdk.spans()] == ["session"]


def test_tags_are_final_once_the_session_ended(sdk, caplog):
    session = sdk.init(default_tags=["a"])
    session.end_session("Success")
    with caplog.at_level(logging.WARNING):
        session.add_tags(["late"])
    assert session.tags == ["a"] and "tags are final" in caplog.text


def _host_keys(attributes) -> set[str]:
    return {key for key in attributes if key.startswith(("host.", "os.", "agentops.host"))}


def test_env_data_opt_out_per_session_is_per_process_for_the_resource(sdk, caplog):
    # A provider that is not the SDK's: the client makes its own, whose resource it fills (as without one).
    ao.init(
        tracer_provider=trace.NoOpTracerProvider(),
        exporter=sdk.exporter,
        auto_start_session=False,
        instrument_llm_calls=False,
        exit_handlers=False,
    )
    with caplog.at_level(logging.WARNING):
        opted_out = ao.start_session(config=ao.Configuration(env_data_opt_out=True))
    assert "cannot remove the host environment from the resource" in caplog.text
    assert opted_out.host_env is None
    opted_out.end_session("Success")
    (root,) = sdk.by_name("session")
    assert _host_keys(root.resource.attributes)  # said so in the warning: the resource is shared


def test_a_session_may_add_env_data_the_client_opted_out_of(sdk):
    ao.init(
        tracer_provider=trace.NoOpTracerProvider(),
        exporter=sdk.exporter,
        env_data_opt_out=True,
        auto_start_session=False,
        instrument_llm_calls=False,
        exit_handlers=False,
    )
    plain = sdk.client.start_session(attach=False)
    with_env = sdk.client.start_session(config=ao.Configuration(), attach=False)
    plain.end_session("Success")
    with_env.end_session("Success")
    roots = {s.context.trace_id: s for s in sdk.by_name("session")}
    assert not _host_keys(roots[plain.trace_id].resource.attributes) and not _host_keys(
        roots[plain.trace_id].attributes
    )
    assert _host_keys(roots[with_env.trace_id].attributes) and with_env.host_env is not None


def test_another_instrumentations_span_in_a_session_is_stamped_with_its_id(sdk):
    """A span the SDK did not make (another tracer) in a session's trace gets the session id at its start."""
    session = sdk.init()

    def their_work() -> None:
        with sdk.provider.get_tracer("someone-else").start_as_current_span("their work"):
            pass

    session.call(their_work)
    session.end_session("Success")
    [theirs] = [s for s in sdk.spans() if s.name == "their work"]
    assert theirs.attributes[sc.SESSION_ID] == session.session_id
