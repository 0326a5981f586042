"""Parent keys: a keys entry naming a parent key gives that key read access to the entry's project
(REST: list, stats, export, spans, overview, status), on the real collector process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agentops_otel.collector.auth import KeyEntries, KeyRing, KeysFileError, key_hash, parse_entries
from agentops_otel.collector.process import CollectorProcess, start_collector
from tests.collector.conftest import STORES, SessionBuilder, otlp_request, post, sqlite_only

ORG = "sk-org-parent-key-0001"  # a parent key with no project of its own
ORG2 = "sk-org2-parent-key-002"  # a parent key that also has a project
KEY_A, KEY_B, KEY_C, KEY_D = (f"sk-child-key-{n}-abcdef" for n in "abcd")
SECRETS = (ORG, ORG2, KEY_A, KEY_B, KEY_C, KEY_D)


def keys_text() -> str:
    return (
        "# project:key [parent=<key> | parent=sha256:<hex>]\n"
        f"team-a:{KEY_A} parent=sha256:{key_hash(ORG)}\n"
        f"team-b:sha256:{key_hash(KEY_B)}  parent={ORG}\n"
        f"team-c:{KEY_C}\n"
        f"org-two:{ORG2}\n"
        f"team-d:{KEY_D}\tparent=sha256:{key_hash(ORG2).upper()}\n"
    )


@pytest.fixture(scope="module", params=STORES)
def org(request, tmp_path_factory) -> Iterator[tuple[CollectorProcess, dict[str, SessionBuilder]]]:
    """The collector (its own process on SQLite, in this process on chDB) with the keys entries above."""
    tmp_path = tmp_path_factory.mktemp("parent-keys")
    if request.param == "sqlite":
        keys = tmp_path / "keys"
        keys.write_text(keys_text())
        collector = start_collector(tmp_path / "c", args=["--keys-file", str(keys), "--no-grpc"])
    else:
        from tests.support.store_collector import chdb_collector

        entries = ",".join(line for line in keys_text().splitlines() if not line.startswith("#"))
        running = chdb_collector(request.getfixturevalue("chdb_dir"), tmp_path / "c", keys=entries)
        collector = running.__enter__()
    try:
        sessions = {name: SessionBuilder.new(seed=i) for i, name in enumerate(("a", "b", "c", "d", "own"), 40)}
        for name, key in (("a", KEY_A), ("b", KEY_B), ("c", KEY_C), ("d", KEY_D), ("own", ORG2)):
            builder = sessions[name]
            # every app sends ORG as its parent key: only the keys file's entries count
            answer = post_spans(collector, builder, key, parent=ORG)
            assert answer.status == 200, answer
        yield collector, sessions
    finally:
        if request.param == "sqlite":
            collector.stop()
        else:
            running.__exit__(None, None, None)


def post_spans(collector, builder: SessionBuilder, key: str, parent: str | None = None):
    spans = [builder.llm("gpt-4o", 100, 10), builder.root(tags=("shared-tag",))]
    headers = {"X-Agentops-Parent-Key": parent} if parent else None
    return post(collector, otlp_request(spans), key=key, headers=headers)


def listed(collector, key: str, query: str = "") -> set[tuple[str, str]]:
    status, page = collector.get(f"/v2/sessions{query}", key)
    assert status == 200, page
    return {(s["project_id"], s["session_id"]) for s in page["sessions"]}


def test_a_parent_key_reads_every_child_project_and_only_those(org):
    collector, s = org
    expected = {("team-a", s["a"].session_id), ("team-b", s["b"].session_id)}
    assert listed(collector, ORG) == expected
    assert listed(collector, ORG, "?tags=shared-tag&sort=cost&limit=1") <= expected
    pages, cursor = set(), ""
    while True:  # one cursor across both projects
        status, page = collector.get(f"/v2/sessions?limit=1{cursor}", ORG)
        pages |= {(x["project_id"], x["session_id"]) for x in page["sessions"]}
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert pages == expected
    for name, project in (("a", "team-a"), ("b", "team-b")):
        sid = s[name].session_id
        status, stats = collector.get(f"/v2/sessions/{sid}/stats", ORG)
        assert status == 200 and stats["llm_calls"] == 1
        status, export = collector.get(f"/v2/sessions/{sid}/export", ORG)
        assert status == 200 and export["session"]["project_id"] == project and len(export["spans"]) == 2
        assert collector.get(f"/v2/sessions/{sid}/spans", ORG)[0] == 200
    for name in ("c", "d", "own"):  # not its children: the header the apps sent granted nothing
        for path in ("stats", "export", "spans"):
            assert collector.get(f"/v2/sessions/{s[name].session_id}/{path}", ORG)[0] == 404
    status, overview = collector.get("/v2/overview", ORG)
    assert status == 200 and overview["totals"]["sessions"] == 2 and overview["totals"]["llm_calls"] == 2
    assert {t["project_id"] for t in overview["top_sessions"]} == {"team-a", "team-b"}
    status, about = collector.get("/v2/status", ORG)
    assert status == 200 and about["project_id"] is None and about["projects"] == ["team-a", "team-b"]


def test_a_parent_key_with_a_project_reads_its_own_first(org):
    collector, s = org
    assert listed(collector, ORG2) == {("org-two", s["own"].session_id), ("team-d", s["d"].session_id)}
    _, about = collector.get("/v2/status", ORG2)
    assert about["project_id"] == "org-two" and about["projects"] == ["org-two", "team-d"]
    assert about["ingest"]["spans_stored"] == 2
    assert collector.get("/v2/overview", ORG2)[1]["totals"]["sessions"] == 2


def test_a_child_key_reads_only_its_own_project(org):
    collector, s = org
    assert listed(collector, KEY_A) == {("team-a", s["a"].session_id)}
    assert listed(collector, KEY_D) == {("team-d", s["d"].session_id)}
    for sibling in ("b", "own"):
        assert collector.get(f"/v2/sessions/{s[sibling].session_id}/export", KEY_A)[0] == 404
        assert collector.get(f"/v2/sessions/{s[sibling].session_id}/stats", KEY_D)[0] == 404
    assert collector.get("/v2/overview", KEY_B)[1]["totals"]["sessions"] == 1
    assert collector.get("/v2/status", KEY_A)[1]["projects"] == ["team-a"]


def test_an_unknown_parent_key_gets_nothing(org):
    collector, s = org
    for key in ("sk-org-parent-key-0002", key_hash(ORG), f"sha256:{key_hash(ORG)}", ORG.upper()):
        for path in ("/v2/sessions", "/v2/overview", "/v2/status", f"/v2/sessions/{s['a'].session_id}/export"):
            assert collector.get(path, key)[0] == 401


def test_a_read_only_parent_key_cannot_send_spans(org):
    collector, _ = org
    answer = post_spans(collector, SessionBuilder.new(seed=60), ORG)
    assert answer.status == 401
    sqlite_only(collector)  # the collector's own log
    assert "parent key only reads" in collector.log()


def test_an_ungranted_parent_header_is_said_once_without_a_secret(org):
    collector, _ = org
    for _ in range(3):
        assert post_spans(collector, SessionBuilder.new(seed=61), KEY_C, parent=ORG).status == 200
    sqlite_only(collector)  # the collector's own log and database file
    log = collector.log()
    lines = [line for line in log.splitlines() if "does not name as the parent" in line]
    # team-c, team-d and org-two sent ORG without the keys file naming it: one line each, however often
    assert len(lines) == 3, log
    assert any("'team-c'" in line and f"sha256 {key_hash(ORG)[:8]}" in line for line in lines)
    assert not any("'team-a'" in line or "'team-b'" in line for line in lines), "granted: nothing to say"
    raw = log + collector.db_path.read_bytes().decode("latin-1")
    for wal in collector.data_dir.glob("*.sqlite3-wal"):
        raw += wal.read_bytes().decode("latin-1")
    for secret in SECRETS:
        assert secret not in raw and secret[:12] not in log


def test_keys_entries_declare_parents():
    entries = parse_entries(keys_text().splitlines())
    ring = KeyRing(entries)
    assert ring.scope_for(ORG) == ("team-a", "team-b") and ring.project_for(ORG) is None
    assert ring.scope_for(ORG2) == ("org-two", "team-d")
    assert ring.scope_for(KEY_A) == ("team-a",) and ring.scope_for("nobody") == () and ring.scope_for(None) == ()
    assert ring.read_only(ORG) and not ring.read_only(ORG2) and not ring.read_only(KEY_A)
    assert ring.parent_granted(KEY_A, ORG) and not ring.parent_granted(KEY_C, ORG)
    assert ORG not in repr(entries) and KEY_A not in json.dumps(entries.__dict__)
    # a key entry given again (the environment after the file) says all about that key: no parent kept
    later = KeyEntries()
    later.update(entries)
    later.update(parse_entries([f"team-a:{KEY_A}"]))
    assert KeyRing(later).scope_for(ORG) == ("team-b",)
    # a key that is its own parent, or a bad parent digest, is an error naming the entry
    with pytest.raises(KeysFileError, match="own parent"):
        parse_entries([f"team-x:{KEY_A} parent={KEY_A}"])
    with pytest.raises(KeysFileError, match="parent of the keys entry for project 'team-x'"):
        parse_entries([f"team-x:{KEY_A} parent=sha256:abc"])
    with pytest.raises(KeysFileError, match="no key"):
        parse_entries([f"team-x:{KEY_A} parent="])
    # an entry without parent= keeps a key with spaces and '=' as it always did
    assert KeyRing(parse_entries(["p: key=="])).project_for("key==") == "p"
