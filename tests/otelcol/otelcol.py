"""The real OpenTelemetry Collector running ``otel-collector.yaml``, for tests and benchmarks.

:func:`otelcol_binary` finds the build the way ``.ci/run`` makes it (``scripts/build-otelcol.sh``,
cached outside the repository, built when missing). :class:`Otelcol` starts the binary on free
ports with the checked-in YAML plus an overlay that adds a file exporter, and reads back the spans
it wrote as plain dicts ``{"name", "trace_id", "span_id", "attributes": {...}, "resource": {...}}``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / "otel-collector.yaml"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-otelcol.sh"
FILE_EXPORTER = "file/test"

Span = dict[str, Any]


# A build on a small machine takes minutes (the Go modules downloaded, then compiled).
BUILD_TIMEOUT_S = 30 * 60


class BinaryUnavailable(RuntimeError):
    """No collector binary, and no Go to build one (tests skip unless CI=true)."""


def otelcol_binary(env: dict[str, str] | None = None, timeout: float = BUILD_TIMEOUT_S) -> Path:
    """Path of the collector build; builds it (minutes) when the cache has none."""
    env = {**os.environ, **(env or {})}
    try:
        result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"scripts/build-otelcol.sh did not finish within {timeout:.0f} s") from exc
    if result.returncode == 0:
        return Path(result.stdout.strip().splitlines()[-1])
    if shutil.which("go", path=env.get("PATH")) is None:
        raise BinaryUnavailable("Go is not installed, so the OpenTelemetry Collector cannot be built")
    raise RuntimeError(f"scripts/build-otelcol.sh failed:\n{result.stderr[-4000:]}")


def cached_otelcol_binary(env: dict[str, str] | None = None) -> Path | None:
    """Path of the collector build when the cache has it (never builds)."""
    command = ["bash", str(BUILD_SCRIPT), "--cached"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    return Path(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as Python (intValue is a string in OTLP/JSON)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def _attributes(key_values: list[dict[str, Any]]) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in key_values}


def read_spans(path: Path) -> list[Span]:
    """Spans the file exporter wrote (one OTLP/JSON ExportTraceServiceRequest per line)."""
    if not path.exists():
        return []
    spans = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:  # a line being written right now
            continue
        for resource_spans in request.get("resourceSpans", []):
            resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    spans.append(
                        {
                            "name": span["name"],
                            "trace_id": span.get("traceId", ""),
                            "span_id": span.get("spanId", ""),
                            "attributes": _attributes(span.get("attributes", [])),
                            "resource": resource,
                        }
                    )
    return spans


class Otelcol:
    """``otelcol-agentops --config otel-collector.yaml --config <overlay>`` on free ports."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        *,
        exporters: Sequence[str] = (FILE_EXPORTER,),
        env: dict[str, str] | None = None,
        overlay: str = "",
        config: Path = CONFIG,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.spans_path = workdir / "spans.json"
        self.log_path = workdir / "otelcol.log"
        overlay_path = workdir / "overlay.yaml"
        overlay_path.write_text(
            f"exporters:\n  {FILE_EXPORTER}:\n    path: {self.spans_path}\n    format: json\n"
            f"    flush_interval: 100ms\n{overlay}"
        )
        self.env = {
            **os.environ,
            "AGENTOPS_OTELCOL_EXPORTERS": "[" + ", ".join(exporters) + "]",
            "AGENTOPS_OTELCOL_STORAGE_DIR": str(workdir / "storage"),  # the exporters' persistent queues
            **(env or {}),
        }
        self._pick_ports()
        self.command = [str(binary), "--config", str(config), "--config", str(overlay_path)]
        self.process: subprocess.Popen | None = None

    def _pick_ports(self) -> None:
        self.grpc_port, self.http_port, self.metrics_port = free_port(), free_port(), free_port()
        self.env.update(
            AGENTOPS_OTELCOL_GRPC_ENDPOINT=f"127.0.0.1:{self.grpc_port}",
            AGENTOPS_OTELCOL_HTTP_ENDPOINT=f"127.0.0.1:{self.http_port}",
            AGENTOPS_OTELCOL_METRICS_PORT=str(self.metrics_port),
        )

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, timeout: float = 60, attempts: int = 5) -> Otelcol:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while True:  # ready once both receivers accept connections
            if self.process.poll() is not None:
                # A free port is only free until someone else binds it (other test runs share the
                # machine): take new ones rather than fail.
                if "address already in use" in self.log() and attempts > 1:
                    self.log_path.unlink()
                    self._pick_ports()
                    return self.start(timeout, attempts - 1)
                raise RuntimeError(f"otelcol exited with {self.process.returncode}:\n{self.log()}")
            if all(_accepts(port) for port in (self.http_port, self.grpc_port)):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"otelcol not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: the collector drains its pipeline and exits
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no chance to drain or flush anything (what it acknowledged must be on disk)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def spans(self) -> list[Span]:
        return read_spans(self.spans_path)

    def wait_for(self, predicate: Callable[[list[Span]], bool], timeout: float = 60) -> list[Span]:
        """Poll the file exporter's output until ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise TimeoutError(f"collector output never satisfied the test ({len(spans)} spans):\n{self.log()}")
            time.sleep(0.1)

    def wait_for_names(self, names: Sequence[str], timeout: float = 60) -> dict[str, Span]:
        wanted = set(names)
        spans = self.wait_for(lambda found: wanted <= {s["name"] for s in found}, timeout)
        return {s["name"]: s for s in spans if s["name"] in wanted}

    def __enter__(self) -> Otelcol:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def validate(binary: Path, config: Path = CONFIG, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``otelcol validate`` of a config (exit status 0 when valid)."""
    return subprocess.run(
        [str(binary), "validate", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def send_spans(
    endpoint: str, spans: Sequence[tuple[str, dict[str, Any]]], *, grpc: bool = False, headers: dict | None = None
) -> None:
    """Send hand-made spans ``(name, attributes)`` through the OTel SDK's OTLP exporter, then flush."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        exporter: Any = GrpcExporter(endpoint=endpoint, insecure=True, headers=headers)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        exporter = HttpExporter(endpoint=endpoint + "/v1/traces", headers=headers)
    provider = TracerProvider(resource=Resource.create({"service.name": "otelcol-test"}))
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=max(len(spans), 512), max_export_batch_size=512)
    )
    tracer = provider.get_tracer("tests.otelcol")
    try:
        for name, attributes in spans:
            tracer.start_span(name, attributes=attributes).end()
        assert provider.force_flush(60_000), "spans not flushed to the collector"
    finally:
        provider.shutdown()


def attribute_differences(
    actual: dict[str, Any], expected: dict[str, Any], tolerance: float = 1e-12, relative: float = 0.0
) -> list[str]:
    """How two attribute maps differ: keys, types (int vs double), values (doubles within ``tolerance``,
    or within ``relative`` of the expected value when that is larger: costs of counts near 2**63)."""
    problems = [f"missing {k}={expected[k]!r}" for k in expected.keys() - actual.keys()]
    problems += [f"unexpected {k}={actual[k]!r}" for k in actual.keys() - expected.keys()]
    for key in actual.keys() & expected.keys():
        got, want = actual[key], expected[key]
        if type(got) is not type(want):
            problems.append(f"{key}: {got!r} ({type(got).__name__}) != {want!r} ({type(want).__name__})")
        elif isinstance(want, float):
            if abs(got - want) > max(tolerance, relative * abs(want)):
                problems.append(f"{key}: {got!r} != {want!r} (off by {abs(got - want):.3g})")
        elif got != want:
            problems.append(f"{key}: {got!r} != {want!r}")
    return sorted(problems)
