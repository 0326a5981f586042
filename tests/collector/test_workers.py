"""Ingest worker processes: they prepare OTLP/HTTP requests, may die without losing one, never outlive the collector."""

from __future__ import annotations

import time

import grpc
import psutil
import pytest

from agentops_otel.collector.process import CollectorProcess, start_collector
from tests.collector.conftest import KEY, SessionBuilder, otlp_request, post, stored_span_count


def workers_of(collector: CollectorProcess, expected: int, timeout: float = 30) -> list[psutil.Process]:
    """The collector's worker processes, once ``expected`` of them run."""
    deadline = time.monotonic() + timeout
    while True:
        workers = [c for c in children_of(collector) if "spawn_main" in " ".join(c.cmdline())]
        if len(workers) == expected or time.monotonic() > deadline:
            return workers
        time.sleep(0.05)


GARBAGE = b"\x0a\xff\xff\xff\xff\x0f garbage"


def export_grpc(collector: CollectorProcess, body: bytes) -> grpc.RpcError | None:
    """Send ``body`` as it is to TraceService/Export; the error, or None when accepted."""
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            export(body, timeout=30, metadata=[("x-agentops-api-key", KEY)])
        except grpc.RpcError as exc:
            return exc
    return None


def children_of(collector: CollectorProcess) -> list[psutil.Process]:
    """Every process the collector started: its workers and multiprocessing's resource tracker."""
    return psutil.Process(collector.process.pid).children(recursive=True)


def wait_gone(processes: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


@pytest.mark.parametrize("workers", [0, 2])
def test_requests_are_prepared_alike_with_and_without_workers(tmp_path, workers):
    collector = start_collector(tmp_path / "c", args=["--ingest-workers", str(workers)])
    try:
        assert len(workers_of(collector, workers)) == workers
        session = SessionBuilder.new(seed=41)
        answer = post(collector, otlp_request([session.llm("gpt-4o-mini", 1000, 200), session.root()]))
        assert answer.status == 200
        status, stats = collector.get(f"/v2/sessions/{session.session_id}/stats", KEY)
        assert status == 200 and stats["llm_calls"] == 1 and float(stats["cost"]) > 0
        malformed = post(collector, GARBAGE)  # the error crosses the process boundary
        assert malformed.status == 400 and b"malformed OTLP protobuf" in malformed.body

        # gRPC requests are handed to the workers undecoded too
        grpc_session = SessionBuilder.new(seed=44)
        assert export_grpc(collector, otlp_request([grpc_session.llm("gpt-4o", 500, 50), grpc_session.root()])) is None
        status, stats = collector.get(f"/v2/sessions/{grpc_session.session_id}/stats", KEY)
        assert status == 200 and stats["llm_calls"] == 1 and float(stats["cost"]) > 0
        error = export_grpc(collector, GARBAGE)
        assert error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "malformed OTLP protobuf" in error.details()
        assert stored_span_count(collector) == 4
    finally:
        collector.stop()


def test_a_killed_worker_loses_no_request_and_is_replaced(tmp_path):
    collector = start_collector(tmp_path / "c", args=["--ingest-workers", "1"])
    try:
        (worker,) = workers_of(collector, 1)
        worker.kill()
        assert not wait_gone([worker])
        for seed in (42, 43):  # the first is prepared in process while a new worker starts
            session = SessionBuilder.new(seed=seed)
            assert post(collector, otlp_request([session.llm("gpt-4o-mini", 10, 2), session.root()])).status == 200
        assert stored_span_count(collector) == 4
        (replacement,) = workers_of(collector, 1)
        assert replacement.pid != worker.pid
        assert "an ingest worker died" in collector.log_path.read_text()
    finally:
        collector.stop()


def test_workers_end_with_the_collector_stopped_or_killed(tmp_path):
    stopped = start_collector(tmp_path / "a", args=["--ingest-workers", "2"])
    assert len(workers_of(stopped, 2)) == 2
    children = children_of(stopped)
    assert stopped.stop() == 0
    assert not wait_gone(children), "a stopped collector's processes exit with it"

    killed = start_collector(tmp_path / "b", args=["--ingest-workers", "2"])
    assert len(workers_of(killed, 2)) == 2
    children = children_of(killed)
    killed.kill()  # kill -9: no chance to shut the pool down
    alive = wait_gone(children)
    for process in alive:
        process.kill()
    assert not alive, "the workers of a killed collector exit on their own"
