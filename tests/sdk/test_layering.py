"""The import graph: a Session gets its tracer and pipeline when it is created, never from the Client."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentops_otel
from agentops_otel.config import Configuration
from agentops_otel.session import Session, SessionWiring

PACKAGE = Path(agentops_otel.__file__).parent


def imported_modules(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_session_and_export_do_not_import_the_client() -> None:
    for module in ("session", "export"):
        assert "agentops_otel.client" not in imported_modules(module), module


def test_a_session_runs_on_the_wiring_it_is_given() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    pipeline = SimpleSpanProcessor(exporter)
    provider.add_span_processor(pipeline)
    tracer = provider.get_tracer("test")
    ended: list[Session] = []
    flushed: list[float] = []

    def start_root(trace_id: int, span_id: int, attributes: dict, start_ns: int):  # type: ignore[no-untyped-def]
        return tracer.start_span("session", attributes=attributes, start_time=start_ns)

    wiring = SessionWiring(
        tracer=tracer,
        recording=True,
        host_data_in_resource=True,
        pipeline=pipeline,
        start_root=start_root,
        ended=ended.append,
        flush=lambda _pipeline, timeout_s: flushed.append(timeout_s) or True,
    )
    session = Session(wiring, Configuration(max_wait_time=1500), ["t"], uuid.uuid4(), inherited=False)
    session.record(agentops_otel.ActionEvent(action_type="step"))
    session.end_session("Success")
    assert ended == [session]
    assert flushed == [1.5]
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["session", "step"]
