"""OTLP/gRPC receiver (``TraceService/Export``), acknowledged after commit like OTLP/HTTP."""

from __future__ import annotations

from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentops_otel.collector.auth import key_from_headers
from agentops_otel.collector.core import Busy, Collector

COMMIT_TIMEOUT_S = 60


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def Export(self, request: ExportTraceServiceRequest, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        project_id = self.collector.project_for(key_from_headers(metadata))
        if project_id is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown API key (x-agentops-api-key)")
        try:
            batch, future = self.collector.submit(request, project_id)
            future.result(timeout=COMMIT_TIMEOUT_S)
        except Busy as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except Exception as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"could not store the spans: {type(exc).__name__}: {exc}")
        return self.collector.committed(request, batch)


def start_grpc(collector: Collector, host: str, port: int, max_message_bytes: int) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the bound port (``port`` 0 picks a free one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="agentops-otlp-grpc"),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(collector), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"could not bind OTLP/gRPC to {address}")
    server.start()
    return server, bound
