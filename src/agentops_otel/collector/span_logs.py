"""OTLP log records attached to spans: decoding, the records kept, and their JSON (see :mod:`.signals`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from agentops_otel.collector.otlp import PROTOBUF_TYPES, OtlpError, attributes_dict, to_python

EVENT_NAME_ATTRIBUTE = "event.name"  # where senders put the event name before LogRecord.event_name


@dataclass(frozen=True)
class SpanLog:
    """A log record attached to a span: ``body`` is the serialized LogRecord."""

    trace_id: bytes
    span_id: bytes
    time_ns: int
    body: bytes


@dataclass
class LogBatch:
    project_id: str
    logs: list[SpanLog] = field(default_factory=list)
    dropped: int = 0  # records without a trace and span id


def _fix_json_ids(data: Any) -> None:
    """OTLP/JSON ids are hex; protobuf's JSON mapping expects base64. A bad id reads as none."""
    for resource in data.get("resourceLogs", data.get("resource_logs", [])) if isinstance(data, dict) else []:
        for scope in resource.get("scopeLogs", resource.get("scope_logs", [])) if isinstance(resource, dict) else []:
            for record in scope.get("logRecords", scope.get("log_records", [])) if isinstance(scope, dict) else []:
                if not isinstance(record, dict):
                    continue
                for name in ("traceId", "spanId", "trace_id", "span_id"):
                    value = record.get(name)
                    if isinstance(value, str):
                        try:
                            record[name] = base64.b64encode(bytes.fromhex(value)).decode()
                        except ValueError:
                            record[name] = ""


def decode(body: bytes, kind: str, message: type[Message]) -> Message:
    """An OTLP logs or metrics request from protobuf or JSON bytes; OtlpError (400) when malformed."""
    if kind in PROTOBUF_TYPES:
        try:
            return message.FromString(body)
        except DecodeError as exc:
            raise OtlpError(400, f"malformed OTLP protobuf: {exc}") from None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OtlpError(400, f"malformed OTLP JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OtlpError(400, "malformed OTLP JSON: the body must be an object")
    _fix_json_ids(data)
    try:
        return json_format.ParseDict(data, message(), ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise OtlpError(400, f"malformed OTLP JSON: {exc}") from None


def log_batch(request: ExportLogsServiceRequest, project_id: str) -> LogBatch:
    batch = LogBatch(project_id)
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                trace_id, span_id = record.trace_id, record.span_id
                if len(trace_id) != 16 or len(span_id) != 8 or not any(trace_id) or not any(span_id):
                    batch.dropped += 1
                    continue
                when = record.time_unix_nano or record.observed_time_unix_nano
                batch.logs.append(SpanLog(trace_id, span_id, when, record.SerializeToString()))
    return batch


def metric_points(request: ExportMetricsServiceRequest) -> int:
    points = 0
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                which = metric.WhichOneof("data")
                if which is not None:
                    points += len(getattr(metric, which).data_points)
    return points


def log_json(body: bytes, iso: Callable[[int], str | None]) -> dict[str, Any]:
    """A stored log record as REST shows it with its span."""
    record = LogRecord.FromString(body)
    attributes = attributes_dict(record.attributes)
    name = getattr(record, "event_name", "") or attributes.get(EVENT_NAME_ATTRIBUTE) or None
    return {
        "name": name,
        "timestamp": iso(record.time_unix_nano or record.observed_time_unix_nano),
        "severity": record.severity_text or None,
        "body": to_python(record.body, json_form=True) if record.HasField("body") else None,
        "attributes": attributes,
    }
