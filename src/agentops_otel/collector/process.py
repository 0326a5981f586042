"""Run a collector in a child process and wait until it serves (quickstart, tests, benchmarks)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CollectorProcess:
    process: subprocess.Popen
    http_port: int
    grpc_port: int | None
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "agentops.sqlite3"

    def get(self, path: str, api_key: str | None, timeout: float = 30) -> tuple[int, Any]:
        """GET a REST path; returns (status, decoded JSON body)."""
        request = urllib.request.Request(self.url + path)
        if api_key is not None:
            request.add_header("X-Agentops-Api-Key", api_key)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                return exc.code, json.loads(body)
            except ValueError:
                return exc.code, body

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, no chance to flush anything (crash tests)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def start_collector(
    data_dir: str | Path | None = None,
    *,
    http_port: int = 0,
    grpc_port: int = 0,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 60,
    exit_with_parent: bool = False,
) -> CollectorProcess:
    """Start ``agentops-otel collector`` (free ports by default) and wait until it is ready.

    ``exit_with_parent``: the collector gets SIGTERM (a clean shutdown) when this process dies, however
    it dies, ``kill -9`` included (Linux; elsewhere only this process's own exit paths stop it).
    """
    data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="agentops-collector-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    ready_file = data_dir / f"ready-{os.getpid()}-{time.monotonic_ns()}.json"
    log_path = data_dir / "collector.log"
    command = [
        sys.executable,
        "-m",
        "agentops_otel.cli",
        "collector",
        "--host",
        "127.0.0.1",
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--data-dir",
        str(data_dir),
        "--ready-file",
        str(ready_file),
        *args,
    ]
    child_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            preexec_fn=_terminate_with(os.getpid()) if exit_with_parent else None,
        )
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"collector exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise TimeoutError(f"collector not ready after {timeout}s:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.02)
    ready = json.loads(ready_file.read_text())
    ready_file.unlink()
    return CollectorProcess(process, ready["http_port"], ready["grpc_port"], data_dir, log_path)


def _terminate_with(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send the child SIGTERM when its parent dies (``PR_SET_PDEATHSIG``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def set_parent_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return set_parent_death_signal


_PR_SET_PDEATHSIG = 1


@contextmanager
def collector_process(data_dir: str | Path | None = None, **options: Any) -> Iterator[CollectorProcess]:
    """A running collector for the ``with`` block; always stopped (then killed if need be) after."""
    collector = start_collector(data_dir, **options)
    try:
        yield collector
    finally:
        collector.stop()
