"""OTLP/HTTP receiver: ``POST /v1/traces`` (protobuf or JSON, gzip/deflate), acknowledged after commit."""

from __future__ import annotations

import asyncio

from google.protobuf import json_format
from google.rpc import status_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentops_otel.collector.core import Busy, Collector
from agentops_otel.collector.otlp import (
    PROTOBUF_TYPES,
    OtlpError,
    check_media_type,
    media_type,
)

# gRPC status codes for the google.rpc.Status body OTLP/HTTP wants on protobuf errors
_RPC_CODES = {400: 3, 401: 16, 413: 3, 415: 3, 503: 14}


def error(status: int, message: str, headers: dict[str, str] | None = None, *, protobuf: bool = False) -> Response:
    """An error answer: a protobuf ``google.rpc.Status`` for protobuf clients (OTLP/HTTP), else JSON."""
    if protobuf:
        body = status_pb2.Status(code=_RPC_CODES.get(status, 2), message=message).SerializeToString()
        return Response(body, status_code=status, headers=headers, media_type="application/x-protobuf")
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def declared_length(request: Request, limit: int) -> int:
    """The body's declared ``Content-Length`` (0 when not declared); 413 when it is over ``limit``."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return 0
    if int(declared) > limit:
        raise OtlpError(413, f"body of {declared} bytes is larger than the limit of {limit} bytes")
    return int(declared)


async def read_limited(request: Request, limit: int, held=None) -> bytes:
    """The request body, refusing (413) as soon as it grows past ``limit`` bytes. ``held(size)``
    is told the size read so far after each chunk (raising :class:`Busy` refuses the rest)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OtlpError(413, f"body is larger than the limit of {limit} bytes")
        if held is not None:
            held(size)
        chunks.append(chunk)
    return b"".join(chunks)


def traces_endpoint(collector: Collector, max_body_bytes: int):
    workers = collector.workers

    async def traces(request: Request) -> Response:
        protobuf = media_type(request.headers.get("content-type")) in PROTOBUF_TYPES
        project_id = collector.ingest_project(request.headers)
        if project_id is None:
            message = "missing or unknown API key (send X-Agentops-Api-Key or Authorization: Bearer)"
            return error(401, message, protobuf=protobuf)
        ticket = None
        try:
            kind = check_media_type(request.headers.get("content-type"))
            # admitted or refused before a byte of the body is read
            ticket = collector.admit(project_id, declared_length(request, max_body_bytes))
            body = await read_limited(request, max_body_bytes, lambda size: collector.hold(project_id, ticket, size))
            collector.admission.begin(ticket)
            encoding = request.headers.get("content-encoding")
            forwarding = collector.forwarder is not None
            batch, message = await workers.prepare(body, kind, encoding, max_body_bytes, project_id, forwarding)
            collector.hold(project_id, ticket, batch.size)  # a compressed body holds more once decoded
            # message: the enriched request serialized (when forwarding), forwarded as it is
            result = await asyncio.wrap_future(collector.store_batch(batch))
        except OtlpError as exc:
            return error(exc.status, exc.message, protobuf=protobuf)
        except Busy as exc:
            return error(503, str(exc), {"Retry-After": str(exc.retry_after)}, protobuf=protobuf)
        except Exception as exc:  # the store failed to commit: nothing was acknowledged
            problem = f"could not store the spans: {type(exc).__name__}: {exc}"
            return error(503, problem, {"Retry-After": "1"}, protobuf=protobuf)
        finally:
            if ticket is not None:
                collector.admission.leave(ticket)
        response = collector.committed(message, batch, result)
        if kind in PROTOBUF_TYPES:
            return Response(response.SerializeToString(), media_type="application/x-protobuf")
        return Response(json_format.MessageToJson(response, indent=None), media_type="application/json")

    return traces
