"""Turn a decoded OTLP request into records for the store, enriching spans in place.

Runs in an ingest worker process (see ``workers.py``) or in the receiving thread, so the store's
single writer only does SQLite work.
The request message is mutated in place (cost attributes, project id, invalid spans removed): it
is exactly what gets stored and what gets forwarded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel import semconv as sc
from agentops_otel.collector.enrich import UNTRUSTED_KEYS, llm_enrichment
from agentops_otel.collector.otlp import decode_request, decompress, set_any_value, to_python
from agentops_otel.meaning import (
    CLASSIFY_KEYS,
    KIND_LLM,
    NO_USAGE,
    ROOT_KEYS,
    RootInfo,
    classify,
    has_local_parent,
    money,
    root_info,
    usage_tuple,
)
from agentops_otel.meaning import STATUS_ERROR as STATUS_ERROR
from agentops_otel.usage import PROVIDER_KEYS

# Times are stored as SQLite INTEGERs (signed 64-bit); OTLP's fixed64 allows twice as much.
MAX_TIME_NS = 2**63 - 1
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
# Every key classification and enrichment read: only these are converted to Python values (a
# span's other attributes, messages included, can be large and are left alone).
_READ_KEYS = CLASSIFY_KEYS | frozenset(PROVIDER_KEYS) | {sc.GEN_AI_USAGE_COST}


class SpanRecord(NamedTuple):
    """One span, ready for the store: columns plus what the session rollup needs."""

    trace_id: bytes
    span_id: bytes
    kind: str | None  # meaning.classify(): ours, or another instrumentation's span's
    start_ns: int
    end_ns: int  # never before start_ns (the span, stored as sent, may say otherwise)
    status_code: int
    resource_key: bytes
    body: bytes  # the enriched Span, serialized protobuf (name, parent, events... live here)
    is_llm: bool
    cost: Decimal | None  # None: not an LLM call, or an unpriced one
    cost_text: str | None  # the same, as stored
    model: str | None
    usage: tuple[int, int, int, int, int]  # input, output, cache read, cache creation, reasoning
    root: RootInfo | None  # set on the session's root span (ours, or a trace's local root)


@dataclass
class PreparedBatch:
    project_id: str
    spans: list[SpanRecord] = field(default_factory=list)
    resources: dict[bytes, bytes] = field(default_factory=dict)  # key -> serialized Resource
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    size: int = 0  # bytes of the decoded request it came from (set by prepare_body): what it holds, about

    @property
    def error_message(self) -> str:
        return "; ".join(self.errors[:5]) + (f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else "")


def _invalid(span, trace_id: bytes, span_id: bytes) -> str | None:
    """Why a span cannot be stored, or None: bad ids, or times that are unset or out of range."""
    parent = span.parent_span_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        return f"span {span.name!r}: trace id must be 16 non-zero bytes"
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        return f"span {span.name!r}: span id must be 8 non-zero bytes"
    if parent and len(parent) != 8:
        return f"span {span.name!r}: parent span id must be 8 bytes"
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if not start or not end:  # required by OTLP; a 0 would pull its session's start back to 1970
        return f"span {span.name!r}: start and end time are required (0 means unset)"
    if start > MAX_TIME_NS or end > MAX_TIME_NS:
        return f"span {span.name!r}: start and end time must be below 2**63 ns (year 2262)"
    return None


def _strip_project(resource) -> None:
    attrs = resource.attributes
    for i in range(len(attrs) - 1, -1, -1):
        if attrs[i].key in UNTRUSTED_KEYS:
            del attrs[i]


def prepare(request: ExportTraceServiceRequest, project_id: str) -> PreparedBatch:
    """Validate, enrich and stamp every span of ``request``; invalid spans are removed and counted."""
    batch = PreparedBatch(project_id)
    spans_out = batch.spans
    append = spans_out.append
    for resource_spans in request.resource_spans:
        _strip_project(resource_spans.resource)
        resource_bytes = resource_spans.resource.SerializeToString(deterministic=True)
        resource_key = hashlib.blake2b(resource_bytes, digest_size=16).digest()
        batch.resources[resource_key] = resource_bytes
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            invalid: list[int] = []
            for index, span in enumerate(spans):
                trace_id, span_id = span.trace_id, span.span_id
                problem = _invalid(span, trace_id, span_id)
                if problem is not None:
                    invalid.append(index)
                    batch.errors.append(problem)
                    continue
                append(_record(span, trace_id, span_id, project_id, resource_key))
            for index in reversed(invalid):
                del spans[index]
            batch.rejected += len(invalid)
    return batch


def prepare_body(
    body: bytes, kind: str, encoding: str | None, limit: int, project_id: str, keep_request: bool
) -> tuple[PreparedBatch, bytes | None]:
    """An OTLP request body as it arrived, prepared; with ``keep_request``, the enriched request too.

    Raises :class:`~agentops_otel.collector.otlp.OtlpError` for a body it cannot read.
    """
    data = decompress(body, encoding, limit)
    request = decode_request(data, kind)
    batch = prepare(request, project_id)
    enriched = request.SerializeToString() if keep_request else None
    batch.size = len(data) + (len(enriched) if enriched is not None else 0)
    return batch, enriched


def _record(span, trace_id: bytes, span_id: bytes, project_id: str, resource_key: bytes) -> SpanRecord:
    attrs = span.attributes
    keys = [kv.key for kv in attrs]
    read = _READ_KEYS.intersection(keys)
    values = {key: to_python(attrs[keys.index(key)].value) for key in read}
    if not UNTRUSTED_KEYS.isdisjoint(keys):
        for i in range(len(keys) - 1, -1, -1):
            if keys[i] in UNTRUSTED_KEYS:
                del attrs[i]
                del keys[i]
        if sc.GEN_AI_USAGE_COST in values:  # the sender's cost stays visible, under its own name
            _write(attrs, keys, {sc.COST_SENDER: values[sc.GEN_AI_USAGE_COST]}, {})
    kind = classify(values) if read else None
    found = None
    if kind == KIND_LLM:
        found = llm_enrichment(values)
        current = {key: value for key, value in values.items() if key not in UNTRUSTED_KEYS}
        _write(attrs, keys, found.attributes(), current)
    parent = has_local_parent(span.parent_span_id, span.flags)
    root = None
    if kind == sc.KIND_SESSION or not parent:
        root_values = {key: to_python(attrs[i].value) for i, key in enumerate(keys) if key in ROOT_KEYS}
        root = root_info(kind, root_values, parent, span.status.code, span.status.message)

    stamp = attrs.add()
    stamp.key = sc.PROJECT_ID
    stamp.value.string_value = project_id

    if found is not None:
        usage, cost, model = usage_tuple(found.usage), found.cost, found.model
        cost_text = None if cost is None else money(cost)
    else:
        usage, cost, cost_text, model = NO_USAGE, None, None, None
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    return SpanRecord(
        trace_id,
        span_id,
        kind,
        start,
        end if end >= start else start,  # ended "before" it started (a wall clock stepped back): no duration
        span.status.code,
        resource_key,
        span.SerializeToString(),
        kind == KIND_LLM,
        cost,
        cost_text,
        model,
        usage,
        root,
    )


def _write(attrs, keys: list[str], values: dict, current: dict) -> None:
    """Set ``values`` on a repeated KeyValue field, replacing existing keys.

    ``current`` holds the Python values of (some of) the existing attributes: a value already
    there, of the same type, is left alone (the usual case for our own spans' token counts).
    """
    for key, value in values.items():
        old = current.get(key)
        if old is not None and old == value and type(old) is type(value):
            continue
        if key in keys:
            set_any_value(attrs[keys.index(key)].value, value)
        else:
            kv = attrs.add()
            kv.key = key
            set_any_value(kv.value, value)
            keys.append(key)
