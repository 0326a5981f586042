"""Load shedding: a full collector refuses at once (503 + Retry-After, gRPC RESOURCE_EXHAUSTED + RetryInfo)
instead of queueing, OTLP exporters retry what it refused, and request bodies hold bounded memory.

A request is admitted as soon as its headers are read: one sent with ``Expect: 100-continue`` gets
its ``100 Continue`` once it holds its place, and then holds it for as long as the test keeps its
body back. That makes the collector full on demand, without depending on timing or load.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import psutil
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentops_otel.collector.admission import Admission, Busy
from agentops_otel.collector.process import CollectorProcess, start_collector
from tests.collector.conftest import KEY, SessionBuilder, otlp_request, post, stored_span_count

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class HeldRequest:
    """An OTLP/HTTP request on a raw socket whose body waits until :meth:`finish`."""

    def __init__(self, collector: CollectorProcess, body: bytes, length: int | None = None) -> None:
        self.body = body
        self.sock = socket.create_connection(("127.0.0.1", collector.http_port), timeout=60)
        head = (
            "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
            f"X-Agentops-Api-Key: {KEY}\r\nContent-Length: {len(body) if length is None else length}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        self._buffer = b""

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        """The next response on the socket: (status, headers, body); ``100`` once admitted."""
        while b"\r\n\r\n" not in self._buffer:
            self._read()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        length = int(headers.get("content-length", 0))
        while len(self._buffer) < length:
            self._read()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return status, headers, body

    def admitted(self) -> HeldRequest:
        status, _, _ = self.answer()
        assert status == 100, status
        return self

    def finish(self) -> int:
        self.sock.sendall(self.body)
        status, _, _ = self.answer()
        self.sock.close()
        return status

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the collector closed the connection")
        self._buffer += data


def refused(collector: CollectorProcess) -> int:
    status, body = collector.get("/v2/status", KEY)
    assert status == 200, body
    return body["ingest"]["requests_refused"]


def session_request(seed: int, spans: int = 3) -> tuple[bytes, int]:
    session = SessionBuilder.new(seed=seed)
    return otlp_request([session.llm("gpt-4o-mini", 10, 5) for _ in range(spans - 1)] + [session.root()]), spans


@contextmanager
def running(tmp_path: Path, *args: str) -> Iterator[CollectorProcess]:
    collector = start_collector(tmp_path / "collector", args=list(args))
    try:
        yield collector
    finally:
        collector.stop()


def test_a_full_collector_refuses_every_client_at_once_and_serves_them_when_they_retry(tmp_path):
    with running(tmp_path, "--max-requests", "2") as collector:
        held_body, held_spans = session_request(1)
        held = [HeldRequest(collector, held_body).admitted() for _ in range(2)]  # the same spans twice: stored once
        clients = 40
        first: list = [None] * clients
        bodies = [session_request(100 + i) for i in range(clients)]

        def client(i: int) -> None:
            first[i] = post(collector, bodies[i][0])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # full: every one answered 503 at once, with a delay to retry after and an OTLP Status body
        for answer in first:
            assert answer.status == 503, answer
            assert 1 <= int(answer.headers["retry-after"]) <= 3
            assert status_pb2.Status.FromString(answer.body).code == code_pb2.UNAVAILABLE
        assert refused(collector) == clients

        assert [request.finish() for request in held] == [200, 200]
        acknowledged, refusals = held_spans, clients

        def retry(i: int) -> None:  # as an exporter would (without the wait: not needed here)
            nonlocal acknowledged, refusals
            while True:
                answer = post(collector, bodies[i][0])
                if answer.status == 200:
                    acknowledged += bodies[i][1]
                    return
                assert answer.status == 503 and "retry-after" in answer.headers, answer
                refusals += 1

        threads = [threading.Thread(target=retry, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert stored_span_count(collector) == acknowledged == held_spans + sum(spans for _, spans in bodies)
        assert refused(collector) == refusals


def test_a_body_that_would_pass_the_memory_ceiling_is_refused_before_it_is_read(tmp_path):
    with running(tmp_path, "--max-body-memory", "1000000") as collector:
        big, big_spans = session_request(2, spans=4)
        padding = 700_000 - len(big)
        # a body of 700 kB (a valid request followed by an unknown field's bytes the decoder skips)
        held = HeldRequest(collector, big + _unknown_field(padding)).admitted()
        small, small_spans = session_request(3)
        too_much = HeldRequest(collector, small, length=400_000)
        status, headers, body = too_much.answer()  # the answer comes instead of "100 Continue"
        assert status == 503 and 1 <= int(headers["retry-after"]) <= 3, (status, body)
        assert b"request bytes" in body
        assert refused(collector) == 1
        fits = post(collector, small)  # what still fits is served meanwhile
        assert fits.status == 200
        assert held.finish() == 200
        assert stored_span_count(collector) == big_spans + small_spans
        assert refused(collector) == 1


def _unknown_field(size: int) -> bytes:
    """Protobuf bytes of field 15 (unknown to ExportTraceServiceRequest) that make ``size`` bytes in all."""
    from google.protobuf.internal.encoder import _VarintBytes

    tag = _VarintBytes(15 << 3 | 2)
    for header in range(1, 6):
        payload = size - len(tag) - header
        if len(_VarintBytes(payload)) == header:
            return tag + _VarintBytes(payload) + b"x" * payload
    raise ValueError(size)


def test_grpc_refusal_carries_retry_info(tmp_path):
    with running(tmp_path, "--max-requests", "1") as collector:
        body, _ = session_request(4)
        held = HeldRequest(collector, body).admitted()
        with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as channel:
            export = channel.unary_unary(EXPORT)
            with pytest.raises(grpc.RpcError) as caught:
                export(body, timeout=30, metadata=[("x-agentops-api-key", KEY)])
        error = caught.value
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(error.trailing_metadata())
        delay = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]).retry_delay
        assert 1 <= delay.seconds <= 3
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert status.code == code_pb2.RESOURCE_EXHAUSTED
        retry_info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry_info) and retry_info.retry_delay == delay
        assert refused(collector) == 1
        assert held.finish() == 200


def _sdk_spans(count: int) -> list:
    recorder = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "overload-test"}))
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    tracer = provider.get_tracer("overload-test")
    with tracer.start_as_current_span("session"):
        for i in range(count - 1):
            with tracer.start_as_current_span(f"step {i}"):
                pass
    provider.shutdown()
    return list(recorder.get_finished_spans())


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_otel_sdk_exporter_retries_what_a_full_collector_refused(tmp_path, protocol):
    with running(tmp_path, "--max-requests", "1") as collector:
        body, held_spans = session_request(5)
        held = HeldRequest(collector, body).admitted()
        headers = {"x-agentops-api-key": KEY}
        if protocol == "http":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces", headers=headers, timeout=60)
        else:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(
                endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True, headers=headers, timeout=60
            )
        spans = _sdk_spans(5)
        results: list = []
        exporting = threading.Thread(target=lambda: results.append(exporter.export(spans)))
        exporting.start()
        try:
            deadline = time.monotonic() + 60
            while refused(collector) == 0 and time.monotonic() < deadline:  # the exporter's first try
                time.sleep(0.05)
            assert refused(collector) >= 1
            assert held.finish() == 200  # room again: the exporter's next try goes through
            exporting.join(timeout=120)
            assert results == [SpanExportResult.SUCCESS]
        finally:
            exporting.join(timeout=120)
            exporter.shutdown()
        assert stored_span_count(collector) == held_spans + len(spans)


def _peak_rss(process: psutil.Process, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], process.memory_info().rss)
        except psutil.Error:
            return
        stop.wait(0.005)


def test_memory_held_by_request_bodies_has_a_ceiling_whatever_the_concurrency(tmp_path):
    size, clients = 6 * 2**20, 24
    with running(tmp_path, "--max-body-memory", str(8 * 2**20), "--max-body-bytes", str(8 * 2**20)) as collector:
        process = psutil.Process(collector.process.pid)
        warm = post(collector, session_request(6)[0])
        assert warm.status == 200
        base = process.memory_info().rss
        peak, stop = [base], threading.Event()
        watcher = threading.Thread(target=_peak_rss, args=(process, stop, peak))
        watcher.start()
        bodies = []
        for i in range(clients):
            request, spans = session_request(200 + i)
            bodies.append((request + _unknown_field(size - len(request)), spans))
        statuses: list[int] = []

        def client(i: int) -> None:
            while True:  # every body is sent whole: refused, it has been sent for nothing
                answer = post(collector, bodies[i][0])
                statuses.append(answer.status)
                if answer.status != 503:
                    return

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            stop.set()
            watcher.join()
        assert statuses.count(200) == clients and set(statuses) <= {200, 503}
        assert statuses.count(503) == refused(collector) > 0
        assert stored_span_count(collector) == 3 + sum(spans for _, spans in bodies)
        # 24 bodies of 6 MiB at once held 200 MiB and more; one or two at a time, a few dozen MiB
        grown = (peak[0] - base) / 2**20
        assert grown < 100, f"RSS grew by {grown:.0f} MiB"


def test_requests_are_refused_while_the_oldest_at_work_has_waited_past_the_target():
    """The rule itself (the collector's requests take what the machine gives them: no timing here).
    A target of -1 s has always passed once a request is at work; before that, only the caps count."""
    admission = Admission(max_requests=10, max_bytes=1000, min_requests=2, target_s=-1.0)
    first, second = admission.enter(10), admission.enter(10)
    third = admission.enter(10)  # nothing at work yet: admitted
    admission.begin(first)
    with pytest.raises(Busy, match="wait"):
        admission.enter(10)
    assert 1 <= Busy("x").retry_after <= 3
    admission.leave(first)  # the one at work answered: room again
    fourth = admission.enter(10)
    for ticket in (second, third, fourth):
        admission.begin(ticket)
        admission.leave(ticket)
    assert (admission.requests, admission.bytes) == (0, 0)
    below_min = Admission(max_requests=10, max_bytes=1000, min_requests=2, target_s=-1.0)
    at_work = below_min.enter(10)
    below_min.begin(at_work)
    below_min.enter(10)  # fewer than min_requests in flight: admitted however long the other takes
