"""``agentops-otel migrate`` between real stores: everything copied, counts and REST answers equal,
resumable after a failure or a ``kill -9`` without counting anything twice; store URLs."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentops_otel import semconv as sc
from agentops_otel.cli import main
from agentops_otel.collector import migrate as migration
from agentops_otel.collector.ingest import prepare
from agentops_otel.collector.otlp import key_value
from agentops_otel.collector.span_logs import log_batch
from agentops_otel.collector.store import (
    SQLiteStore,
    StoreURLError,
    open_store,
    redact_url,
    sqlite_path,
    sqlite_url,
)
from agentops_otel.collector.store.base import ListQuery
from tests.collector.conftest import SessionBuilder, otlp_request
from tests.conftest import sdk_free_env

T0 = 1_760_000_000 * 10**9
PROJECTS = ("project-a", "project-b", "project-c")


def _logs(session: SessionBuilder, span_id: bytes, n: int) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for i in range(n):
        record = records.add(trace_id=session.trace_id, span_id=span_id, time_unix_nano=T0 + i)
        record.event_name = "gen_ai.choice"
        record.body.kvlist_value.values.append(key_value("index", i))
    return request


def fill(path: Path) -> int:
    """A store with what a collector sees: three projects, our sessions and other instrumentations'
    traces, priced and unpriced LLM calls, tools, errors, tags, unended sessions, a session sent in
    two requests from two resources, log records (one before its span). Returns the spans stored."""
    store = SQLiteStore(path)
    stored = 0
    try:
        for p, project in enumerate(PROJECTS):
            for n in range(12 - 3 * p):
                s = SessionBuilder.new(start_ns=T0 + (p * 100 + n) * 3_600 * 10**9, seed=1000 + p * 100 + n)
                spans = [
                    s.llm("gpt-4o", 1000 + n, 100 + n),
                    s.llm("no-such-model-xyz", 5, 5),
                    s.span("execute_tool search", {sc.SPAN_KIND: sc.KIND_TOOL}, offset_ms=3),
                    s.span("act", {sc.SPAN_KIND: sc.KIND_ACTION}, offset_ms=4, error=n % 3 == 0),
                ]
                if n % 4 != 3:  # else: not ended
                    spans.append(s.root("Failure" if n % 5 == 0 else "Success", tags=(f"t{n % 3}", project)))
                first, second = spans[:2], spans[2:]
                batches = [otlp_request(first, service="agent-one"), otlp_request(second, service="agent-two")]
                if n % 2:
                    batches.reverse()  # late root, spans out of order
                for body in batches:
                    stored += store.write(prepare(ExportTraceServiceRequest.FromString(body), project)).result(30).new
                store.write_logs(log_batch(_logs(s, spans[0].span_id, 1 + n % 3), project)).result(30)
            foreign = SessionBuilder.new(start_ns=T0 + 7, seed=2000 + p)  # no session root of ours
            local_root = foreign.span("workflow", {sc.GEN_AI_OPERATION_NAME: "invoke_agent"}, span_id=foreign.root_id)
            local_root.ClearField("parent_span_id")
            call = foreign.span("chat", {sc.GEN_AI_OPERATION_NAME: "chat", "gen_ai.usage.prompt_tokens": 7})
            body = otlp_request([call, local_root])
            stored += store.write(prepare(ExportTraceServiceRequest.FromString(body), project)).result(30).new
        orphan = SessionBuilder.new(start_ns=T0, seed=3000)  # log records whose span never came
        store.write_logs(log_batch(_logs(orphan, orphan.root_id, 2), "project-a")).result(30)
    finally:
        store.close()
    return stored


def rest_view(store: Any, project: str) -> dict[str, Any]:
    """What REST answers for a project: every page of every list, each session and export, the overview."""
    view: dict[str, Any] = {"overview": store.overview((project,), None, None, None), "lists": {}}
    for sort in ("init_timestamp", "cost", "tokens"):
        pages, cursor = [], None
        while True:
            page = store.list_sessions((project,), ListQuery(limit=4, cursor=cursor, sort=sort))
            pages.append([s["session_id"] for s in page["sessions"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        view["lists"][sort] = pages
    view["failed"] = store.list_sessions((project,), ListQuery(end_state="Failure", limit=100))
    view["tagged"] = store.list_sessions((project,), ListQuery(tags=("t1",), limit=100))
    for summary in store.list_sessions((project,), ListQuery(limit=1000))["sessions"]:
        trace_id = bytes.fromhex(summary["session_id"].replace("-", ""))
        view[summary["session_id"]] = (store.session((project,), trace_id), store.export((project,), trace_id))
    return view


def views(url: str) -> dict[str, Any]:
    store = open_store(url)
    try:
        return {project: rest_view(store, project) for project in PROJECTS}
    finally:
        store.close()


@pytest.fixture
def source(tmp_path) -> tuple[str, int]:
    path = tmp_path / "source.sqlite3"
    return sqlite_url(path), fill(path)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(["migrate", *args])
    finally:
        sys.stdout, sys.stderr = saved
    return code, out.getvalue(), err.getvalue()


def test_sqlite_to_sqlite_copies_every_project_and_answers_the_same(source, tmp_path):
    url, spans = source
    before = views(url)
    destination = sqlite_url(tmp_path / "copy.sqlite3")
    checkpoint = tmp_path / "checkpoint.json"
    code, out, err = run_cli("--from", url, "--to", destination, "--checkpoint", str(checkpoint), "--batch-spans", "7")
    assert code == 0, out + err
    assert f"copied {spans:,} spans ({spans:,} new, 0 already there)" in out
    assert "counts match: 3 project(s)" in out and "MISMATCH" not in out
    assert views(destination) == before
    assert views(url) == before  # the source is only read
    assert (
        before["project-a"]["overview"]["totals"]["sessions"] == 13
        and Decimal(before["project-a"]["overview"]["totals"]["cost"]) > 0
    )
    store = open_store(destination)
    try:
        counts = store.counts("project-a")
        assert (counts.sessions, counts.logs) == (13, 24 + 2), "log records, the orphans' too"
    finally:
        store.close()
    # once done, the same command checks again and copies nothing
    code, out, _ = run_cli("--from", url, "--to", destination, "--checkpoint", str(checkpoint))
    assert code == 0 and "already copied" in out and "counts match" in out


class FailingAfter:
    """A real store whose writes fail after ``batches`` of them (a destination going away)."""

    def __init__(self, store: SQLiteStore, batches: int) -> None:
        self.store, self.left = store, batches

    def write(self, batch):
        if self.left == 0:
            raise ConnectionError("the destination went away")
        self.left -= 1
        return self.store.write(batch)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_a_failed_migration_continues_from_its_checkpoint_and_counts_nothing_twice(source, tmp_path):
    url, spans = source
    destination = tmp_path / "copy.sqlite3"
    checkpoint_path = tmp_path / "checkpoint.json"
    src, dst = SQLiteStore(sqlite_path(url)), SQLiteStore(destination)
    checkpoint = migration.Checkpoint(url, sqlite_url(destination))
    try:
        with pytest.raises(ConnectionError):
            migration.migrate(src, FailingAfter(dst, 6), checkpoint, checkpoint_path, batch_spans=5)
    finally:
        src.close()
        dst.close()
    saved = json.loads(checkpoint_path.read_text())
    assert saved["phase"] == "spans" and 0 < saved["spans_copied"] <= 30 and saved["spans_after"]
    code, out, err = run_cli(
        "--from", url, "--to", sqlite_url(destination), "--checkpoint", str(checkpoint_path), "--batch-spans", "5"
    )
    assert code == 0, out + err
    assert "resumed from a checkpoint" in out and "counts match" in out
    copied, new, again = (int(n) for n in re.search(r"copied (\d+) spans \((\d+) new, (\d+) already", out).groups())
    # the batches written after the last checkpoint are written again, and stored once
    assert copied == new + again and spans <= copied <= spans + 5 * (migration.IN_FLIGHT + 1)
    assert views(sqlite_url(destination)) == views(url)


KILLER = """
import os, signal, sys
from agentops_otel.collector.store.sqlite import SQLiteStore
from agentops_otel.cli import main

writes = 0
real_write = SQLiteStore.write

def write(self, batch):  # killed with batches written and not yet committed or checkpointed
    global writes
    writes += 1
    if writes == 9:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_write(self, batch)

SQLiteStore.write = write
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_migration_continues_where_it_stopped(source, tmp_path):
    url, spans = source
    destination = sqlite_url(tmp_path / "copy.sqlite3")
    args = [
        "migrate",
        "--from",
        url,
        "--to",
        destination,
        "--checkpoint",
        str(tmp_path / "c.json"),
        "--batch-spans",
        "4",
    ]
    env = sdk_free_env()
    killed = subprocess.run([sys.executable, "-c", KILLER, *args], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    done = subprocess.run(
        [sys.executable, "-m", "agentops_otel.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed from a checkpoint" in done.stdout and "counts match" in done.stdout
    assert views(destination) == views(url)
    store = open_store(destination)
    try:
        assert sum(store.counts(p).spans for p in PROJECTS) == spans
    finally:
        store.close()


def test_counts_that_differ_are_reported_and_fail_the_command(source, tmp_path):
    url, _ = source
    destination = tmp_path / "copy.sqlite3"
    extra = SessionBuilder.new(start_ns=T0, seed=4000)  # the destination already held a session of project-b
    store = SQLiteStore(destination)
    try:
        body = otlp_request([extra.root(), extra.llm("gpt-4o", 10, 1)])
        store.write(prepare(ExportTraceServiceRequest.FromString(body), "project-b")).result(30)
    finally:
        store.close()
    code, out, _ = run_cli("--from", url, "--to", sqlite_url(destination), "--checkpoint", str(tmp_path / "c.json"))
    assert code == 1
    assert "project-b" in out and "MISMATCH" in out and "sessions: 10 in the source, 11 in the destination" in out
    assert "counts differ" in out


def test_a_progress_line_on_a_terminal_only(source, tmp_path):
    url, spans = source
    master, replica = pty.openpty()
    for name, out in (("tty", os.fdopen(replica, "w")), ("pipe", io.StringIO())):
        src, dst = SQLiteStore(sqlite_path(url)), SQLiteStore(tmp_path / f"{name}.sqlite3")
        try:
            checkpoint = migration.Checkpoint(url, name)
            migration.migrate(src, dst, checkpoint, tmp_path / f"{name}.json", batch_spans=10, progress=out)
        finally:
            src.close()
            dst.close()
        out.flush()
        if name == "tty":
            shown = os.read(master, 65536).decode()
            assert f"\r  spans: {spans:,} of {spans:,} (100%)" in shown and "log records:" in shown
            out.close()
        else:
            assert out.getvalue() == ""
    os.close(master)


def test_bad_store_urls_are_refused_before_anything_is_opened(tmp_path, capsys):
    target = sqlite_url(tmp_path / "x.sqlite3")
    cases = [
        (["--from", "postgres://me:hunter2@db/x", "--to", target], "unknown store URL ('postgres://')"),
        (["--from", str(tmp_path / "plain.sqlite3"), "--to", target], "unknown store URL (no scheme)"),
        (["--from", target, "--to", target], "--from and --to name the same store"),
        (["--from", "chdb:///a", "--to", "chdb:///b"], "one path per process"),
        (["--from", target, "--to", target + "2", "--batch-spans", "0"], "--batch-spans must be at least 1"),
    ]
    for args, message in cases:
        code, out, err = run_cli(*args, "--checkpoint", str(tmp_path / "c.json"))
        assert code == 2 and message in err and "hunter2" not in err + out, (args, err)
    assert not (tmp_path / "x.sqlite3").exists()


def test_a_checkpoint_of_another_migration_is_not_taken(source, tmp_path):
    url, _ = source
    checkpoint = tmp_path / "c.json"
    migration.Checkpoint(url, "sqlite:///elsewhere.sqlite3", spans_copied=5).save(checkpoint)
    code, _, err = run_cli("--from", url, "--to", sqlite_url(tmp_path / "d.sqlite3"), "--checkpoint", str(checkpoint))
    assert code == 2 and "is of another migration" in err
    code, out, _ = run_cli(
        "--from", url, "--to", sqlite_url(tmp_path / "d.sqlite3"), "--checkpoint", str(checkpoint), "--restart"
    )
    assert code == 0 and "resumed" not in out


def test_store_urls():
    assert sqlite_path("sqlite:///var/lib/a b.sqlite3") == Path("/var/lib/a b.sqlite3")
    assert sqlite_path("sqlite:///var/lib/a%20b.sqlite3") == Path("/var/lib/a b.sqlite3")
    assert sqlite_path("sqlite:data/a.sqlite3") == Path("data/a.sqlite3")
    assert sqlite_path(sqlite_url("/tmp/x/y.sqlite3")) == Path("/tmp/x/y.sqlite3")
    for bad in ("sqlite://host/a.sqlite3", "sqlite:///", "sqlite:"):
        with pytest.raises(StoreURLError):
            sqlite_path(bad)
    assert redact_url("clickhouse://me:p%40ss/word@h:8123/db") == "clickhouse://me:***@h:8123/db"
    assert redact_url("clickhouses://me:secret@h/db?x=1") == "clickhouses://me:***@h/db?x=1"
    assert redact_url("clickhouse://me@h/db") == "clickhouse://me@h/db"
    with pytest.raises(StoreURLError, match="unknown store URL") as raised:
        open_store("mysql://root:hunter2@h/db")
    assert "hunter2" not in str(raised.value)


CLICKHOUSE_MISSING = """
import sys
sys.modules["clickhouse_connect"] = None  # as if the clickhouse extra were not installed
from agentops_otel.collector.store import open_store, StoreURLError
try:
    open_store(sys.argv[1])
except StoreURLError as exc:
    print(exc)
"""


@pytest.mark.parametrize("url", ["clickhouse://me:hunter2@127.0.0.1:8123/db", "chdb:///tmp/nowhere"])
def test_a_clickhouse_url_without_the_extra_names_the_extra(url):
    found = subprocess.run(
        [sys.executable, "-c", CLICKHOUSE_MISSING, url], env=sdk_free_env(), capture_output=True, text=True, timeout=60
    )
    assert "needs the 'clickhouse' extra" in found.stdout and "agentops-otel[clickhouse]" in found.stdout, found
    assert "hunter2" not in found.stdout + found.stderr


# --- ClickHouse (chDB) --------------------------------------------------------------------------


def same_answers(sqlite_view: dict[str, Any], clickhouse_view: dict[str, Any]) -> None:
    assert clickhouse_view == sqlite_view


@pytest.fixture
def chdb_url(chdb_dir) -> Any:
    from tests.support.store_collector import drop_database, new_database

    database = new_database()
    yield f"chdb://{chdb_dir}?database={database}"
    drop_database(chdb_dir, database)


def test_sqlite_to_chdb_and_back_answers_the_same(source, chdb_url, tmp_path):
    url, spans = source
    before = views(url)
    code, out, err = run_cli("--from", url, "--to", chdb_url, "--checkpoint", str(tmp_path / "to.json"))
    assert code == 0, out + err
    assert f"copied {spans:,} spans ({spans:,} new" in out and "counts match: 3 project(s)" in out
    same_answers(before, views(chdb_url))
    back = sqlite_url(tmp_path / "back.sqlite3")
    code, out, err = run_cli("--from", chdb_url, "--to", back, "--checkpoint", str(tmp_path / "back.json"))
    assert code == 0 and "counts match: 3 project(s)" in out, out + err
    same_answers(before, views(back))


def test_a_failed_migration_to_chdb_continues_and_counts_nothing_twice(source, chdb_url, tmp_path):
    url, spans = source
    checkpoint_path = tmp_path / "checkpoint.json"
    src, dst = SQLiteStore(sqlite_path(url)), open_store(chdb_url)
    try:
        with pytest.raises(ConnectionError):
            checkpoint = migration.Checkpoint(url, redact_url(chdb_url))
            migration.migrate(src, FailingAfter(dst, 5), checkpoint, checkpoint_path, batch_spans=9)
        partial = sum(dst.counts(p).spans for p in PROJECTS)
    finally:
        src.close()
        dst.close()
    assert 0 < partial < spans
    code, out, err = run_cli(
        "--from", url, "--to", chdb_url, "--checkpoint", str(checkpoint_path), "--batch-spans", "9"
    )
    assert code == 0 and "resumed from a checkpoint" in out and "counts match" in out, out + err
    store = open_store(chdb_url)
    try:
        assert sum(store.counts(p).spans for p in PROJECTS) == spans
    finally:
        store.close()
    same_answers(views(url), views(chdb_url))


def rest_answers(collector: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """Every REST read of each key's project, over HTTP."""
    found: dict[str, Any] = {}
    for key in keys:
        status, listed = collector.get("/v2/sessions?limit=100", key)
        assert status == 200
        found[key] = {"list": listed, "overview": collector.get("/v2/overview", key)}
        for summary in listed["sessions"]:
            sid = summary["session_id"]
            for path in ("stats", "export", "spans"):
                found[key][f"{sid}/{path}"] = collector.get(f"/v2/sessions/{sid}/{path}", key)
    return found


def test_a_collector_on_the_migrated_chdb_store_answers_as_the_sqlite_one(tmp_path):
    """Spans sent to a collector on SQLite over OTLP; ``agentops-otel migrate`` to a chDB directory; a
    collector started with ``--store chdb:///...`` answers every REST read the same (processes of their
    own: chDB opens one path per process)."""
    from agentops_otel.collector.process import collector_process
    from tests.collector.conftest import OTHER_KEY, send
    from tests.support.store_collector import drop_database  # noqa: F401 - skips with chdb_dir's reason if absent

    pytest.importorskip("chdb", reason="chDB not installed (pip install 'agentops-otel[clickhouse]')")
    keys = ("migrate-key-a", OTHER_KEY)
    with collector_process(tmp_path / "sqlite") as collector:
        for i in range(6):
            s = SessionBuilder.new(start_ns=T0 + i * 10**9, seed=5000 + i)
            key = keys[i % 2]
            send(collector, [s.llm("gpt-4o", 100 * i, 10), s.span("tool", {sc.SPAN_KIND: sc.KIND_TOOL})], key=key)
            send(collector, [s.root(tags=(f"tag{i % 3}",))], key=key)
        before = rest_answers(collector, keys)
        source = sqlite_url(collector.db_path)
    chdb = f"chdb://{tmp_path / 'chdb'}"
    env = sdk_free_env()
    migrated = subprocess.run(
        [sys.executable, "-m", "agentops_otel.cli", "migrate", "--from", source, "--to", chdb],
        env={**env, "AGENTOPS_COLLECTOR_DATA_DIR": str(tmp_path / "checkpoints")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrated.returncode == 0 and "counts match: 2 project(s)" in migrated.stdout, migrated
    assert list((tmp_path / "checkpoints" / "migrations").glob("*.json")), "the default checkpoint place"
    with collector_process(tmp_path / "on-chdb", args=["--store", chdb], env=env) as collector:
        after = rest_answers(collector, keys)
        assert f"store      {chdb}" in collector.log()
    assert after == before
    assert len(before[keys[0]]["list"]["sessions"]) == 3 and before[keys[0]]["overview"][1]["totals"]["sessions"] == 3


COLLECTOR = (sys.executable, "-m", "agentops_otel.cli", "collector", "--http-port", "0", "--no-grpc")


def test_a_store_that_cannot_be_opened_stops_the_collector_without_showing_its_password(tmp_path):
    import socket

    closed = socket.socket()  # bound, never listening: connections to it are refused
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    pytest.importorskip("clickhouse_connect", reason="clickhouse-connect not installed")
    try:
        for store, said in (
            (
                f"clickhouse://me:hunter2@127.0.0.1:{port}/db",
                f"cannot open the store clickhouse://me:***@127.0.0.1:{port}/db",
            ),
            ("redis://me:hunter2@127.0.0.1/0", "unknown store URL ('redis://')"),
        ):
            found = subprocess.run(
                [*COLLECTOR, "--data-dir", str(tmp_path), "--store", store],
                env=sdk_free_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert found.returncode == 2 and said in found.stderr, found.stderr
            assert "hunter2" not in found.stdout + found.stderr
    finally:
        closed.close()


def test_ids_ending_in_zero_bytes_are_copied_from_chdb_one_span_at_a_time(chdb_url, tmp_path):
    """Positions are ids: ClickHouse must not lose a FixedString's trailing zero bytes in them."""
    store = open_store(chdb_url)
    try:
        for n in range(3):
            s = SessionBuilder.new(start_ns=T0 + n, seed=6000 + n)
            s.trace_id, s.root_id = s.trace_id[:13] + bytes(3), s.root_id[:6] + bytes(2)
            spans = [s.root(), s.llm("gpt-4o", 10, 1), s.span("t", {sc.SPAN_KIND: sc.KIND_TOOL})]
            spans[2].span_id = spans[2].span_id[:7] + bytes(1)
            body = otlp_request(spans)
            store.write(prepare(ExportTraceServiceRequest.FromString(body), "project-a")).result(60)
            store.write_logs(log_batch(_logs(s, s.root_id, 2), "project-a")).result(60)
    finally:
        store.close()
    back = sqlite_url(tmp_path / "back.sqlite3")
    code, out, err = run_cli(
        "--from", chdb_url, "--to", back, "--checkpoint", str(tmp_path / "c.json"), "--batch-spans", "1"
    )
    assert code == 0 and "copied 9 spans (9 new" in out and "and 6 log records" in out, out + err
    assert "counts match: 1 project(s)" in out
