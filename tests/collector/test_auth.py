"""API keys: projects derived from keys, isolation, registered keys (hashed), refusing unsafe binds."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys

import pytest

from agentops_otel import semconv as sc
from agentops_otel.collector.auth import (
    KeyEntries,
    KeyRing,
    KeysFileError,
    RefusedKeyLog,
    derived_project_id,
    key_hash,
    parse_entries,
)
from agentops_otel.collector.process import start_collector
from tests.collector.conftest import KEY, OTHER_KEY, SessionBuilder, post, send


def test_each_key_is_its_own_project_on_loopback(collector):
    mine, theirs = SessionBuilder.new(seed=10), SessionBuilder.new(seed=11)
    send(collector, [mine.root(tags=("mine",))], key=KEY)
    send(collector, [theirs.root(tags=("theirs",))], key=OTHER_KEY)

    status, page = collector.get("/v2/sessions", KEY)
    assert status == 200 and [s["session_id"] for s in page["sessions"]] == [mine.session_id]
    assert page["sessions"][0]["project_id"] == derived_project_id(key_hash(KEY))
    # another project's session is a 404, exactly like a missing one: no existence leak
    for path in ("stats", "export"):
        status, body = collector.get(f"/v2/sessions/{theirs.session_id}/{path}", KEY)
        assert (status, body) == (404, {"error": "no such session"})
    status, body = collector.get("/v2/sessions/00000000-0000-4000-8000-000000000001/stats", KEY)
    assert (status, body) == (404, {"error": "no such session"})
    status, overview = collector.get("/v2/overview", OTHER_KEY)
    assert overview["totals"]["sessions"] == 1 and overview["top_sessions"][0]["session_id"] == theirs.session_id


def test_project_id_is_stamped_never_taken_from_the_client(collector):
    session = SessionBuilder.new(seed=12)
    forged = session.span("forged", {sc.SPAN_KIND: sc.KIND_TOOL, sc.PROJECT_ID: "victim-project"})
    send(collector, [forged, session.root()], resource={sc.PROJECT_ID: "victim-project"})
    status, export = collector.get(f"/v2/sessions/{session.session_id}/export", KEY)
    assert status == 200
    expected = derived_project_id(key_hash(KEY))
    assert {span["attributes"][sc.PROJECT_ID] for span in export["spans"]} == {expected}
    assert all(sc.PROJECT_ID not in span["resource"] for span in export["spans"])
    assert export["session"]["project_id"] == expected


def test_missing_or_bad_keys_get_401_everywhere(collector):
    session = SessionBuilder.new(seed=13)
    for path in ("/v2/sessions", f"/v2/sessions/{session.session_id}/stats", "/v2/overview"):
        status, body = collector.get(path, None)
        assert status == 401 and "API key" in body["error"]
    assert post(collector, b"", key=None).status == 401
    assert post(collector, b"", key=None, headers={"Authorization": "Basic abc"}).status == 401


def test_malformed_session_id_is_400(collector):
    status, body = collector.get("/v2/sessions/not-a-uuid/stats", KEY)
    assert status == 400 and "malformed session id" in body["error"]
    status, body = collector.get("/v2/sessions/xyz/export", KEY)
    assert status == 400


def test_registered_keys_from_file_and_environment(tmp_path):
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(
        f"# project:key\nteam-a:{KEY}\nteam-b:sha256:{hashlib.sha256(OTHER_KEY.encode()).hexdigest()}\n"
    )
    collector = start_collector(
        tmp_path / "c", args=["--keys-file", str(keys_file)], env={"AGENTOPS_COLLECTOR_KEYS": "team-c:key-c"}
    )
    try:
        a, b, c = (SessionBuilder.new(seed=s) for s in (20, 21, 22))
        send(collector, [a.root()], key=KEY)
        send(collector, [b.root()], key=OTHER_KEY)
        send(collector, [c.root()], key="key-c")
        assert post(collector, b"", key="unregistered").status == 401
        assert collector.get("/v2/sessions", "unregistered")[0] == 401
        for key, project, session in ((KEY, "team-a", a), (OTHER_KEY, "team-b", b), ("key-c", "team-c", c)):
            _, page = collector.get("/v2/sessions", key)
            assert [(s["project_id"], s["session_id"]) for s in page["sessions"]] == [(project, session.session_id)]
        # the keys never reach the database or the log in clear text
        raw = collector.db_path.read_bytes() + collector.log().encode()
        for wal in collector.data_dir.glob("*.sqlite3-wal"):
            raw += wal.read_bytes()
        assert KEY.encode() not in raw and b"key-c" not in raw
    finally:
        collector.stop()


def test_refuses_public_bind_without_registered_keys(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentops_otel.cli",
            "collector",
            "--host",
            "0.0.0.0",
            "--http-port",
            "0",
            "--grpc-port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without registered API keys" in result.stderr


def test_keyring_rules():
    registered = parse_entries([f"p1:{KEY}", "", "# comment", "bare-key"])
    ring = KeyRing(registered)
    assert ring.project_for(KEY) == "p1"
    assert ring.project_for("bare-key") == derived_project_id(key_hash("bare-key"))
    assert ring.project_for("other") is None and ring.project_for(None) is None
    assert KEY not in repr(registered)
    open_ring = KeyRing(KeyEntries())
    assert open_ring.project_for("a") != open_ring.project_for("b")
    with pytest.raises(KeysFileError):
        parse_entries(["p:sha256:nothex"])


def test_health_is_liveness_only_and_counters_need_the_projects_key(tmp_path):
    with socket.socket() as closed:  # a forward target nobody listens on, its URL holding credentials
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    target = f"http://forwarder:s3cret@127.0.0.1:{port}/v1/traces?token=t0ken"
    collector = start_collector(tmp_path / "c", args=["--forward", target, "--forward-retries", "0"])
    try:
        session = SessionBuilder.new(seed=13)
        send(collector, [session.llm("gpt-4o-mini", 1, 1), session.root()], key=KEY)
        status, health = collector.get("/health", None)
        assert (status, health) == (200, {"status": "ok"})

        assert collector.get("/v2/status", None)[0] == 401
        status, mine = collector.get("/v2/status", KEY)
        assert status == 200 and mine["project_id"] == derived_project_id(key_hash(KEY))
        assert mine["ingest"]["requests"] == 1 and mine["ingest"]["spans_stored"] == 2
        assert [t["url"] for t in mine["forward"]] == [f"http://127.0.0.1:{port}/v1/traces"]
        assert "s3cret" not in json.dumps(mine) and "t0ken" not in json.dumps(mine)
        status, theirs = collector.get("/v2/status", OTHER_KEY)
        assert status == 200 and theirs["ingest"] == {key: 0 for key in mine["ingest"]}
        # No key registered (loopback): the keys that stored spans are named by a hint, never in full.
        assert theirs["keys_registered"] is False
        assert theirs["projects_with_spans"] == [{"key_hint": "10 characters", "spans_stored": 2}]  # KEY is short
        assert KEY not in json.dumps(theirs)
        assert theirs["forward"][0]["sent_spans"] == theirs["forward"][0]["dropped_spans"] == 0
    finally:
        collector.stop()
    assert "s3cret" not in collector.log() and "t0ken" not in collector.log(), "nor do the logs show them"


def test_refused_keys_are_logged_once_per_key_masked(tmp_path):
    secret = "sk-proj-typo-" + "x" * 40
    collector = start_collector(tmp_path / "c", env={"AGENTOPS_COLLECTOR_KEYS": f"team-a:{KEY}"})
    try:
        for _ in range(5):
            assert post(collector, b"", key=secret).status == 401
            assert collector.get("/v2/sessions", secret)[0] == 401
            assert post(collector, b"", key=None).status == 401
        assert post(collector, b"", key="another-wrong-key").status == 401
        send(collector, [SessionBuilder.new(seed=30).root()], key=KEY)
        _, status = collector.get("/v2/status", KEY)  # registered keys: no other project is ever named
        assert status["keys_registered"] is True and status["projects_with_spans"] == []
    finally:
        collector.stop()
    log = collector.log()
    unknown = [line for line in log.splitlines() if "unknown API key" in line]
    assert len(unknown) == 2, log
    assert f"sk-p…xx, sha256 {key_hash(secret)[:8]}" in unknown[0] and "keys file" in unknown[0]
    assert f"sha256 {key_hash('another-wrong-key')[:8]}" in unknown[1]
    assert log.count("without an API key") == 1
    assert secret not in log and secret[:12] not in log and "another-wrong-key" not in log


def test_refused_key_log_is_rate_limited_per_key_and_bounded(caplog):
    now = [0.0]
    refused = RefusedKeyLog(interval=60, max_keys=3, clock=lambda: now[0])
    with caplog.at_level("WARNING", logger="agentops_otel.collector.auth"):
        for key in ("key-one-xxxxxxxx", "key-one-xxxxxxxx", "short", None, None):
            refused.refused(key)
        assert len(caplog.records) == 3
        now[0] = 59.0
        refused.refused("key-one-xxxxxxxx")
        assert len(caplog.records) == 3
        now[0] = 60.0
        refused.refused("key-one-xxxxxxxx")
        assert len(caplog.records) == 4
        for i in range(100):  # a flood of made-up keys: remembered keys stay bounded
            refused.refused(f"made-up-key-{i:04d}")
        assert len(refused._last) == 3
    assert "5 characters" in caplog.records[1].getMessage()
