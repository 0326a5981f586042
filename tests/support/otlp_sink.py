"""A real OTLP/HTTP trace receiver, run in its own process on 127.0.0.1, for tests and benchmarks.

``python -m tests.support.otlp_sink`` listens on a free port, prints ``PORT <n>``, decodes every
``POST /v1/traces`` (protobuf, optionally gzip) with opentelemetry-proto and keeps the spans in
memory. Tests read them back over HTTP: ``GET /spans[?trace_id=<hex>]`` (JSON) and ``GET /count``.
It also receives OTLP/gRPC on a second port (``PORT <http> <grpc>``).
``--delay S`` answers every HTTP export after S seconds (a slow collector).

:class:`OtlpSink` starts and stops that process and reads the spans as plain dicts::

    {"trace_id": hex, "span_id": hex, "parent_span_id": hex or "", "name", "kind", "start_ns",
     "end_ns", "attributes": {...}, "status": {"code", "message"}, "events": [...],
     "resource": {...}, "scope": name, "api_key": X-Agentops-Api-Key of the request}
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]

Span = dict[str, Any]


# --- decoding (in the sink process) -----------------------------------------------------------
def _any_value(value: Any) -> Any:
    field = value.WhichOneof("value")
    if field is None:
        return None
    raw = getattr(value, field)
    if field == "array_value":
        return [_any_value(v) for v in raw.values]
    if field == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in raw.values}
    if field == "bytes_value":
        return raw.hex()
    return raw


def _attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in key_values}


def decode_request(body: bytes, api_key: str | None) -> list[Span]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return decode_message(request, api_key)


def decode_message(request: Any, api_key: str | None) -> list[Span]:
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "attributes": _attributes(span.attributes),
                        "status": {"code": span.status.code, "message": span.status.message},
                        "events": [{"name": e.name, "attributes": _attributes(e.attributes)} for e in span.events],
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                        "api_key": api_key,
                    }
                )
    return spans


def serve(delay: float) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    spans: list[Span] = []
    requests = [0]
    lock = threading.Lock()
    ok_body = ExportTraceServiceResponse().SerializeToString()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if urlsplit(self.path).path != "/v1/traces":
                self._reply(404, b"not found", "text/plain")
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            try:
                decoded = decode_request(body, self.headers.get("X-Agentops-Api-Key"))
            except Exception as error:
                self._reply(400, str(error).encode(), "text/plain")
                return
            if delay:
                time.sleep(delay)
            with lock:
                spans.extend(decoded)
                requests[0] += 1
            self._reply(200, ok_body, "application/x-protobuf")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            with lock:
                if url.path == "/count":
                    payload: Any = {"spans": len(spans), "requests": requests[0]}
                elif url.path == "/spans":
                    trace_id = parse_qs(url.query).get("trace_id", [None])[0]
                    payload = [s for s in spans if trace_id is None or s["trace_id"] == trace_id]
                else:
                    self._reply(404, b"not found", "text/plain")
                    return
            self._reply(200, json.dumps(payload).encode(), "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    grpc_port = _serve_grpc(spans, requests, lock)
    print(f"PORT {server.server_address[1]} {grpc_port}", flush=True)
    server.serve_forever()


def _serve_grpc(spans: list[Span], requests: list[int], lock: threading.Lock) -> int:
    """OTLP/gRPC on another free port, into the same span list."""
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            metadata = dict(context.invocation_metadata())
            decoded = decode_message(request, metadata.get("x-agentops-api-key"))
            with lock:
                spans.extend(decoded)
                requests[0] += 1
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    _grpc_servers.append(server)  # keep it alive
    return port


_grpc_servers: list[Any] = []


# --- the test side ----------------------------------------------------------------------------
class OtlpSink:
    """Runs the sink in a child process; ``endpoint`` is its base URL (``/v1/traces`` is appended by the SDK)."""

    def __init__(self, delay: float = 0.0) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.otlp_sink", "--delay", str(delay)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            text=True,
        )
        try:
            line = self._read_port_line(timeout=30)
            self.port, self.grpc_port = (int(p) for p in line.split()[1:3])
        except BaseException:
            self.close()
            raise
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.grpc_endpoint = f"http://127.0.0.1:{self.grpc_port}"

    def _read_port_line(self, timeout: float) -> str:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self._process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not result or not result[0].startswith("PORT "):
            raise RuntimeError(f"OTLP sink did not start (got {result!r})")
        return result[0]

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.endpoint}{path}", timeout=30) as response:
            return json.loads(response.read())

    def count(self) -> int:
        return self._get("/count")["spans"]

    def spans(self, trace_id: str | None = None) -> list[Span]:
        return self._get("/spans" + (f"?trace_id={trace_id}" if trace_id else ""))

    def wait_for(
        self, predicate: Callable[[list[Span]], bool], timeout: float = 30, trace_id: str | None = None
    ) -> list[Span]:
        """Poll until ``predicate(spans)`` holds; returns the spans (or raises TimeoutError with what arrived)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(trace_id)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s; {len(spans)} spans received")
            time.sleep(0.05)

    def wait_for_count(self, n: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while (count := self.count()) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {n} spans received within {timeout}s")
            time.sleep(0.05)
        return count

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=30)
        if self._process.stdout:
            self._process.stdout.close()

    def __enter__(self) -> OtlpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def trace_hex(session_id: str) -> str:
    """A session id (UUID string) as the trace id hex the sink reports."""
    return session_id.replace("-", "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0)
    serve(parser.parse_args().delay)
