"""Bad input never breaks what is stored: odd values, overflowing sums and hostile parameters, against
the real collector process. Each stored session stays readable through every endpoint."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from agentops_otel import semconv as sc
from agentops_otel.collector.api import MAX_TAGS
from agentops_otel.collector.otlp import key_value
from agentops_otel.collector.process import CollectorProcess, collector_process
from agentops_otel.usage import MAX_COUNT
from tests.collector.conftest import KEY, SessionBuilder, post, send

READS = ("stats", "export", "spans")


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the module (a start costs seconds); tests that count use a project of their own."""
    with collector_process(tmp_path_factory.mktemp("hostile")) as running:
        yield running


def readable(collector, session_id: str, key: str = KEY) -> dict[str, dict]:
    """Every per-session endpoint answers 200 with JSON (strict: no NaN literal) for the session."""
    answers = {}
    for read in READS:
        status, body = collector.get(f"/v2/sessions/{session_id}/{read}", key)
        assert status == 200, (read, status, body)
        answers[read] = body
    return answers


def test_nan_and_infinite_doubles_are_stored_and_served_as_strings_everywhere(collector):
    session = SessionBuilder.new(seed=21)
    odd = {"eval.score": float("nan"), "eval.max": float("inf"), "eval.min": float("-inf"), "eval.ok": 0.5}
    span = session.span("judge", {sc.SPAN_KIND: sc.KIND_ACTION, **odd})
    span.attributes.append(key_value("eval.series", [1.5, float("nan"), float("-inf")]))
    event = span.events.add(name="scored", time_unix_nano=session.start_ns + 5_000_000)
    event.attributes.append(key_value("score", float("inf")))
    key = "hostile-nan-key"
    send(collector, [span, session.root()], key=key, resource={"host.load": float("nan")})

    answers = readable(collector, session.session_id, key)
    (judge,) = [s for s in answers["export"]["spans"] if s["name"] == "judge"]
    expected = {"eval.score": "NaN", "eval.max": "Infinity", "eval.min": "-Infinity", "eval.ok": 0.5}
    assert {k: judge["attributes"][k] for k in expected} == expected
    assert judge["attributes"]["eval.series"] == [1.5, "NaN", "-Infinity"]
    assert judge["events"][0]["attributes"] == {"score": "Infinity"}
    assert judge["resource"]["host.load"] == "NaN" == answers["export"]["session"]["host_env"]["host.load"]
    (lean,) = [s for s in answers["spans"]["spans"] if s["name"] == "judge"]
    assert lean["attributes"] == judge["attributes"]
    status, page = collector.get("/v2/sessions", key)
    assert status == 200 and [s["session_id"] for s in page["sessions"]] == [session.session_id]


def test_a_service_name_that_is_not_a_string_is_served_as_none(collector):
    session = SessionBuilder.new(seed=23)
    key = "hostile-service-key"
    send(collector, [session.root()], key=key, resource={sc.SERVICE_NAME: [5e-324]})
    (root,) = readable(collector, session.session_id, key)["export"]["spans"]
    assert root["service_name"] is None and root["resource"][sc.SERVICE_NAME] == [5e-324]


def test_nan_and_infinity_sent_as_otlp_json_read_back_the_same(collector):
    session = SessionBuilder.new(seed=22)
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": session.trace_id.hex(),
                                "spanId": "0102030405060708",
                                "name": "from-json",
                                "startTimeUnixNano": str(session.start_ns),
                                "endTimeUnixNano": str(session.start_ns + 1000),
                                "attributes": [
                                    {"key": "a", "value": {"doubleValue": "NaN"}},
                                    {"key": "b", "value": {"doubleValue": "-Infinity"}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    answer = post(collector, json.dumps(body).encode(), content_type="application/json")
    assert answer.status == 200, answer
    (span,) = readable(collector, session.session_id)["export"]["spans"]
    assert (span["attributes"]["a"], span["attributes"]["b"]) == ("NaN", "-Infinity")


def test_token_sums_past_2_63_saturate_in_every_aggregate_as_in_a_session(collector):
    """Per-session token columns saturate at 2**63 - 1; so do the overview's sums over sessions."""
    sessions = [SessionBuilder.new(start_ns=1_700_000_000_000_000_000 + i * 10**9, seed=30 + i) for i in range(3)]
    key = "hostile-sums-key"
    for session in sessions:
        send(collector, [session.llm("gpt-4o", MAX_COUNT, MAX_COUNT // 2), session.root()], key=key)
    for session in sessions:
        stats = readable(collector, session.session_id, key)["stats"]
        assert (stats["prompt_tokens"], stats["completion_tokens"]) == (MAX_COUNT, MAX_COUNT // 2)
    for bucket in ("hour", "day", None):
        query = f"?bucket={bucket}" if bucket else ""
        status, overview = collector.get(f"/v2/overview{query}", key)
        assert status == 200, (bucket, overview)
        totals = overview["totals"]
        assert (totals["sessions"], totals["prompt_tokens"], totals["completion_tokens"]) == (3, MAX_COUNT, MAX_COUNT)
        assert [(b["prompt_tokens"], b["completion_tokens"]) for b in overview["buckets"]] == [(MAX_COUNT, MAX_COUNT)]
        (model,) = overview["cost_by_model"]
        assert (model["calls"], model["prompt_tokens"], model["completion_tokens"]) == (3, MAX_COUNT, MAX_COUNT)
    for sort in ("tokens", "cost"):
        status, page = collector.get(f"/v2/sessions?sort={sort}&limit=2", key)
        assert status == 200 and len(page["sessions"]) == 2
        status, rest = collector.get(f"/v2/sessions?sort={sort}&limit=2&cursor={page['next_cursor']}", key)
        assert status == 200 and len(rest["sessions"]) == 1


def test_an_empty_range_totals_zero_not_null(collector):
    status, overview = collector.get("/v2/overview?start_after=2200-01-01T00:00:00Z", KEY)
    assert status == 200
    assert overview["totals"] == {
        "sessions": 0,
        "llm_calls": 0,
        "errors": 0,
        "cost": "0",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "failed_sessions": 0,
    }


def _cursor(value: object, trace_hex: str = "00" * 16) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, trace_hex]).encode()).decode()


BAD_LIST_PARAMETERS = [
    ("start_after", "9999-12-31"),
    ("start_before", "0001-01-01"),
    ("start_after", "1969-12-30T00:00:00Z"),
    ("start_before", "2262-01-02T00:00:00Z"),
    ("start_after", "2025-13-01"),
    ("cursor", _cursor(2**63)),
    ("cursor", _cursor(-(2**63) - 1)),
    ("cursor", _cursor(float("inf"))),  # Infinity, which Python's JSON reads
    ("cursor", _cursor(True)),
    ("cursor", _cursor(1, "00")),
    ("cursor", "not-a-cursor"),
    ("tags", ",".join(f"t{i}" for i in range(999))),
    ("tags", ",".join(f"t{i}" for i in range(MAX_TAGS + 1))),
    ("limit", "0"),
    ("limit", str(2**70)),
    ("limit", "ten"),
    ("sort", "name"),
    ("order", "sideways"),
    ("end_state", "Done"),
]


@pytest.mark.parametrize(("name", "value"), BAD_LIST_PARAMETERS)
def test_a_bad_sessions_query_parameter_is_a_400_naming_it(collector, name, value):
    send(collector, [SessionBuilder.new(seed=40).root()])  # a project with data: every filter is reached
    status, body = collector.get(f"/v2/sessions?{urllib.parse.urlencode({name: value})}", KEY)
    assert status == 400, (name, value, body)
    assert body["error"] and (name in body["error"] or "cursor" in body["error"]), body


@pytest.mark.parametrize(
    ("name", "value"),
    [("start_after", "9999-12-31"), ("start_before", "0001-01-01"), ("start_after", "soon"), ("bucket", "week")],
)
def test_a_bad_overview_query_parameter_is_a_400_naming_it(collector, name, value):
    status, body = collector.get(f"/v2/overview?{urllib.parse.urlencode({name: value})}", KEY)
    assert status == 400 and name in body["error"], (name, value, body)


def test_the_limits_themselves_are_accepted(collector):
    session = SessionBuilder.new(seed=41)
    send(collector, [session.root(tags=("a-41", "b-41"))])
    tags = ",".join(["a-41", "b-41", *(f"t{i}" for i in range(MAX_TAGS - 2))])
    for query in (
        "start_after=1970-01-01T00:00:00Z&start_before=2261-12-31T23:59:59Z",
        "start_after=1970-01-01T00:30:00%2B01:00",  # before 1970 in UTC: no session starts earlier
        f"tags={tags}",
        "limit=500",
        f"cursor={_cursor(2**63 - 1)}",
        f"cursor={_cursor(-(2**63))}",
        f"cursor={_cursor(1.5)}",
    ):
        status, body = collector.get(f"/v2/sessions?{query}", KEY)
        assert status == 200, (query, body)
    status, page = collector.get("/v2/sessions?tags=a-41,b-41", KEY)
    assert [s["session_id"] for s in page["sessions"]] == [session.session_id]
    assert collector.get("/v2/overview?start_after=1970-01-01&start_before=2261-12-31", KEY)[0] == 200


def test_deeply_nested_otlp_json_is_a_400_never_a_retry(collector):
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"resourceSpans":' + b"[" * 50_000 + b"]" * 50_000 + b"}"):
        answer = post(collector, body, content_type="application/json")
        assert answer.status == 400, answer
        assert "retry-after" not in answer.headers
        assert "nested too deeply" in answer.json()["error"]
    # Deep AnyValue arrays: JSON Python reads, too deep for the protobuf message.
    depth = 5_000
    value = '{"arrayValue":{"values":[' * depth + '{"stringValue":"leaf"}' + "]}}" * depth
    session = SessionBuilder.new(seed=42)
    span = (
        f'{{"traceId":"{session.trace_id.hex()}","spanId":"0102030405060708","name":"deep",'
        f'"startTimeUnixNano":"{session.start_ns}","endTimeUnixNano":"{session.start_ns + 1}",'
        f'"attributes":[{{"key":"k","value":{value}}}]}}'
    )
    body = f'{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}'.encode()
    answer = post(collector, body, content_type="application/json")
    assert answer.status == 400 and "retry-after" not in answer.headers, answer


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, by hand: the Python library refuses to build too deep a message."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([n & 0x7F | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def test_a_protobuf_value_nested_past_the_decoder_limit_is_a_400(collector):
    session = SessionBuilder.new(seed=43)
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(200):  # AnyValue.array_value (5) -> ArrayValue.values (1) -> AnyValue
        value = _field(5, _field(1, value))
    span = session.span("deep", {}).SerializeToString() + _field(9, _field(1, b"k") + _field(2, value))
    body = _field(1, _field(2, _field(2, span)))  # request.resource_spans.scope_spans.spans
    answer = post(collector, body)
    assert answer.status == 400 and "retry-after" not in answer.headers, answer
    assert collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)[0] == 404
