"""Collector outages with real processes: nothing the app recorded is lost, nothing is stored twice.

The app (tests/support/outage_app.py) records at a steady rate into the real collector, which is
SIGKILLed and restarted on the same ports and data. CI runs short versions (100 events/s for 10 s,
a 5 s outage); bench/bench_outage.py runs the full-length ones. Kills and restarts follow the app's
progress, and results are waited for as conditions: nothing depends on timing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.support.otlp_sink import REPO_ROOT
from tests.support.outage import KEY, App, Outage, app_env, mid_session_outage

pytestmark = pytest.mark.timeout(300)


def spooled_spans(outage: Outage) -> int:
    return sum(int(p.name.split("-")[2]) for p in outage.spool_dir.glob("*.otlp"))


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_collector_killed_mid_session_loses_nothing_and_stores_nothing_twice(tmp_path, protocol):
    events = 1000 if protocol == "http/protobuf" else 400
    with Outage(tmp_path, protocol=protocol) as outage:
        result = mid_session_outage(outage, events=events, rate=100, kill_at=events // 4, restart_at=events * 3 // 4)
    assert result.events == result.recorded == events
    assert result.rows == result.distinct == events + 1  # every event and the root, each once
    assert result.end_state == "Success"
    assert Decimal(result.cost) == Decimal(result.app_cost) > 0  # the app's own cost, exact while it was down
    assert not list(outage.spool_dir.glob("*.otlp"))


@pytest.mark.parametrize("delivered_by", ["second process", "spool flush"])
def test_collector_down_at_end_session_a_later_process_delivers_the_root_and_every_event(tmp_path, delivered_by):
    with Outage(tmp_path) as outage:
        app = App(outage, 300, 1000, "--wait", "--max-wait", "2000")
        try:
            app.wait_for("RECORDED")
            outage.kill()
            app.end()
            done = app.wait_for("DONE")
            assert app.exit_code() == 0, app.stderr
        finally:
            app.kill()
        assert float(done[3]) < 2.0 + 1.0  # end_session: within max_wait_time (2 s), plus a busy box
        assert "wait in the spool" in app.stderr and "agentops-otel spool flush" in app.stderr
        assert spooled_spans(outage) > 0
        outage.start()
        if delivered_by == "spool flush":
            flushed = outage.flush_spool()
            assert flushed.returncode == 0, flushed.stderr
            assert "delivered" in flushed.stdout and "0 spans, 0 requests" in flushed.stdout
        else:  # any later run of a program using the same spool delivers it
            later = App(outage, 1, 1000)
            try:
                later.wait_for("DONE")
                assert later.exit_code() == 0, later.stderr
            finally:
                later.kill()
        stats = outage.wait_stored(app.session_id, 300)
        assert stats["events"] == 300 and stats["end_state"] == "Success"
        assert outage.stored_spans(app.session_id) == (301, 301)
        assert Decimal(stats["cost"]) == Decimal(done[2])
        assert not list(outage.spool_dir.glob("*.otlp"))


@pytest.mark.parametrize("ending", ["SIGTERM", "uncaught exception"])
def test_a_process_ending_while_the_collector_is_down_spools_its_session_end(tmp_path, ending):
    with Outage(tmp_path) as outage:
        outage.kill()
        app = App(outage, 50, 1000, "--wait" if ending == "SIGTERM" else "--raise")
        try:
            if ending == "SIGTERM":
                app.wait_for("RECORDED")
                app.process.send_signal(signal.SIGTERM)
                assert app.exit_code() == -signal.SIGTERM
            else:
                assert app.exit_code() == 1
                assert "RuntimeError: agent crashed" in app.stderr
        finally:
            app.kill()
        session_id = _session_of(app)
        outage.start()
        assert outage.flush_spool().returncode == 0
        stats = outage.wait_stored(session_id, 50 + (ending != "SIGTERM"))  # + the error event
        expected = "Indeterminate" if ending == "SIGTERM" else "Failure"
        assert stats["end_state"] == expected
        reason = "Process received SIGTERM" if ending == "SIGTERM" else "RuntimeError: agent crashed"
        assert stats["end_state_reason"] == reason


def _session_of(app: App) -> str:
    while not app.session_id:
        app.wait_for("SESSION")
    return app.session_id


def test_app_killed_with_sigkill_what_it_had_spooled_arrives_once(tmp_path):
    with Outage(tmp_path) as outage:
        outage.kill()
        app = App(outage, 400, 1000, "--wait")
        try:
            app.wait_for("RECORDED")
            # each batch reaches the spool as it is exported (no exit needed)
            _wait(lambda: spooled_spans(outage) == 400, "the app did not spool its events")
            outage.start()  # the app starts delivering its spool (at any point of which it dies)
            app.process.kill()
            app.process.wait(timeout=30)
        finally:
            app.kill()
        flushed = outage.flush_spool()
        assert flushed.returncode == 0, flushed.stderr
        _wait(lambda: (outage.stats(app.session_id) or {}).get("events", 0) >= 400, "spooled events never arrived")
        rows, distinct = outage.stored_spans(app.session_id)
        assert rows == distinct == 400  # every event once (no root: the session never ended)
        assert not list(outage.spool_dir.glob("*.otlp"))


def test_processes_sharing_a_spool_never_deliver_a_request_twice(tmp_path):
    with Outage(tmp_path) as outage:
        outage.kill()
        env = app_env(outage.spool_dir, 1000, AGENTOPS_MAX_EXPORT_BATCH_SIZE="10")
        command = [sys.executable, "-m", "tests.support.outage_app", outage.endpoint, KEY, "300", "100000"]
        app = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert app.returncode == 0, app.stderr
        session_id = next(line.split()[1] for line in app.stdout.splitlines() if line.startswith("SESSION"))
        files = list(outage.spool_dir.glob("*.otlp"))
        assert len(files) >= 20 and spooled_spans(outage) == 301
        outage.start()
        flushes = [
            subprocess.Popen(
                [sys.executable, "-m", "agentops_otel.cli", "spool", "flush", "--dir", str(outage.spool_dir), "--json"],
                cwd=REPO_ROOT,
                env=app_env(outage.spool_dir, None),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        delivered = []
        for flush in flushes:
            out, err = flush.communicate(timeout=180)
            assert flush.returncode == 0, err
            delivered.append(json.loads(out)["delivered_spans"])
        assert sum(delivered) == 301  # each request sent by exactly one of them
        stats = outage.wait_stored(session_id, 300)
        assert stats["end_state"] == "Success" and outage.stored_spans(session_id) == (301, 301)
        assert outage.duplicates_received() == 0


def _wait(condition: Callable[[], bool], message: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)
