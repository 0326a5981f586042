"""The SQLite store on a real database file: what a failed batch leaves behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel.collector.ingest import PreparedBatch, prepare
from agentops_otel.collector.store import SQLiteStore
from agentops_otel.collector.store.base import ListQuery
from tests.collector.conftest import SessionBuilder, otlp_request


@pytest.fixture
def store(tmp_path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "store.sqlite3")
    try:
        yield opened
    finally:
        opened.close()


def batch_of(project_id: str, session: SessionBuilder, tags: tuple[str, ...]) -> PreparedBatch:
    request = ExportTraceServiceRequest.FromString(otlp_request([session.root(tags=tags)]))
    return prepare(request, project_id)


def failing_batch(project_id: str) -> PreparedBatch:
    """A batch SQLite refuses half-way, after its span and resource rows (an end time past int64,
    which ingest never lets through)."""
    batch = batch_of(project_id, SessionBuilder.new(seed=90), ("never-stored",))
    batch.spans[0] = batch.spans[0]._replace(end_ns=2**64 - 1)
    return batch


def tags_listed(store: SQLiteStore, project_id: str) -> list[list[str]]:
    return [s["tags"] for s in store.list_sessions(project_id, ListQuery())["sessions"]]


def test_a_failed_first_batch_of_a_project_leaves_no_trace_for_the_next_project(store):
    with pytest.raises(OverflowError):
        store.write(failing_batch("project-a")).result(timeout=30)
    store.write(batch_of("project-b", SessionBuilder.new(seed=91), ("b",))).result(timeout=30)
    later = SessionBuilder.new(seed=92)
    store.write(batch_of("project-a", later, ("a",))).result(timeout=30)
    assert tags_listed(store, "project-b") == [["b"]]
    assert tags_listed(store, "project-a") == [["a"]]
    export = store.export("project-a", later.trace_id)
    assert export is not None and export["session"]["host_env"] == {"service.name": "test-agent"}, (
        "the resource row rolled back with the failed batch is written again"
    )
