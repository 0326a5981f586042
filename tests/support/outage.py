"""Collector outages with real processes: an app (``outage_app.py``) records at a steady rate into a
real agentops-otel collector that is SIGKILLed and restarted on the same ports and data.

Used at CI size by ``tests/sdk/test_outage.py`` and at full length by ``bench/bench_outage.py``.
When to kill and restart is decided by the app's progress (events recorded), never by the clock;
results are waited for as conditions with generous timeouts.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentops_otel.collector.process import CollectorProcess, start_collector
from tests.support.otlp_sink import REPO_ROOT

KEY = "outage-key"


def app_env(spool_dir: Path, backoff_ms: int | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "OTEL_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1", AGENTOPS_SPOOL_DIR=str(spool_dir), **extra)
    if backoff_ms is not None:
        env["AGENTOPS_SPOOL_MAX_BACKOFF"] = str(backoff_ms)
    return env


class App:
    """``outage_app.py`` running, its stdout lines read in the background."""

    def __init__(self, outage: Outage, events: int, rate: float, *flags: str) -> None:
        endpoint = outage.app_endpoint or outage.endpoint
        command = [sys.executable, "-m", "tests.support.outage_app", endpoint, KEY, str(events), str(rate)]
        self.process = subprocess.Popen(
            [*command, outage.protocol, *flags],
            cwd=REPO_ROOT,
            env=app_env(outage.spool_dir, outage.backoff_ms),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr = ""
        self.progress = 0
        self.session_id = ""
        self.done: list[str] = []
        self._stderr_read = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("EOF")

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()
        self._stderr_read.set()

    def wait_for(self, prefix: str, at_least: int = 0, timeout: float = 300) -> list[str]:
        """Read lines until one starts with ``prefix`` (PROGRESS: with a count of at least ``at_least``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"app printed no {prefix} within {timeout} s (progress {self.progress})") from None
            words = line.split()
            if line == "EOF":
                raise RuntimeError(f"app exited before {prefix}: {self.process.wait()}\n{self.stderr}")
            if words[0] == "SESSION":
                self.session_id = words[1]
            elif words[0] == "PROGRESS":
                self.progress = int(words[1])
            elif words[0] == "DONE":
                self.done = words[1:]
            if words[0] == prefix and (prefix != "PROGRESS" or self.progress >= at_least):
                return words

    def end(self) -> None:
        """Let an app started with ``--wait`` end its session."""
        assert self.process.stdin is not None
        self.process.stdin.write("END\n")
        self.process.stdin.close()

    def exit_code(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout=timeout)
        self._stderr_read.wait(30)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@dataclass
class Outage:
    """A collector on fixed-for-the-run ports and data that can be SIGKILLed and brought back."""

    root: Path
    protocol: str = "http/protobuf"
    backoff_ms: int | None = 1000
    app_endpoint: str | None = None  # where the app sends, when not to this collector (an upstream Collector)
    collector: CollectorProcess | None = None
    http_port: int = 0
    grpc_port: int = 0
    kills: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = self.root / "collector"
        self.spool_dir = self.root / "spool"
        self.start()

    @property
    def endpoint(self) -> str:
        port = self.grpc_port if self.protocol == "grpc" else self.http_port
        return f"http://127.0.0.1:{port}"

    def start(self) -> None:
        """Start (or restart, on the same ports and data) the collector."""
        last: Exception | None = None
        for _ in range(20):  # a restart may race the old sockets' release
            try:
                self.collector = start_collector(self.data_dir, http_port=self.http_port, grpc_port=self.grpc_port)
                break
            except (RuntimeError, TimeoutError) as error:
                last = error
                time.sleep(0.5)
        else:
            raise RuntimeError(f"collector would not restart: {last}")
        self.http_port, self.grpc_port = self.collector.http_port, self.collector.grpc_port or 0

    def kill(self) -> None:
        assert self.collector is not None
        self.collector.kill()
        self.kills.append(time.monotonic())

    def stop(self) -> None:
        if self.collector is not None and self.collector.process.poll() is None:
            self.collector.stop()

    def stats(self, session_id: str) -> dict[str, Any] | None:
        assert self.collector is not None
        status, stats = self.collector.get(f"/v2/sessions/{session_id}/stats", KEY)
        return stats if status == 200 else None

    def stored_spans(self, session_id: str) -> tuple[int, int]:
        """(rows, distinct span ids) stored for the session."""
        with sqlite3.connect(self.data_dir / "agentops.sqlite3") as db:
            row = db.execute(
                "SELECT count(*), count(DISTINCT p.span_id) FROM spans p JOIN sessions s ON s.seq = p.seq"
                " WHERE s.trace_id = ?",
                (uuid.UUID(session_id).bytes,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def duplicates_received(self) -> int:
        """Spans the collector received again since its last start (acknowledged, stored once)."""
        assert self.collector is not None
        status, body = self.collector.get("/v2/status", KEY)
        return int(body["ingest"]["spans_duplicate"]) if status == 200 and "ingest" in body else 0

    def wait_stored(self, session_id: str, events: int, timeout: float = 180) -> dict[str, Any]:
        """Stats once the session has ``events`` events and its end state (generous timeout)."""
        deadline = time.monotonic() + timeout
        stats: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            stats = self.stats(session_id)
            if stats and stats["events"] >= events and not stats["in_progress"]:
                return stats
            time.sleep(0.2)
        left = sorted(p.name for p in self.spool_dir.glob("*.otlp"))
        raise AssertionError(f"session {session_id} not complete within {timeout} s: {stats}; spool: {left}")

    def flush_spool(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "agentops_otel.cli", "spool", "flush", "--dir", str(self.spool_dir)]
        return subprocess.run(
            [*command, "--timeout", str(timeout)],
            cwd=REPO_ROOT,
            env=app_env(self.spool_dir, None),
            capture_output=True,
            text=True,
            timeout=timeout + 60,
        )

    def __enter__(self) -> Outage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Result:
    session_id: str
    recorded: int
    events: int  # as the collector counts them
    rows: int  # spans stored (root included)
    distinct: int
    end_state: str
    cost: str  # the collector's
    app_cost: str  # end_session()'s
    end_session_s: float
    duplicates_received: int  # re-sent spans the collector acknowledged and stored once
    delivered_after_restart_s: float


def mid_session_outage(
    outage: Outage, events: int, rate: float, kill_at: int, restart_at: int | None = None, outage_s: float = 0.0
) -> Result:
    """The app records ``events`` at ``rate``/s; the collector is SIGKILLed after ``kill_at`` events
    and restarted after ``restart_at`` events (the app ends its session once it has recorded them
    all and the collector is back), or, for the benchmarks, ``outage_s`` seconds after the kill: an
    app that has recorded everything before then ends its session with the collector down and
    exits, and ``agentops-otel spool flush`` delivers its spool once the collector is back."""
    app = App(outage, events, rate, "--wait")  # max_wait_time 30 s: time for the exit to deliver the spool
    try:
        app.wait_for("PROGRESS", kill_at)
        outage.kill()
        if restart_at is not None:
            app.wait_for("PROGRESS", restart_at)
        else:
            back = outage.kills[-1] + outage_s
            try:
                app.wait_for("RECORDED", timeout=max(0.1, back - time.monotonic()))
                app.end()  # the session ends during the outage, and the app exits
            except TimeoutError:
                pass
            time.sleep(max(0.0, back - time.monotonic()))
        outage.start()
        restarted = time.monotonic()
        if not app.done and app.process.stdin and not app.process.stdin.closed:
            app.wait_for("RECORDED")
            app.end()
        done = app.wait_for("DONE")
        assert app.exit_code() == 0, app.stderr
        if restart_at is None:
            flushed = outage.flush_spool()
            assert flushed.returncode == 0, flushed.stdout + flushed.stderr
        stats = outage.wait_stored(app.session_id, events)
        delivered_after = time.monotonic() - restarted
    finally:
        app.kill()
    rows, distinct = outage.stored_spans(app.session_id)
    return Result(
        app.session_id,
        events,
        stats["events"],
        rows,
        distinct,
        stats["end_state"],
        stats["cost"],
        done[2],
        float(done[3]),
        outage.duplicates_received(),
        delivered_after,
    )
