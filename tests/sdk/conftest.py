"""Fixtures for the SDK tests: a fresh Client per test, in-memory export, a real OTLP sink process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentops_otel
from agentops_otel import client as client_module
from agentops_otel.config import INHERITED_SESSION_ENV
from tests.conftest import (
    clean_env,  # noqa: F401 (autouse everywhere from tests/conftest.py; other areas import it from here)
    sdk_free_env,
)
from tests.support.otlp_sink import REPO_ROOT, OtlpSink

CHILD_APP = Path(__file__).with_name("child_app.py")
_SDK_ENV_PREFIXES = ("AGENTOPS_", "OTEL_")


class InMemorySdk:
    """A fresh, initialised Client exporting to memory through its own (non-global) TracerProvider."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.client = client_module.Client()

    def init(self, **kwargs: object) -> agentops_otel.Session | None:
        kwargs.setdefault("instrument_llm_calls", False)
        kwargs.setdefault("exit_handlers", False)
        return agentops_otel.init(tracer_provider=self.provider, exporter=self.exporter, **kwargs)

    def spans(self) -> list[ReadableSpan]:
        self.client.flush_all(10)
        return list(self.exporter.get_finished_spans())

    def by_name(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]


@pytest.fixture
def sdk() -> Iterator[InMemorySdk]:
    env_before = os.environ.get(INHERITED_SESSION_ENV)
    context_before = otel_context.get_current()
    harness = InMemorySdk()
    previous = client_module.set_client(harness.client)
    try:
        yield harness
    finally:
        harness.client.shutdown()
        client_module.set_client(previous)
        otel_context.attach(context_before)  # a session left running stays current otherwise
        if env_before is None:
            os.environ.pop(INHERITED_SESSION_ENV, None)
        else:
            os.environ[INHERITED_SESSION_ENV] = env_before


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


def refused_endpoint() -> str:
    """A 127.0.0.1 URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A 127.0.0.1 URL that accepts connections and never answers (a hung collector)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def child_env(**extra: str) -> dict[str, str]:
    env = sdk_free_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_child(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD_APP), *args],
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


@pytest.fixture
def children() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``children(*args, **env)`` starts child_app.py; every child still running at teardown is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **env: str) -> subprocess.Popen[str]:
        process = _start_child(*args, **env)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
            for stream in (process.stdout, process.stderr):
                if stream:
                    stream.close()


def _start_child(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD_APP), *args],
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
