"""SpanEncoder writes, for any batch of spans, exactly the bytes OpenTelemetry's OTLP exporter writes.

Random spans (names, kinds, times, trace states, parents local and remote, attributes of every
type the SDK and other instrumentations may hold, dropped counts, events, links, statuses, several
resources and scopes, equal-but-distinct ones included) are encoded by both; one encoder is shared
by all examples, so cached attributes, resources and scopes are compared too. Derandomized, no
example database, no deadline: the same examples on every run, whatever the machine's load.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from agentops_otel.span_encoding import SpanEncoder

ENCODER = SpanEncoder()  # shared: later examples meet attributes, resources and scopes already cached

RESOURCES = [
    Resource({"service.name": "app", "host.name": "box"}),
    Resource({"service.name": "app", "host.name": "box"}),  # equal to the first, another object
    Resource({"service.name": "other", "process.pid": 12, "tags": ("a", "b")}, schema_url="https://x/1.0"),
    Resource({}),
]
SCOPES = [
    None,
    InstrumentationScope("agentops_otel", "1.0"),
    InstrumentationScope("agentops_otel", "1.0"),  # equal to the one before, another object
    InstrumentationScope("other", None, "https://schema/1", {"scope.attr": 3}),
    InstrumentationScope(""),
]

keys = st.sampled_from(["gen_ai.request.model", "gen_ai.usage.input_tokens", "a", "é", "k.0"]) | st.text(max_size=12)
scalars = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["gpt-4o-mini", "openai", "chat", ""]),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, 2, 127, 128, 300, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.7]),
)
values = st.one_of(
    scalars,
    st.lists(st.text(max_size=8), max_size=4).map(tuple),
    st.lists(st.booleans() | st.integers(-5, 5) | st.floats(-2, 2), max_size=4).map(tuple),
    st.lists(st.sampled_from([True, 1, 1.0]), max_size=3).map(tuple),
    st.binary(max_size=6),
)
attributes = st.dictionaries(keys, values, max_size=8)
ids = st.integers(min_value=1, max_value=2**64 - 1)
times = st.none() | st.integers(min_value=0, max_value=2**64 - 1)


def bounded(attrs: dict, limit: int | None) -> BoundedAttributes:
    return BoundedAttributes(maxlen=limit, attributes=attrs, immutable=True, max_value_len=None)


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    entries = st.tuples(st.sampled_from(["a", "vendor"]), st.sampled_from(["1", "x"]))
    trace_state = TraceState(draw(st.lists(entries, max_size=2, unique_by=lambda kv: kv[0])))
    context = SpanContext(draw(st.integers(1, 2**128 - 1)), draw(ids), False, TraceFlags(1), trace_state)
    parent = draw(st.none() | st.builds(lambda s, remote: SpanContext(1, s, remote), ids, st.booleans()))
    events = [
        Event(draw(st.text(max_size=8)), bounded(draw(attributes), draw(st.none() | st.integers(0, 3))), draw(ids))
        for _ in range(draw(st.integers(0, 2)))
    ]
    links = [
        Link(
            SpanContext(draw(st.integers(1, 2**128 - 1)), draw(ids), draw(st.booleans())),
            bounded(draw(attributes), None),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    status = draw(
        st.sampled_from([Status(StatusCode.UNSET), Status(StatusCode.OK)])
        | st.builds(lambda d: Status(StatusCode.ERROR, d), st.none() | st.text(max_size=10))
    )
    limit = draw(st.none() | st.integers(0, 4))
    return ReadableSpan(
        name=draw(st.sampled_from(["chat gpt-4o-mini", ""]) | st.text(max_size=16)),
        context=context,
        parent=parent,
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=bounded(draw(attributes), limit),
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=status,
        start_time=draw(times),
        end_time=draw(times),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
    )


@settings(max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(spans(), max_size=6))
def test_bytes_are_the_official_encoders(batch: list[ReadableSpan]) -> None:
    expected = encode_spans(batch).SerializeToString()
    assert ENCODER.encode(batch) == expected
    assert ENCODER.encode(batch) == expected  # again, everything cached


def test_values_equal_in_python_but_not_on_the_wire_stay_apart() -> None:
    """True == 1 == 1.0 and 0.0 == -0.0 in Python; each is its own attribute value in OTLP."""
    encoder = SpanEncoder()
    for value in (True, 1, 1.0, 0.0, -0.0, math.nan, (True,), (1,), "1"):
        span = ReadableSpan("s", SpanContext(1, 2, False), resource=RESOURCES[0], attributes={"k": value})
        assert encoder.encode([span]) == encode_spans([span]).SerializeToString()


def test_a_value_the_official_encoder_refuses_is_left_out_the_same_way() -> None:
    span = ReadableSpan("s", SpanContext(1, 2, False), resource=RESOURCES[0], attributes={"bad": object(), "ok": 1})
    data = SpanEncoder().encode([span])
    assert data == encode_spans([span]).SerializeToString()
    [kept] = ExportTraceServiceRequest.FromString(data).resource_spans[0].scope_spans[0].spans[0].attributes
    assert kept.key == "ok"


def test_span_attributes_reads_what_the_span_holds() -> None:
    """The fast read (the SDK's inner dict) and the fallback (any other mapping) give the span's attributes."""
    from opentelemetry.sdk.trace import TracerProvider

    from agentops_otel.meaning import span_attributes

    with TracerProvider().get_tracer("t").start_as_current_span("s", attributes={"a": 1, "b": ("x",)}) as live:
        pass
    assert dict(span_attributes(live)) == dict(live.attributes) == {"a": 1, "b": ("x",)}
    assert span_attributes(live) is live._attributes._dict  # type: ignore[attr-defined]
    assert span_attributes(ReadableSpan("s", attributes={"c": True})) == {"c": True}
    assert span_attributes(ReadableSpan("s")) == {}
