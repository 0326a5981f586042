"""Decoding OTLP trace requests (protobuf or JSON, optionally compressed) with size limits.

Every failure is an :class:`OtlpError` carrying the HTTP status and a message for the client, so
the receivers turn bad input into 400 / 413 / 415 without touching the store.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

DEFAULT_MAX_BODY = 20 * 1024 * 1024
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPES = frozenset({"application/json"})
_GZIP = 31  # zlib wbits: 31 = gzip header, 15 = zlib
_GZIP_MAGIC = b"\x1f\x8b"
_ZEROS = re.compile(rb"\0*")
_FIRST_CHUNK, _MAX_CHUNK = 256, 1 << 20
_DECOMPRESSORS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": 15}
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class OtlpError(Exception):
    """A request the collector refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __reduce__(self) -> tuple[type[OtlpError], tuple[int, str]]:  # raised in ingest workers, re-raised here
        return type(self), (self.status, self.message)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_media_type(content_type: str | None) -> str:
    """The request's media type, or 415 when it is neither OTLP protobuf nor OTLP JSON."""
    kind = media_type(content_type)
    if kind not in PROTOBUF_TYPES and kind not in JSON_TYPES:
        raise OtlpError(
            415, f"unsupported content type {kind or '(none)'!r}: use application/x-protobuf or application/json"
        )
    return kind


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding``; never inflates past ``limit`` bytes (decompression bombs: 413)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    wbits = _DECOMPRESSORS.get(encoding)
    if wbits is None:
        raise OtlpError(415, f"unsupported content encoding {encoding!r}: use gzip, deflate or identity")
    return _inflate(body, wbits, encoding, limit)


def _inflate(body: bytes, wbits: int, encoding: str, limit: int) -> bytes:
    """Every member of a gzip body (RFC 1952 allows several, one after the other), or the one zlib stream."""
    view, end, pos = memoryview(body), len(body), 0
    parts: list[bytes] = []
    size = 0
    while True:
        inflater = zlib.decompressobj(wbits)
        chunk = _FIRST_CHUNK
        while not inflater.eof and pos < end:
            # a member's first bytes go in a small piece: what is left after its end is copied
            # (unused_data), so tiny members back to back stay linear, not quadratic
            data = view[pos : pos + chunk]
            pos += len(data)
            chunk = min(chunk * 4, _MAX_CHUNK)
            try:
                part = inflater.decompress(data, limit + 1 - size)  # never 0, which would mean no limit
            except zlib.error as exc:
                raise OtlpError(400, f"body is not valid {encoding} data: {exc}") from None
            size += len(part)
            if size > limit or inflater.unconsumed_tail:
                raise OtlpError(413, f"decompressed body is larger than the limit of {limit} bytes")
            parts.append(part)
        if not inflater.eof:
            raise OtlpError(400, f"body is truncated {encoding} data")
        pos -= len(inflater.unused_data)
        if wbits == _GZIP:
            pos = _ZEROS.match(body, pos).end()  # zero padding after a member, as gzip itself allows
        if pos == end:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if wbits != _GZIP or body[pos : pos + 2] != _GZIP_MAGIC:
            raise OtlpError(400, f"body has {end - pos} bytes of trailing data after the {encoding} stream")


def decode_request(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """Parse an ExportTraceServiceRequest from OTLP protobuf or OTLP JSON bytes."""
    if kind in PROTOBUF_TYPES:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise OtlpError(400, f"malformed OTLP protobuf: {exc}") from None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OtlpError(400, f"malformed OTLP JSON: {exc}") from None
    except RecursionError:  # '[' * 100_000: no retry can ever make it parse
        raise OtlpError(400, "malformed OTLP JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise OtlpError(400, "malformed OTLP JSON: the body must be an object with resourceSpans")
    _hex_ids_to_base64(data)
    try:
        return json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise OtlpError(400, f"malformed OTLP JSON: {exc}") from None
    except RecursionError:
        raise OtlpError(400, "malformed OTLP JSON: values nested too deeply") from None


def _hex_id(value: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64. Bad hex -> empty id."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return ""  # an invalid id: the span is rejected and counted, the request still parses


def _hex_ids_to_base64(data: dict[str, Any]) -> None:
    for resource_spans in _list(data, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                if not isinstance(span, dict):
                    continue
                _fix_ids(span)
                for link in _list(span, "links"):
                    if isinstance(link, dict):
                        _fix_ids(link)


def _fix_ids(obj: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        if name in obj:
            obj[name] = _hex_id(obj[name])


def _list(obj: Any, *names: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return value
    return []


# --- AnyValue <-> Python ------------------------------------------------------------------------


# JSON has no NaN or infinities: a double attribute holding one is served as protobuf's JSON mapping
# writes it, a string. Every REST answer and the dashboard show it so.
NON_FINITE_JSON = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_python(value: AnyValue, *, json_form: bool = False) -> Any:
    """A Python value for an OTLP AnyValue (arrays -> lists, kvlists -> dicts). ``json_form``: what
    JSON can hold, bytes as base64 text and NaN / ±Infinity as the strings of NON_FINITE_JSON."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        number = value.double_value
        return NON_FINITE_JSON[str(number)] if json_form and not math.isfinite(number) else number
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [to_python(v, json_form=json_form) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: to_python(kv.value, json_form=json_form) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode() if json_form else value.bytes_value
    return None


def set_any_value(target: AnyValue, value: Any) -> None:
    """Write a Python value (str, bool, int, float, or a list/tuple of them) into an AnyValue."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, (list, tuple)):
        target.array_value.SetInParent()
        for item in value:
            set_any_value(target.array_value.values.add(), item)
    else:
        target.string_value = str(value)


def key_value(key: str, value: Any) -> KeyValue:
    """An OTLP attribute, for building requests (tests, benchmarks, forwarding)."""
    kv = KeyValue(key=key)
    set_any_value(kv.value, value)
    return kv


def attributes_dict(key_values: Any) -> dict[str, Any]:
    """Attributes as the REST API serves them (JSON form, see :func:`to_python`)."""
    return {kv.key: to_python(kv.value, json_form=True) for kv in key_values}


def id_hex(raw: bytes | None) -> str | None:
    return binascii.hexlify(raw).decode() if raw else None
