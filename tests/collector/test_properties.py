"""Property-based proof, against the real collector process: whatever OTLP a client sends (protobuf or
JSON; valid, hostile or mutated) and whatever query it asks, no answer is a 5xx, every answer is one
the OpenAPI document describes, and every stored session stays readable through every endpoint.

Bounded for CI: a fixed number of examples, derandomized (the same examples on every run), no
example database, no deadline (the machine's load must not decide the outcome).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agentops_otel import semconv as sc
from agentops_otel.collector.api import MAX_LIMIT, MAX_TAGS
from agentops_otel.collector.ingest import _READ_KEYS
from agentops_otel.collector.openapi import document
from agentops_otel.collector.process import CollectorProcess, collector_process
from agentops_otel.meaning import ROOT_KEYS
from agentops_otel.session import root_span_id
from tests.collector.conftest import post

# pytest's per-test timeout guards against hangs; examples on a loaded machine may take minutes.
pytestmark = pytest.mark.timeout(900)
KEY = "property-key-0123456789"
BOUNDED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
DOC = document()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    with collector_process(tmp_path_factory.mktemp("properties"), args=["--no-grpc"]) as running:
        yield running


# --- what the OpenAPI document promises ---------------------------------------------------------


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": DOC["components"]})


def _operation(path: str) -> dict[str, Any]:
    return DOC["paths"][path]["get"]


def check_answer(template: str, status: int, body: Any) -> None:
    """No 5xx; the status is one the document lists for the path; the body matches its schema."""
    assert status < 500, (template, status, body)
    responses = _operation(template)["responses"]
    assert str(status) in responses, (template, status, body)
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    errors = sorted(_validator(schema).iter_errors(body), key=str)
    assert not errors, (template, status, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]])


def get(collector: CollectorProcess, template: str, path: str) -> tuple[int, Any]:
    status, body = collector.get(path, KEY)
    check_answer(template, status, body)
    return status, body


def read_session(collector: CollectorProcess, session_id: str) -> int:
    """Every per-session endpoint: the same status from each (200 or 404), each answer as documented."""
    statuses = set()
    for read in ("stats", "export", "spans"):
        status, _ = get(collector, f"/v2/sessions/{{session_id}}/{read}", f"/v2/sessions/{session_id}/{read}")
        statuses.add(status)
    assert len(statuses) == 1, (session_id, statuses)
    return statuses.pop()


def all_sessions_readable(collector: CollectorProcess) -> int:
    """Walk every stored session page by page; each reads back through every endpoint."""
    seen, cursor = 0, None
    while True:
        query = f"limit={MAX_LIMIT}" + (f"&cursor={cursor}" if cursor else "")
        _, page = get(collector, "/v2/sessions", f"/v2/sessions?{query}")
        for summary in page["sessions"]:
            assert read_session(collector, summary["session_id"]) == 200, summary
        seen += len(page["sessions"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    _, overview = get(collector, "/v2/overview", "/v2/overview")
    assert overview["totals"]["sessions"] == seen
    return seen


# --- OTLP bodies -------------------------------------------------------------------------------

# A few sessions the examples keep adding to (so that spans meet in one session), plus random ids.
SESSIONS = [uuid.UUID(int=n * 0x1234_5678_9ABC_DEF1 + 1) for n in range(1, 4)]
INTERESTING_KEYS = sorted(_READ_KEYS | ROOT_KEYS | {sc.SESSION_ID, sc.SERVICE_NAME, "eval.score"})
INTERESTING_STRINGS = [
    *(sc.KIND_SESSION, sc.KIND_LLM, sc.KIND_TOOL, sc.KIND_ACTION, sc.KIND_ERROR, sc.KIND_AGENT),
    *("Success", "Failure", "Fail", "Indeterminate", "gpt-4o", "claude-sonnet-4-20250514", "openai", "anthropic"),
    *("", "NaN", "-1", "9" * 30, "\x00", "\u202e", "<script>x</script>"),
]
BIG = [0, 1, -1, 2**31, 2**53 + 1, 2**62, 2**63 - 1, -(2**63)]

leaf_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(INTERESTING_STRINGS),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(BIG),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308]),
    st.booleans(),
    st.binary(max_size=8),
)
python_values = st.recursive(
    leaf_values,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def any_value(value: Any) -> AnyValue:
    out = AnyValue()
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        out.array_value.SetInParent()
        out.array_value.values.extend(any_value(v) for v in value)
    else:
        out.kvlist_value.SetInParent()
        out.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
    return out


attributes = st.lists(
    st.builds(
        lambda k, v: KeyValue(key=k, value=any_value(v)),
        st.sampled_from(INTERESTING_KEYS) | st.text(max_size=8),
        python_values,
    ),
    max_size=6,
)
trace_ids = st.sampled_from([s.bytes for s in SESSIONS]) | st.binary(min_size=16, max_size=16) | st.binary(max_size=20)
# Mostly times a store keeps (so that most spans are stored and read back), else any 64-bit value.
plausible_times = st.integers(1_700_000_000 * 10**9, 1_700_100_000 * 10**9)
times = st.one_of(
    plausible_times,
    plausible_times,
    plausible_times,
    st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1),
)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    trace_id = draw(trace_ids)
    session_root = (
        root_span_id(uuid.UUID(bytes=trace_id)).to_bytes(8, "big") if len(trace_id) == 16 and any(trace_id) else b""
    )
    span = Span(
        trace_id=trace_id,
        span_id=draw(st.just(session_root) | st.binary(min_size=8, max_size=8) | st.binary(max_size=10)),
        parent_span_id=draw(st.just(b"") | st.just(session_root) | st.binary(max_size=9)),
        name=draw(st.text(max_size=20) | st.sampled_from(INTERESTING_STRINGS)),
        kind=draw(st.integers(0, 5) | st.integers(-(2**31), 2**31 - 1)),
        start_time_unix_nano=draw(times),
        end_time_unix_nano=draw(times),
        status=Status(code=draw(st.integers(0, 2) | st.integers(0, 2**31 - 1)), message=draw(st.text(max_size=10))),
    )
    span.attributes.extend(draw(attributes))
    for _ in range(draw(st.integers(0, 2))):
        event = span.events.add(name=draw(st.text(max_size=8)), time_unix_nano=draw(times))
        event.attributes.extend(draw(attributes))
    return span


@st.composite
def requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(attributes))
        for _ in range(draw(st.integers(0, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(st.text(max_size=8))
            scope_spans.spans.extend(draw(st.lists(spans(), max_size=4)))
    return request


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP/JSON as exporters write it: camelCase, ids in hex (protobuf's mapping has them base64)."""
    data = json_format.MessageToDict(request)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for name in ("traceId", "spanId", "parentSpanId"):
                    if name in span:
                        span[name] = base64.b64decode(span[name]).hex()
    return data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _places(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON value, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    found = []
    for key, child in items:
        found.append((node, key))
        found += _places(child)
    return found


@st.composite
def mutated(draw: st.DrawFn, data: Any) -> Any:
    """``data`` with a few nodes replaced by any JSON value or removed: wrong types, missing fields."""
    for _ in range(draw(st.integers(1, 3))):
        places = _places(data)
        if not places:
            return draw(json_values)
        container, key = draw(st.sampled_from(places))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(json_values)
    return data


def post_and_check(
    collector: CollectorProcess, body: bytes, content_type: str, sent: ExportTraceServiceRequest | None
) -> None:
    compress = len(body) % 2 == 0  # half the bodies gzipped, without another draw
    answer = post(
        collector,
        gzip.compress(body) if compress else body,
        key=KEY,
        content_type=content_type,
        encoding="gzip" if compress else None,
    )
    assert answer.status in (200, 400), (answer.status, answer.body[:300])
    if answer.status == 400:  # the reason, in the request's own encoding (OTLP: a protobuf Status)
        assert "retry-after" not in answer.headers and answer.body
        if content_type == "application/json":
            assert answer.json()["error"]
    touched = {s.trace_id for rs in (sent.resource_spans if sent else ()) for ss in rs.scope_spans for s in ss.spans}
    for trace_id in touched:
        if len(trace_id) == 16 and any(trace_id):
            read_session(collector, str(uuid.UUID(bytes=trace_id)))


def test_any_otlp_protobuf_request_is_stored_or_refused_and_stays_readable(collector: CollectorProcess) -> None:
    @settings(BOUNDED, max_examples=50)
    @given(requests())
    def example(request: ExportTraceServiceRequest) -> None:
        post_and_check(collector, request.SerializeToString(), "application/x-protobuf", request)

    example()
    assert all_sessions_readable(collector) > 0


def test_any_otlp_json_request_valid_or_mutated_is_stored_or_refused(collector: CollectorProcess) -> None:
    @settings(BOUNDED, max_examples=50)
    @given(requests(), st.data())
    def example(request: ExportTraceServiceRequest, data: st.DataObject) -> None:
        body = otlp_json(request)
        if data.draw(st.booleans()):
            body = data.draw(mutated(body))
        post_and_check(collector, json.dumps(body).encode(), "application/json", request)

    example()
    all_sessions_readable(collector)


def test_damaged_protobuf_bytes_are_stored_or_refused(collector: CollectorProcess) -> None:
    @settings(BOUNDED, max_examples=30)
    @given(requests(), st.data())
    def example(request: ExportTraceServiceRequest, data: st.DataObject) -> None:
        body = bytearray(request.SerializeToString())
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(body)))
            action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
            if action == "flip" and at < len(body):
                body[at] ^= data.draw(st.integers(1, 255))
            elif action == "cut":
                del body[at:]
            else:
                body[at:at] = data.draw(st.binary(min_size=1, max_size=6))
        post_and_check(collector, bytes(body), "application/x-protobuf", request)

    example()
    all_sessions_readable(collector)


# --- REST query parameters ---------------------------------------------------------------------

any_text = st.text(max_size=30) | st.sampled_from(
    ["", "0", "-1", str(2**63), str(2**64), "1e309", "NaN", "null", "\x00", "a,b", ",,,", "%", " 5 "]
)
utc_offsets = st.sampled_from(["Z", "+00:00", "-14:00", "+23:59", "+05:30", ""])
documented_times = st.builds(
    lambda moment, offset: moment.isoformat() + offset,
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2261, 12, 31)),
    utc_offsets,
)
any_times = (
    documented_times
    | st.builds(lambda moment, offset: moment.isoformat() + offset, st.datetimes(), utc_offsets)
    | any_text
)
LIST_PARAMETERS = {
    "limit": st.integers(1, MAX_LIMIT).map(str) | st.integers().map(str) | any_text,
    "cursor": any_text
    | st.builds(
        lambda v, t: base64.urlsafe_b64encode(json.dumps([v, t]).encode()).decode(),
        st.integers() | st.floats() | st.text(max_size=3) | st.booleans(),
        st.sampled_from(["00" * 16, "ab" * 16, "00", "zz" * 16]),
    ),
    "tags": st.lists(st.text(max_size=6) | st.sampled_from(["prod", "a", "b"]), max_size=MAX_TAGS + 5).map(",".join)
    | any_text,
    "end_state": st.sampled_from(["Success", "Failure", "Fail", "Indeterminate", "Running", "Inactive"]) | any_text,
    "start_after": any_times,
    "start_before": any_times,
    "sort": st.sampled_from(["init_timestamp", "cost", "duration", "tokens", "errors"]) | any_text,
    "order": st.sampled_from(["asc", "desc"]) | any_text,
}
OVERVIEW_PARAMETERS = {
    "start_after": any_times,
    "start_before": any_times,
    "bucket": st.sampled_from(["hour", "day"]) | any_text,
}


def documented(template: str, name: str, value: str) -> bool:
    """Whether ``value`` is one the document says ``name`` takes (then the answer must be a 200)."""
    (parameter,) = [p for p in _operation(template)["parameters"] if p["name"] == name]
    schema = parameter["schema"]
    if name == "cursor":
        return False  # opaque: only what a previous page returned
    if schema.get("type") == "integer":
        try:
            number = int(value)
        except ValueError:
            return False
        return schema["minimum"] <= number <= schema["maximum"] and value.strip() == str(number)
    if "enum" in schema:
        return value in schema["enum"]
    if schema.get("format") == "date-time":
        return bool(re.match(schema["pattern"], value)) and _is_iso(value)
    if "pattern" in schema:
        return bool(re.fullmatch(schema["pattern"], value))
    return True


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def check_query(collector: CollectorProcess, template: str, params: dict[str, str]) -> None:
    status, body = get(collector, template, f"{template}?{urllib.parse.urlencode(params)}")
    if status == 400:
        assert body["error"], body
    if all(documented(template, name, value) for name, value in params.items()):
        assert status == 200, (params, body)


def test_any_sessions_query_is_answered_as_documented(collector: CollectorProcess) -> None:
    @settings(BOUNDED, max_examples=150)
    @given(st.fixed_dictionaries({}, optional=LIST_PARAMETERS))
    def example(params: dict[str, str]) -> None:
        check_query(collector, "/v2/sessions", params)

    example()


def test_any_overview_query_is_answered_as_documented(collector: CollectorProcess) -> None:
    @settings(BOUNDED, max_examples=80)
    @given(st.fixed_dictionaries({}, optional=OVERVIEW_PARAMETERS))
    def example(params: dict[str, str]) -> None:
        check_query(collector, "/v2/overview", params)

    example()


def test_any_session_id_is_answered_as_documented(collector: CollectorProcess) -> None:
    @settings(BOUNDED, max_examples=60)
    @given(st.uuids().map(str) | st.sampled_from([str(s) for s in SESSIONS]) | any_text)
    def example(session_id: str) -> None:
        quoted = urllib.parse.quote(session_id, safe="")
        if not quoted or quoted in (".", ".."):
            return
        for read in ("stats", "export", "spans"):
            template = f"/v2/sessions/{{session_id}}/{read}"
            status, _ = get(collector, template, f"/v2/sessions/{quoted}/{read}")
            if status == 400:
                with pytest.raises(ValueError):
                    if uuid.UUID(session_id).int == 0:
                        raise ValueError("the all-zero id")

    example()
