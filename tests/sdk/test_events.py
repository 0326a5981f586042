"""Events become spans with the AgentOps fields and the GenAI conventions (in-memory export)."""

from __future__ import annotations

import json
import random
import uuid
from collections import OrderedDict, namedtuple
from datetime import datetime, timedelta, timezone
from enum import Enum

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.events import MAX_VALUE_CHARS, text_value


def test_action_event_fields_and_timestamps(sdk):
    session = sdk.init()
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    event = ao.ActionEvent(
        action_type="browse",
        params={"url": "https://example.test"},
        returns={"status": 200},
        logs=["line 1", "line 2"],
        screenshot="data:image/png;base64,AAA",
        init_timestamp=start.isoformat(),
        end_timestamp=(start + timedelta(seconds=2)).isoformat(),
    )
    ao.record(event)
    session.end_session("Success")
    (span,) = sdk.by_name("browse")
    attrs = span.attributes
    assert attrs[sc.SPAN_KIND] == sc.KIND_ACTION and attrs[sc.ACTION_TYPE] == "browse"
    assert json.loads(attrs[sc.EVENT_PARAMS]) == {"url": "https://example.test"}
    assert json.loads(attrs[sc.EVENT_RETURNS]) == {"status": 200}
    assert json.loads(attrs[sc.ACTION_LOGS]) == ["line 1", "line 2"]
    assert attrs[sc.ACTION_SCREENSHOT].startswith("data:image/png")
    assert attrs[sc.EVENT_ID] == str(event.id)
    assert span.start_time == int(start.timestamp()) * 10**9
    assert span.end_time - span.start_time == 2 * 10**9


def test_record_sets_a_missing_end_timestamp(sdk):
    session = sdk.init()
    event = ao.ToolEvent(name="calc", logs={"x": 1})
    ao.record(event)
    session.end_session("Success")
    assert event.end_timestamp is not None
    (span,) = sdk.by_name("execute_tool calc")
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_EXECUTE_TOOL
    assert span.attributes[sc.GEN_AI_TOOL_NAME] == "calc"
    assert span.attributes[sc.SPAN_KIND] == sc.KIND_TOOL
    assert span.end_time >= span.start_time


def test_llm_event_follows_genai_conventions_without_content_by_default(sdk):
    session = sdk.init()
    ao.record(
        ao.LLMEvent(
            model="gpt-4o",
            provider="openai",
            prompt="hi",
            completion="hello",
            prompt_tokens=3,
            completion_tokens=2,
            cost=99.0,
        )
    )
    session.end_session("Success")
    (span,) = sdk.by_name("chat gpt-4o")
    attrs = span.attributes
    assert span.kind is SpanKind.CLIENT
    assert attrs[sc.SPAN_KIND] == sc.KIND_LLM
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o" and attrs[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3 and attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs and sc.GEN_AI_OUTPUT_MESSAGES not in attrs
    assert sc.GEN_AI_USAGE_COST not in attrs  # cost is the collector's to set, never the client's


def test_llm_event_content_when_capture_is_on(sdk):
    session = sdk.init(capture_message_content=True)
    ao.record(
        ao.LLMEvent(
            model="gpt-4o",
            prompt=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            completion={"role": "assistant", "content": "hello"},
        )
    )
    session.end_session("Success")
    (span,) = sdk.by_name("chat gpt-4o")
    assert json.loads(span.attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
    ]
    assert json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}
    ]


def test_capture_flag_from_the_standard_environment_variable(sdk, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    session = sdk.init()
    ao.record(ao.LLMEvent(model="m", prompt="hi"))
    session.end_session("Success")
    (span,) = sdk.by_name("chat m")
    assert sc.GEN_AI_INPUT_MESSAGES in span.attributes


def test_error_event_with_exception(sdk):
    session = sdk.init()
    trigger = ao.ActionEvent(action_type="fetch")
    try:
        raise ConnectionError("down")
    except ConnectionError as exc:
        error = ao.ErrorEvent(exception=exc, trigger_event=trigger, code="E42", details={"host": "x"})
    ao.record(trigger)
    ao.record(error)
    session.end_session("Success")
    (span,) = sdk.by_name("ConnectionError")
    attrs = span.attributes
    assert span.status.status_code is StatusCode.ERROR and "down" in span.status.description
    assert attrs[sc.SPAN_KIND] == sc.KIND_ERROR and attrs[sc.ERROR_TYPE] == "ConnectionError"
    assert attrs[sc.ERROR_CODE] == "E42" and json.loads(attrs[sc.ERROR_DETAILS]) == {"host": "x"}
    assert attrs[sc.ERROR_TRIGGER_EVENT_ID] == str(trigger.id) and attrs[sc.ERROR_TRIGGER_EVENT_KIND] == "action"
    (exception_event,) = span.events
    assert exception_event.name == "exception"
    assert exception_event.attributes["exception.type"].endswith("ConnectionError")
    assert "raise ConnectionError" in exception_event.attributes["exception.stacktrace"]
    assert session.get_analytics()["Errors"] == 1


def test_error_event_without_exception(sdk):
    session = sdk.init()
    ao.record(ao.ErrorEvent(error_type="RateLimited", details="slow down", logs="trace text"))
    session.end_session("Success")
    (span,) = sdk.by_name("RateLimited")
    assert span.status.status_code is StatusCode.ERROR
    (exception_event,) = span.events
    assert exception_event.attributes[sc.EXCEPTION_TYPE] == "RateLimited"
    assert exception_event.attributes[sc.EXCEPTION_MESSAGE] == "slow down"
    assert exception_event.attributes[sc.EXCEPTION_STACKTRACE] == "trace text"


def test_long_and_unserialisable_values_are_cut_not_fatal(sdk):
    session = sdk.init()

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    circular: dict = {}
    circular["self"] = circular
    ao.record(ao.ActionEvent(action_type="big", params={"blob": "x" * 100_000, "o": Opaque()}, returns=circular))
    session.end_session("Success")
    (span,) = sdk.by_name("big")
    assert span.attributes[sc.EVENT_PARAMS].endswith("...[truncated]")
    assert len(span.attributes[sc.EVENT_PARAMS]) < 9000
    assert "self" in span.attributes[sc.EVENT_RETURNS]


def test_error_event_records_its_trigger_event_once(sdk):
    session = sdk.init()
    unrecorded = ao.ToolEvent(name="search")
    ao.record(ao.ErrorEvent(trigger_event=unrecorded, error_type="Timeout"))
    recorded = ao.ActionEvent(action_type="fetch")
    ao.record(recorded)
    ao.record(ao.ErrorEvent(trigger_event=recorded, error_type="Refused"))
    ao.record(ao.ErrorEvent(trigger_event=recorded, error_type="Refused"))
    session.end_session("Success")
    (tool,) = sdk.by_name("execute_tool search")
    (action,) = sdk.by_name("fetch")
    assert unrecorded.recorded and unrecorded.end_timestamp is not None
    (timeout,) = sdk.by_name("Timeout")
    assert timeout.attributes[sc.ERROR_TRIGGER_EVENT_ID] == tool.attributes[sc.EVENT_ID] == str(unrecorded.id)
    assert {s.attributes[sc.ERROR_TRIGGER_EVENT_ID] for s in sdk.by_name("Refused")} == {action.attributes[sc.EVENT_ID]}
    analytics = session.get_analytics()
    assert analytics["Tool calls"] == 1 and analytics["Actions"] == 1 and analytics["Errors"] == 3


def test_error_event_trigger_must_be_an_event():
    with pytest.raises(TypeError, match="trigger_event"):
        ao.ErrorEvent(trigger_event="fetch")


def test_session_id_on_an_event_routes_it_to_that_running_session(sdk):
    sdk.init(auto_start_session=False)
    first = sdk.client.start_session(attach=False)
    second = sdk.client.start_session(attach=False)
    ao.record(ao.ActionEvent(action_type="to-first", session_id=first.session_id))
    ao.record(ao.ToolEvent(name="to-second", session_id=uuid.UUID(second.session_id)))
    with pytest.raises(ao.MultipleSessionsError):  # a session that is not running here: the usual lookup
        ao.record(ao.ActionEvent(action_type="nowhere", session_id=str(uuid.uuid4())))
    with pytest.raises(ValueError, match="session_id"):
        ao.record(ao.ActionEvent(session_id="not-a-uuid"))
    first.end_session("Success")
    second.end_session("Success")
    assert sdk.by_name("to-first")[0].context.trace_id == first.trace_id
    assert sdk.by_name("execute_tool to-second")[0].context.trace_id == second.trace_id
    assert first.get_analytics()["Actions"] == 1 and second.get_analytics()["Tool calls"] == 1


def test_llm_event_thread_id_is_the_conversation_id(sdk):
    session = sdk.init()
    thread = uuid.uuid4()
    ao.record(ao.LLMEvent(model="m", thread_id=thread))
    session.end_session("Success")
    assert sdk.by_name("chat m")[0].attributes[sc.GEN_AI_CONVERSATION_ID] == str(thread)


def test_error_event_details_default_to_the_exception_and_end_timestamp_is_settable(sdk):
    session = sdk.init()
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    error = ao.ErrorEvent(exception=KeyError("missing"), timestamp=start.isoformat())
    assert error.details == "'missing'" and error.error_type == "KeyError"
    assert ao.ErrorEvent(exception=ValueError("x"), details="given").details == "given"
    error.end_timestamp = (start + timedelta(seconds=3)).isoformat()
    ao.record(error)
    session.end_session("Success")
    (span,) = sdk.by_name("KeyError")
    assert span.attributes[sc.ERROR_DETAILS] == "'missing'"
    assert span.end_time - span.start_time == 3 * 10**9


@pytest.mark.parametrize(
    "value",
    [
        {"x": 1, "y": [True, None, 1.5, "s"]},
        ("tuple", {"nested": {"deep": ["é😀"]}}, b"bytes"),
        ["a" * 8186],  # just within the limit, and just past it
        ["a" * 8187],
        [1] * 2731,
        {str(i): [i, str(i)] for i in range(1000)},
        {"blob": '\n"' * 5000, 7: None},
        [[["z" * 3000] * 3]] * 3,
    ],
    ids=lambda v: type(v).__name__ + str(len(v)),
)
def test_text_value_is_the_plain_json_cut_at_the_limit(value):
    expected = json.dumps(value, default=repr, ensure_ascii=False)
    if len(expected) > MAX_VALUE_CHARS:
        expected = expected[:MAX_VALUE_CHARS] + "...[truncated]"
    assert text_value(value) == expected


class _Colour(str, Enum):
    RED = "red"


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque ✓>"


_Point = namedtuple("_Point", "x y")


def _random_value(rng: random.Random, depth: int = 0) -> object:
    """A random JSON-ish value: short and long strings (quotes, control and wide characters),
    numbers, bytes, containers and their subclasses, objects that only repr shows."""
    if depth > 3 or rng.random() < 0.4:
        leaves = [
            lambda: rng.randint(-(10**12), 10**12),
            lambda: rng.random() * 1e6,
            lambda: float("nan"),
            lambda: rng.random() < 0.5,
            lambda: None,
            lambda: "".join(rng.choices('ab"\\\n\x01é😀', k=4)) * rng.choice([0, 1, 10, 750, 2250]),
            lambda: b"\x00b" * rng.choice([1, 5000]),
            lambda: _Colour.RED,
            lambda: _Opaque(),
        ]
        return rng.choice(leaves)()
    size = rng.choice([0, 1, 2, 5, 30, 900 if depth else 3000])
    children = [_random_value(rng, depth + 1 if size < 30 else 4) for _ in range(size)]  # long ones: of leaves
    kind = rng.choice([list, tuple, _Point, dict, dict, OrderedDict])
    if kind is _Point:
        return _Point(children, size)
    if kind in (list, tuple):
        return kind(children)
    keys = [rng.choice([f"k{i}", "é" * 50 + str(i), i, i + 0.5, None, True]) for i in range(size)]
    return kind(zip(keys, children, strict=True))


def test_text_value_is_the_plain_json_cut_at_the_limit_for_random_values():
    rng = random.Random(20260102)
    lengths = []
    for _ in range(400):
        value = _random_value(rng)
        expected = value if isinstance(value, str) else json.dumps(value, default=repr, ensure_ascii=False)
        lengths.append(len(expected))
        if len(expected) > MAX_VALUE_CHARS:
            expected = expected[:MAX_VALUE_CHARS] + "...[truncated]"
        assert text_value(value) == expected, value
    assert sum(n <= MAX_VALUE_CHARS for n in lengths) > 100 and sum(n > MAX_VALUE_CHARS for n in lengths) > 50


def _nested(value: object, depth: int) -> object:
    for _ in range(depth):
        value = [value]
    return value


def _circular(huge: str) -> list:
    value: list = [huge]
    value.append(value)
    return value


_HUGE_PARTS = {
    "bytes": lambda huge: huge.encode(),
    "key": lambda huge: {"a": 1, huge: 2, "b": 3},
    "in-records": lambda huge: [{"a": 1}, {"b": [huge]}],
    "in-tuple": lambda huge: ((1,), huge),
    "namedtuple": lambda huge: _Point(huge, 1),
    "ordered": lambda huge: OrderedDict(a=huge),
    "deep": lambda huge: _nested(huge, 3),
    "deeper": lambda huge: _nested(huge, 100),
    "cycle": _circular,
    "ints": lambda huge: [0] * len(huge),
    "lists": lambda huge: [[0]] * len(huge),
    "records": lambda huge: [{"k": 1}] * len(huge),
    "int-keys": lambda huge: dict.fromkeys(range(len(huge) // 10)),
}


@pytest.mark.parametrize("make", _HUGE_PARTS.values(), ids=_HUGE_PARTS.keys())
def test_text_value_serialises_no_huge_part(monkeypatch, make):
    """Wherever the huge part is, what is serialised is about the limit's size, not the value's."""
    from agentops_otel import events

    serialised: list[str] = []

    def recorded(encode):
        return lambda value: serialised.append(encode(value)) or serialised[-1]

    monkeypatch.setattr(events, "_encode", recorded(events._encode))
    monkeypatch.setattr(events, "_encode_tree", recorded(events._encode_tree))
    text = text_value(make("x" * 1_000_000))
    assert text.endswith("...[truncated]") and len(text) == MAX_VALUE_CHARS + len("...[truncated]")
    assert len(serialised) == 1 and len(serialised[0]) < 10 * MAX_VALUE_CHARS


def test_error_event_positional_order_is_agentops_0_3_26s():
    """0.3.24 made ErrorEvent an Event: its positional order became the Event's fields, then the error's."""
    trigger, exc = ao.ActionEvent("fetch"), ValueError("bad")
    agent, event_id, session_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0, t1 = "2026-01-02T03:04:05+00:00", "2026-01-02T03:04:08+00:00"
    error = ao.ErrorEvent(
        "errors", {"q": 1}, "ret", t0, t1, agent, event_id, session_id, trigger, exc, "Bad", "E7", "why", "log"
    )
    got = [getattr(error, name) for name in ("event_type", "params", "returns", "init_timestamp", "end_timestamp")]
    assert got == ["errors", {"q": 1}, "ret", t0, t1]
    assert (error.agent_id, error.id, error.session_id, error.trigger_event) == (agent, event_id, session_id, trigger)
    assert (error.exception, error.error_type, error.code) == (exc, "Bad", "E7")
    assert (error.details, error.logs) == ("why", "log")
    assert error.timestamp == t0 and isinstance(error, ao.Event)
    assert ao.ErrorEvent(ao.EventType.ERROR).event_type == "errors"
    named = ao.ErrorEvent("RateLimited", {"retry": 2})  # a type of its own names the error, as ActionEvent("x")
    assert (named.event_type, named.error_type, named.params) == ("errors", "RateLimited", {"retry": 2})


def test_error_event_positional_order_of_agentops_before_0_3_24_still_works():
    """0.3.0 to 0.3.23: (trigger_event, exception, error_type, code, details, logs, timestamp). A first
    argument that is an event or None can only mean that order."""
    trigger, exc = ao.ToolEvent("search"), KeyError("k")
    error = ao.ErrorEvent(trigger, exc, "Lookup", "404", "no such key", "log", "2026-01-02T03:04:05+00:00")
    assert (error.trigger_event, error.exception, error.error_type, error.code) == (trigger, exc, "Lookup", "404")
    assert (error.details, error.logs, error.init_timestamp) == ("no such key", "log", "2026-01-02T03:04:05+00:00")
    assert error.event_type == "errors" and error.params is None
    untriggered = ao.ErrorEvent(None, exc)
    assert untriggered.trigger_event is None and untriggered.error_type == "KeyError" and untriggered.details == "'k'"


def test_error_event_keywords_of_every_0_3_version():
    error = ao.ErrorEvent(timestamp="2026-01-02T03:04:05+00:00", error_type="T", params={"a": 1}, agent_id="ag")
    assert error.init_timestamp == "2026-01-02T03:04:05+00:00" and error.params == {"a": 1}
    error.timestamp = "2026-01-02T03:04:06+00:00"
    assert error.init_timestamp == "2026-01-02T03:04:06+00:00"
    assert ao.ErrorEvent(init_timestamp="2026-01-02T03:04:05+00:00").timestamp == "2026-01-02T03:04:05+00:00"
    with pytest.raises(TypeError, match="not both"):
        ao.ErrorEvent(timestamp="2026-01-02T03:04:05+00:00", init_timestamp="2026-01-02T03:04:05+00:00")
    with pytest.raises(TypeError, match="multiple values for argument 'params'"):
        ao.ErrorEvent("errors", {"a": 1}, params={"b": 2})
    with pytest.raises(TypeError, match="multiple values for argument 'exception'"):
        ao.ErrorEvent(None, ValueError(), exception=ValueError())
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        ao.ErrorEvent(colour="red")
    with pytest.raises(TypeError, match="at most 14 positional"):
        ao.ErrorEvent("errors", *[None] * 14)
    with pytest.raises(TypeError, match="at most 7 positional"):
        ao.ErrorEvent(None, *[None] * 7)


def test_error_event_in_0_3_26_order_records_its_params_and_trigger(sdk):
    session = sdk.init()
    trigger = ao.ActionEvent("parse")
    ao.record(ao.ErrorEvent("errors", {"page": 3}, None, None, None, None, None, None, trigger, RuntimeError("x")))
    session.end_session("Success")
    (span,) = sdk.by_name("RuntimeError")
    assert span.attributes[sc.EVENT_PARAMS] == '{"page": 3}' and span.attributes[sc.SPAN_KIND] == sc.KIND_ERROR
    assert span.attributes[sc.ERROR_TRIGGER_EVENT_ID] == str(trigger.id) and sdk.by_name("parse")
