"""OTLP encoding of a batch of spans: OpenTelemetry's exporter's bytes, with less work per span.

OpenTelemetry's OTLP encoder builds a protobuf object for every attribute of every span, and for
the resource and scope of every batch, then serializes them all. A process's spans repeat most
of their attributes (provider, model, operation, session id, ...) and all of their resources and
scopes, so :class:`SpanEncoder` keeps the serialized bytes of each attribute (key and value), of
each resource and of each scope, and writes the enclosing messages' tags and lengths itself, in
the order protobuf serializes them. Whatever it has not seen yet goes through the official
encoder's own functions, so the result is byte for byte ``encode_spans(spans).SerializeToString()``
(``tests/sdk/test_span_encoding.py`` checks it over many random spans).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_attributes,
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _SPAN_KIND_MAP,
    _encode_events,
    _encode_links,
    _span_flags,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agentops_otel.meaning import span_attributes

_SMALL = [bytes([n]) for n in range(128)]
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_KINDS = {kind: bytes([0x30, value]) for kind, value in _SPAN_KIND_MAP.items()}  # Span.kind = 6, varint
_CACHE_MAX = 8192  # distinct attributes (and resources, scopes) kept; past it the cache starts again


def _varint(number: int) -> bytes:
    if number < 128:
        return _SMALL[number]
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + _varint(len(payload)) + payload


def _attribute_key(key: str, value: object) -> tuple[object, ...] | None:
    """What an attribute's bytes are cached under; None for a value not worth caching.

    The value's type is part of it (``True == 1 == 1.0`` but each encodes differently), floats
    by their bits (``0.0 == -0.0``, and NaN never equals itself).
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return (key, kind, value)
    if kind is float:
        return (key, kind, value.hex())  # type: ignore[attr-defined]
    if kind is tuple and all(type(item) is str for item in value):  # type: ignore[attr-defined]
        return (key, kind, value)
    return None


class SpanEncoder:
    """Serializes span batches to ``ExportTraceServiceRequest`` bytes, caching what repeats.

    Safe to call from several threads (the cache holds only finished bytes; at worst two threads
    encode the same attribute once each).
    """

    def __init__(self) -> None:
        self._attributes: dict[tuple[object, ...], bytes] = {}
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        # Grouped by resource, then scope, in order of first appearance, as the official encoder
        # does (equal resources or scopes share a group even when they are distinct objects).
        groups: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
        last_resource: Resource | None = None
        last_scope: object = None
        scopes: dict[InstrumentationScope | None, list[bytes]] = {}
        encoded: list[bytes] = []
        for span in spans:
            resource = span.resource
            scope = span.instrumentation_scope or None
            if resource is not last_resource or last_resource is None:
                scopes = groups.setdefault(resource, {})
                last_resource, last_scope = resource, object()
            if scope is not last_scope:
                encoded = scopes.setdefault(scope, [])
                last_scope = scope
            encoded.append(_field(b"\x12", self._span(span)))  # ScopeSpans.spans = 2
        request = []
        for resource, by_scope in groups.items():
            body = [_field(b"\x0a", self._resource(resource))]  # ResourceSpans.resource = 1
            for scope, span_bytes in by_scope.items():
                scope_spans = [_field(b"\x0a", self._scope(scope)), *span_bytes]  # ScopeSpans.scope = 1
                if scope is not None and scope.schema_url:
                    scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))  # ScopeSpans.schema_url = 3
                body.append(_field(b"\x12", b"".join(scope_spans)))  # ResourceSpans.scope_spans = 2
            if resource.schema_url:
                body.append(_field(b"\x1a", resource.schema_url.encode()))  # ResourceSpans.schema_url = 3
            request.append(_field(b"\x0a", b"".join(body)))  # ExportTraceServiceRequest.resource_spans = 1
        return b"".join(request)

    def _resource(self, resource: Resource) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        data = _encode_resource(resource).SerializeToString()
        if len(self._resources) >= _CACHE_MAX:
            self._resources.clear()
        self._resources[id(resource)] = (resource, data)  # the reference keeps the id from being reused
        return data

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        cached = self._scopes.get(id(scope))
        if cached is not None and cached[0] is scope:
            return cached[1]
        data = _encode_instrumentation_scope(scope).SerializeToString()  # type: ignore[arg-type]
        if len(self._scopes) >= _CACHE_MAX:
            self._scopes.clear()
        self._scopes[id(scope)] = (scope, data)
        return data

    def _attributes_of(self, attributes: object) -> list[bytes]:
        """Each attribute as a Span.attributes (field 9) entry."""
        if not attributes:
            return []
        cache = self._attributes
        out = []
        for key, value in attributes.items():  # type: ignore[attr-defined]
            cache_key = _attribute_key(key, value)
            data = cache.get(cache_key) if cache_key is not None else None
            if data is None:
                # The official function, so an unencodable value is logged and left out the same way.
                data = b"".join(_field(b"\x4a", kv.SerializeToString()) for kv in _encode_attributes({key: value}))
                if cache_key is not None:
                    if len(cache) >= _CACHE_MAX:
                        cache.clear()
                    cache[cache_key] = data
            if data:
                out.append(data)
        return out

    def _span(self, span: ReadableSpan) -> bytes:
        # Span fields in the order protobuf writes them (by field number).
        context = span.context
        parts = [
            b"\x0a\x10",  # trace_id = 1, 16 bytes
            context.trace_id.to_bytes(16, "big"),
            b"\x12\x08",  # span_id = 2, 8 bytes
            context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:
            state = ",".join([f"{key}={value}" for key, value in trace_state.items()]).encode()
            parts.append(_field(b"\x1a", state))  # trace_state = 3
        parent = span.parent
        if parent:
            parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))  # parent_span_id = 4
        if span.name:
            parts.append(_field(b"\x2a", span.name.encode()))  # name = 5
        parts.append(_KINDS[span.kind])  # kind = 6
        if span.start_time:
            parts += (b"\x39", _FIXED64(span.start_time))  # start_time_unix_nano = 7, fixed64
        if span.end_time:
            parts += (b"\x41", _FIXED64(span.end_time))  # end_time_unix_nano = 8, fixed64
        parts += self._attributes_of(span_attributes(span))  # attributes = 9
        if span.dropped_attributes:
            parts += (b"\x50", _varint(span.dropped_attributes))  # dropped_attributes_count = 10
        for event in _encode_events(span.events) or ():
            parts.append(_field(b"\x5a", event.SerializeToString()))  # events = 11
        if span.dropped_events:
            parts += (b"\x60", _varint(span.dropped_events))  # dropped_events_count = 12
        for link in _encode_links(span.links) or ():
            parts.append(_field(b"\x6a", link.SerializeToString()))  # links = 13
        if span.dropped_links:
            parts += (b"\x70", _varint(span.dropped_links))  # dropped_links_count = 14
        status = span.status
        if status is not None:
            body = b""
            if status.description:
                body = _field(b"\x12", status.description.encode())  # Status.message = 2
            code = status.status_code.value
            if code:
                body += b"\x18" + _varint(code)  # Status.code = 3
            parts.append(_field(b"\x7a", body))  # status = 15
        parts += (b"\x85\x01", _FIXED32(_span_flags(parent)))  # flags = 16, fixed32
        return b"".join(parts)
