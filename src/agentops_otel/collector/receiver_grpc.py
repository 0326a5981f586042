"""OTLP/gRPC receiver (``TraceService/Export``), acknowledged after commit like OTLP/HTTP."""

from __future__ import annotations

from concurrent import futures

import grpc
from google.protobuf import any_pb2
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)

from agentops_otel.collector.core import Busy, Collector
from agentops_otel.collector.otlp import OtlpError
from agentops_otel.collector.signals import grpc_handlers

COMMIT_TIMEOUT_S = 60
THREADS = 8
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
PROTOBUF = "application/x-protobuf"  # what a gRPC request body is


def refuse_busy(context: grpc.ServicerContext, message: str, retry_after: int) -> None:
    """RESOURCE_EXHAUSTED with a ``RetryInfo``: the OTLP spec's signal that the client may retry after
    that delay (without it, RESOURCE_EXHAUSTED means "never retry"). It is sent both as the status
    details (``grpc-status-details-bin``) and on its own (``google.rpc.retryinfo-bin``, which the
    Python exporter reads); UNAVAILABLE would also make that exporter reconnect before retrying."""
    retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after))
    detail = any_pb2.Any()
    detail.Pack(retry)
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message, details=[detail])
    context.set_trailing_metadata(
        (
            ("grpc-status-details-bin", status.SerializeToString()),
            ("google.rpc.retryinfo-bin", retry.SerializeToString()),
        )
    )
    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


class _TraceService:
    """``TraceService/Export`` over the request's bytes: ingest workers decode them off this process."""

    def __init__(self, collector: Collector, max_message_bytes: int) -> None:
        self.collector = collector
        self.max_message_bytes = max_message_bytes

    def Export(self, body: bytes, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        collector = self.collector
        project_id = collector.ingest_project(metadata)
        if project_id is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown API key (x-agentops-api-key)")
        ticket = None
        try:
            # gRPC reads the whole message before this runs (in at most ``THREADS`` calls at once)
            ticket = collector.admit(project_id, len(body))
            collector.admission.begin(ticket)
            batch, request = collector.workers.prepare_blocking(
                body, PROTOBUF, None, self.max_message_bytes, project_id, collector.forwarder is not None
            )  # request: the enriched request serialized (when forwarding), forwarded as it is
            collector.hold(project_id, ticket, batch.size)
            result = collector.store_batch(batch).result(timeout=COMMIT_TIMEOUT_S)
        except OtlpError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        except Busy as exc:
            refuse_busy(context, str(exc), exc.retry_after)
        except Exception as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"could not store the spans: {type(exc).__name__}: {exc}")
        finally:
            if ticket is not None:
                collector.admission.leave(ticket)
        return collector.committed(request, batch, result)


def start_grpc(collector: Collector, host: str, port: int, max_message_bytes: int) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the bound port (``port`` 0 picks a free one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="agentops-otlp-grpc"),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    export = grpc.unary_unary_rpc_method_handler(
        _TraceService(collector, max_message_bytes).Export,
        request_deserializer=None,  # the bytes as they came: decoded where they are prepared
        response_serializer=ExportTraceServiceResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": export}),))
    server.add_generic_rpc_handlers(grpc_handlers(collector))  # logs and metrics (signals.py)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"could not bind OTLP/gRPC to {address}")
    server.start()
    return server, bound
