"""OTLP/gRPC receiver (``TraceService/Export``), acknowledged after commit like OTLP/HTTP."""

from __future__ import annotations

from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentops_otel.collector.auth import key_from_headers
from agentops_otel.collector.core import Busy, Collector
from agentops_otel.collector.ingest import prepare
from agentops_otel.collector.otlp import OtlpError, decode_request

COMMIT_TIMEOUT_S = 60
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
PROTOBUF = "application/x-protobuf"  # what a gRPC request body is


class _TraceService:
    """``TraceService/Export`` over the request's bytes: ingest workers decode them off this process."""

    def __init__(self, collector: Collector, max_message_bytes: int) -> None:
        self.collector = collector
        self.max_message_bytes = max_message_bytes

    def Export(self, body: bytes, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        collector = self.collector
        project_id = collector.project_for(key_from_headers(metadata))
        if project_id is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown API key (x-agentops-api-key)")
        request: ExportTraceServiceRequest | bytes | None
        try:
            if collector.workers is not None:
                batch, request = collector.workers.prepare_blocking(
                    body, PROTOBUF, None, self.max_message_bytes, project_id, collector.forwarder is not None
                )  # the enriched request serialized, forwarded as it is
            else:
                request = decode_request(body, PROTOBUF)
                batch = prepare(request, project_id)
            result = collector.store_batch(batch).result(timeout=COMMIT_TIMEOUT_S)
        except OtlpError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        except Busy as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except Exception as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"could not store the spans: {type(exc).__name__}: {exc}")
        return collector.committed(request, batch, result)


def start_grpc(collector: Collector, host: str, port: int, max_message_bytes: int) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the bound port (``port`` 0 picks a free one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="agentops-otlp-grpc"),
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
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"could not bind OTLP/gRPC to {address}")
    server.start()
    return server, bound
