"""OTLP logs and metrics, accepted as the OTLP specification says (``POST /v1/logs``,
``POST /v1/metrics``; gRPC ``LogsService/Export``, ``MetricsService/Export``), so that an
instrumentation exporting all three signals to the collector (OpenLIT's default setup) gets no
errors.

- **Logs**: a record carrying a trace id and a span id (the GenAI events the official OpenTelemetry
  instrumentations send, ``gen_ai.*`` event names with message content) is stored with its session
  and shown with its span (``logs`` of the span in ``/export``, ``/spans`` and the dashboard),
  whether it arrives before or after the span. Records without both ids are counted and dropped.
- **Metrics**: counted (data points) and dropped: tokens and cost come from the spans, and the
  collector keeps no time series; send metrics to a metrics backend to keep them.

Both answer like ``/v1/traces``: the API key, content types, compression, size limit and errors are
the same, and a logs request is acknowledged once its records are committed.
"""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentops_otel.collector.auth import key_from_headers
from agentops_otel.collector.core import Busy, Collector
from agentops_otel.collector.otlp import PROTOBUF_TYPES, OtlpError, check_media_type, decompress, media_type
from agentops_otel.collector.receiver_http import error, read_limited
from agentops_otel.collector.span_logs import LogBatch, decode, log_batch, metric_points

LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
COMMIT_TIMEOUT_S = 60


def _store_logs(collector: Collector, batch: LogBatch):
    """Queue the batch's records; the future resolves once committed (None when there is nothing)."""
    collector.count(batch.project_id, log_records_dropped=batch.dropped)
    if not batch.logs:
        return None
    try:
        return collector.store.write_logs(batch)
    except Exception as exc:  # queue.Full: the writer is behind
        raise Busy("the collector is busy storing earlier requests; retry later") from exc


def routes(collector: Collector, max_body_bytes: int) -> list[Route]:
    async def receive(request: Request, message: type[Message], handle) -> Response:
        protobuf = media_type(request.headers.get("content-type")) in PROTOBUF_TYPES
        project_id = collector.project_for(key_from_headers(request.headers))
        if project_id is None:
            message_text = "missing or unknown API key (send X-Agentops-Api-Key or Authorization: Bearer)"
            return error(401, message_text, protobuf=protobuf)
        try:
            kind = check_media_type(request.headers.get("content-type"))
            body = await read_limited(request, max_body_bytes)
            decoded = decode(decompress(body, request.headers.get("content-encoding"), max_body_bytes), kind, message)
            response = await handle(decoded, project_id)
        except OtlpError as exc:
            return error(exc.status, exc.message, protobuf=protobuf)
        except Busy as exc:
            return error(503, str(exc), {"Retry-After": "1"}, protobuf=protobuf)
        except Exception as exc:
            return error(503, f"could not store the records: {type(exc).__name__}: {exc}", {"Retry-After": "1"})
        if kind in PROTOBUF_TYPES:
            return Response(response.SerializeToString(), media_type="application/x-protobuf")
        return Response(json_format.MessageToJson(response, indent=None), media_type="application/json")

    async def logs_handle(decoded: ExportLogsServiceRequest, project_id: str) -> ExportLogsServiceResponse:
        batch = log_batch(decoded, project_id)
        future = _store_logs(collector, batch)
        if future is not None:
            await asyncio.wrap_future(future)
            collector.count(project_id, log_records_stored=len(batch.logs))
        return ExportLogsServiceResponse()

    async def metrics_handle(decoded: ExportMetricsServiceRequest, project_id: str) -> ExportMetricsServiceResponse:
        collector.count(project_id, metric_points_dropped=metric_points(decoded))
        return ExportMetricsServiceResponse()

    async def logs(request: Request) -> Response:
        return await receive(request, ExportLogsServiceRequest, logs_handle)

    async def metrics(request: Request) -> Response:
        return await receive(request, ExportMetricsServiceRequest, metrics_handle)

    return [Route("/v1/logs", logs, methods=["POST"]), Route("/v1/metrics", metrics, methods=["POST"])]


def grpc_handlers(collector: Collector) -> tuple[grpc.GenericRpcHandler, ...]:
    def project(context: grpc.ServicerContext) -> str:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        project_id = collector.project_for(key_from_headers(metadata))
        if project_id is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown API key (x-agentops-api-key)")
        return project_id

    def export_logs(request: ExportLogsServiceRequest, context: grpc.ServicerContext) -> ExportLogsServiceResponse:
        project_id = project(context)
        batch = log_batch(request, project_id)
        try:
            future = _store_logs(collector, batch)
            if future is not None:
                future.result(timeout=COMMIT_TIMEOUT_S)
                collector.count(project_id, log_records_stored=len(batch.logs))
        except Busy as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except Exception as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"could not store the records: {type(exc).__name__}: {exc}")
        return ExportLogsServiceResponse()

    def export_metrics(
        request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        collector.count(project(context), metric_points_dropped=metric_points(request))
        return ExportMetricsServiceResponse()

    logs = grpc.unary_unary_rpc_method_handler(
        export_logs,
        request_deserializer=ExportLogsServiceRequest.FromString,
        response_serializer=ExportLogsServiceResponse.SerializeToString,
    )
    metrics = grpc.unary_unary_rpc_method_handler(
        export_metrics,
        request_deserializer=ExportMetricsServiceRequest.FromString,
        response_serializer=ExportMetricsServiceResponse.SerializeToString,
    )
    return (
        grpc.method_handlers_generic_handler(LOGS_SERVICE, {"Export": logs}),
        grpc.method_handlers_generic_handler(METRICS_SERVICE, {"Export": metrics}),
    )
