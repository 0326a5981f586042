"""record_action / record_tool / track_agent on sync, async, generator, async-generator functions and classes."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pydantic
import pytest
from opentelemetry.trace import StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.decorators import agent_id_of, agent_name_of
from agentops_otel.session import root_span_id


@ao.record_action("add")
def add(x, y=2):
    return x + y


@ao.record_tool("lookup")
async def lookup(key):
    await asyncio.sleep(0)
    return {"key": key}


@ao.record_action("count")
def count(n):
    received = []
    for i in range(n):
        got = yield i
        if got is not None:
            received.append(got)
    return received


@ao.record_tool("stream")
async def stream(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_sync_function_span_params_and_returns(sdk):
    session = sdk.init()
    result = add(1, y=5)
    session.end_session("Success")
    assert result == 6
    (span,) = sdk.by_name("add")
    assert span.attributes[sc.SPAN_KIND] == sc.KIND_ACTION
    assert json.loads(span.attributes[sc.EVENT_PARAMS]) == {"x": 1, "y": 5}
    assert span.attributes[sc.EVENT_RETURNS] == "6"
    assert span.attributes[sc.CODE_FUNCTION_NAME] == "add"
    assert span.parent.span_id == root_span_id(session.session_id)


def test_return_value_is_the_same_object(sdk):
    session = sdk.init()
    marker = object()

    @ao.record_action
    def give():
        return marker

    assert give() is marker
    session.end_session("Success")
    assert sdk.by_name("give")


def test_exception_is_recorded_and_reraised_unchanged(sdk):
    session = sdk.init()
    error = ValueError("bad")

    @ao.record_tool("fails")
    def fails():
        raise error

    with pytest.raises(ValueError) as caught:
        fails()
    assert caught.value is error
    session.end_session("Success")
    (span,) = sdk.by_name("execute_tool fails")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ValueError"
    assert span.events[0].name == "exception"
    assert session.get_analytics()["Errors"] == 1


def test_nesting_follows_the_call_stack(sdk):
    session = sdk.init()

    @ao.record_action("outer")
    def outer():
        ao.record(ao.ToolEvent(name="inside"))
        return add(1)

    outer()
    session.end_session("Success")
    spans = {s.name: s for s in sdk.spans()}
    assert spans["add"].parent.span_id == spans["outer"].context.span_id
    assert spans["execute_tool inside"].parent.span_id == spans["outer"].context.span_id
    assert spans["outer"].parent.span_id == root_span_id(session.session_id)


async def test_async_function(sdk):
    session = sdk.init()
    assert await lookup("k") == {"key": "k"}
    session.end_session("Success")
    (span,) = sdk.by_name("execute_tool lookup")
    assert span.attributes[sc.SPAN_KIND] == sc.KIND_TOOL
    assert json.loads(span.attributes[sc.EVENT_RETURNS]) == {"key": "k"}


def test_generator_send_and_return_value(sdk):
    session = sdk.init()
    gen = count(3)
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.send("b") == 2
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    assert stop.value.value == ["a", "b"]
    session.end_session("Success")
    (span,) = sdk.by_name("count")
    assert json.loads(span.attributes[sc.EVENT_RETURNS]) == ["a", "b"]


def test_generator_spans_cover_the_iteration_and_nest_its_events(sdk):
    session = sdk.init()

    @ao.record_action("produce")
    def produce():
        yield 1
        ao.record(ao.ActionEvent(action_type="mid"))
        yield 2

    assert list(produce()) == [1, 2]
    session.end_session("Success")
    spans = {s.name: s for s in sdk.spans()}
    assert spans["mid"].parent.span_id == spans["produce"].context.span_id


def test_generator_closed_early_and_thrown_into(sdk):
    session = sdk.init()
    gen = count(10)
    next(gen)
    gen.close()

    @ao.record_action("catcher")
    def catcher():
        try:
            yield 1
        except KeyError:
            yield "caught"

    g = catcher()
    next(g)
    assert g.throw(KeyError("k")) == "caught"
    session.end_session("Success")
    assert sdk.by_name("count")[0].status.status_code is StatusCode.UNSET


def test_generator_exception_recorded_and_reraised(sdk):
    session = sdk.init()

    @ao.record_action("boom")
    def boom():
        yield 1
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        list(boom())
    session.end_session("Success")
    assert sdk.by_name("boom")[0].status.status_code is StatusCode.ERROR


async def test_async_generator(sdk):
    session = sdk.init()
    assert [i async for i in stream(3)] == [0, 1, 2]
    agen = stream(5)
    assert await agen.__anext__() == 0
    await agen.aclose()
    session.end_session("Success")
    assert len(sdk.by_name("execute_tool stream")) == 2


async def test_async_generator_exception(sdk):
    session = sdk.init()

    @ao.record_tool("agen_fail")
    async def agen_fail():
        yield 1
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        async for _ in agen_fail():
            pass
    session.end_session("Success")
    assert sdk.by_name("execute_tool agen_fail")[0].status.status_code is StatusCode.ERROR


async def test_cancelled_task_is_not_an_error(sdk):
    session = sdk.init()

    @ao.record_action("waits")
    async def waits():
        await asyncio.sleep(30)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    session.end_session("Success")
    assert sdk.by_name("waits")[0].status.status_code is StatusCode.UNSET
    assert session.get_analytics()["Errors"] == 0


def test_track_agent_class(sdk):
    session = sdk.init()

    @ao.track_agent("researcher")
    class Researcher:
        def __init__(self, topic):
            self.topic = topic

        def run(self):
            return self._helper() + add(1)

        def _helper(self):
            return 1

        @staticmethod
        def version():
            return "1"

    agent = Researcher("x")
    assert agent.agent_ops_agent_name == "researcher" and agent.agent_ops_agent_id
    assert agent.run() == 4 and Researcher.version() == "1"
    session.end_session("Success")
    runs = sdk.by_name("invoke_agent researcher")
    assert len(runs) == 2  # run() and version(); _helper is private
    run = next(s for s in runs if s.attributes[sc.CODE_FUNCTION_NAME].endswith("run"))
    assert run.attributes[sc.SPAN_KIND] == sc.KIND_AGENT
    assert run.attributes[sc.AGENT_ID] == run.attributes[sc.GEN_AI_AGENT_ID] == agent.agent_ops_agent_id
    assert run.attributes[sc.GEN_AI_AGENT_NAME] == "researcher"
    assert sdk.by_name("add")[0].parent.span_id == run.context.span_id


def test_record_tool_on_a_callable_class(sdk):
    session = sdk.init()

    @ao.record_tool("calculator")
    class Calculator:
        def __call__(self, a, b):
            return a * b

    assert Calculator()(3, 4) == 12
    session.end_session("Success")
    (span,) = sdk.by_name("execute_tool calculator")
    assert json.loads(span.attributes[sc.EVENT_PARAMS]) == {"a": 3, "b": 4}


def test_track_agent_function(sdk):
    session = sdk.init()

    @ao.track_agent
    def planner():
        return "plan"

    assert planner() == "plan"
    session.end_session("Success")
    assert sdk.by_name("invoke_agent planner")


def test_outside_a_session_the_function_just_runs(sdk):
    sdk.init(auto_start_session=False)
    assert add(2) == 4
    assert list(count(2)) == [0, 1]
    assert sdk.spans() == []


def test_bad_decorator_use():
    with pytest.raises(TypeError, match="event name must be a str"):
        ao.record_action(3)
    with pytest.raises(TypeError, match="can only decorate"):
        ao.record_action("x")(42)


def _picky_classes() -> dict[str, type]:
    """Fresh classes each call (decorating one changes it): instances that refuse new attributes,
    and one that has only ``__new__``."""

    class Slotted:
        __slots__ = ("value",)

        def __init__(self, value):
            self.value = value

        def run(self):
            return self.value

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        value: int

        def run(self):
            return self.value

    class Model(pydantic.BaseModel):
        value: int

        def run(self):
            return self.value

    class OnlyNew:
        def __new__(cls, value):
            instance = super().__new__(cls)
            instance.value = value
            return instance

        def run(self):
            return self.value

    return {c.__name__: c for c in (Slotted, Frozen, Model, OnlyNew)}


@pytest.mark.parametrize("kind", ["Slotted", "Frozen", "Model", "OnlyNew"])
def test_track_agent_on_classes_that_refuse_attributes_or_take_no_init(sdk, kind):
    session = sdk.init()
    agent_cls = ao.track_agent("picky")(_picky_classes()[kind])
    agent = agent_cls(value=7)
    assert agent.value == 7 and agent.run() == 7
    session.end_session("Success")
    (span,) = sdk.by_name("invoke_agent picky")
    agent_id = agent_id_of(agent)
    assert kind == "Slotted" or agent_id  # __slots__ without __weakref__: nowhere to keep an id
    assert span.attributes.get(sc.AGENT_ID) == agent_id
    if kind == "Model":  # the model itself is untouched
        assert agent.model_dump() == {"value": 7} and agent == agent_cls(value=7)


def test_track_agent_sets_the_id_after_init_and_instances_get_their_own(sdk):
    seen = []

    @ao.track_agent
    class Guarded:
        def __init__(self):
            self.ready = True

        def __setattr__(self, name, value):
            seen.append((name, getattr(self, "ready", False)))
            object.__setattr__(self, name, value)

    first, second = Guarded(), Guarded()
    assert ("agent_ops_agent_id", True) in seen  # set once the original __init__ ran
    assert agent_id_of(first) != agent_id_of(second)
    assert agent_name_of(first) == "Guarded"


async def test_track_agent_class_async_generator_and_classmethod_methods(sdk):
    session = sdk.init()

    @ao.track_agent("worker")
    class Worker:
        def __init__(self, base):
            self.base = base

        async def fetch(self, x):
            await asyncio.sleep(0)
            return self.base + x

        def steps(self, n):
            yield from range(n)

        async def stream(self, n):
            for i in range(n):
                yield i

        @classmethod
        def create(cls, base):
            return cls(base)

    worker = Worker.create(10)
    assert isinstance(worker, Worker)
    assert await worker.fetch(1) == 11
    assert list(worker.steps(3)) == [0, 1, 2]
    assert [i async for i in worker.stream(2)] == [0, 1]
    session.end_session("Success")
    spans = {s.attributes[sc.CODE_FUNCTION_NAME].rsplit(".", 1)[-1]: s for s in sdk.by_name("invoke_agent worker")}
    assert set(spans) == {"create", "fetch", "steps", "stream"}
    assert json.loads(spans["fetch"].attributes[sc.EVENT_PARAMS]) == {"x": 1}
    assert json.loads(spans["create"].attributes[sc.EVENT_PARAMS]) == {"base": 10}
    for name in ("fetch", "steps", "stream"):
        assert spans[name].attributes[sc.AGENT_ID] == agent_id_of(worker)
    assert sc.AGENT_ID not in spans["create"].attributes  # called on the class, not an agent instance


def test_huge_arguments_are_cut_before_they_are_serialised(sdk):
    session = sdk.init()
    reprs = 0

    class Row:
        def __repr__(self):
            nonlocal reprs
            reprs += 1
            return "<row>"

    @ao.record_tool("ingest")
    def ingest(blob, rows):
        return len(blob) + len(rows)

    blob, rows = "x" * 50_000_000, [Row() for _ in range(1_000_000)]
    assert ingest(blob, rows) == 51_000_000
    assert reprs == 0  # the 50 MB string alone fills the limit: no row is even looked at
    assert ingest("", rows) == 1_000_000
    assert reprs < 5_000  # about as many rows as fit in 8 KB, not a million
    session.end_session("Success")
    first, second = (s.attributes[sc.EVENT_PARAMS] for s in sdk.by_name("execute_tool ingest"))
    assert first.startswith('{"blob": "xxx') and second.startswith('{"blob": "", "rows": ["<row>", "<row>"')
    assert all(p.endswith("...[truncated]") and len(p) == 8192 + len("...[truncated]") for p in (first, second))
