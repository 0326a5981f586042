"""The spool and its delivery, in one process: bounds, bad files, retry rules, memory-only mode.

Real parts: the SDK exporting over real OTLP/HTTP, a real OTLP receiver process, a small real
HTTP server on 127.0.0.1 answering with scripted statuses, spool files on a real directory.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider

import agentops_otel as ao
from agentops_otel import client as client_module
from agentops_otel import pricing
from agentops_otel.delivery import Delivery, HttpSender, Outcome, parse_retry_after
from agentops_otel.spool import MEMORY, DiskSpool, MemorySpool, Target, decode_file, encode_file, parse_name
from tests.sdk.conftest import child_env, refused_endpoint
from tests.support.outage import KEY, Outage


def span_names(spool_dir: Path) -> list[str]:
    """Names of the spans in the spool files, oldest file first."""
    names = []
    for path in sorted(spool_dir.glob("*.otlp")):
        request = ExportTraceServiceRequest.FromString(decode_file(path.read_bytes()).data)
        names += [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    return names


def request_with(n: int) -> bytes:
    from tests.collector.conftest import SessionBuilder, otlp_request

    session = SessionBuilder.new()
    return otlp_request([session.span(f"s{i}", {}) for i in range(n)])


def wait(condition: Callable[[], bool], message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


class Scripted:
    """A real HTTP server on 127.0.0.1 answering POST /v1/traces with scripted (status, headers)."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.answers = list(answers)
        self.received: list[tuple[float, int]] = []  # (monotonic time, status answered)
        self.requested: list[tuple[str, str | None, str | None]] = []  # (request target, Authorization, Cookie)
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers = scripted.answers.pop(0) if scripted.answers else (200, {})
                scripted.received.append((time.monotonic(), status))
                scripted.requested.append((self.path, self.headers.get("Authorization"), self.headers.get("Cookie")))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[list[tuple[int, dict[str, str]]]], Scripted]]:
    made: list[Scripted] = []

    def make(answers: list[tuple[int, dict[str, str]]]) -> Scripted:
        made.append(Scripted(answers))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def sdk_otlp() -> Iterator[Callable[..., tuple[client_module.Client, ao.Session]]]:
    """``sdk_otlp(**init)``: a fresh Client exporting over real OTLP (with its spool); shut down after."""
    made: list[client_module.Client] = []
    previous = client_module.get_client()

    def start(**init: object) -> tuple[client_module.Client, ao.Session]:
        client = client_module.Client()
        made.append(client)
        client_module.set_client(client)
        init = {"tracer_provider": TracerProvider(), "exit_handlers": False, "instrument_llm_calls": False, **init}
        session = ao.init(**init)
        assert session is not None
        return client, session

    yield start
    for client in made:
        client.shutdown()
    client_module.set_client(previous)


# --- bounds -----------------------------------------------------------------------------------
def test_a_full_spool_drops_the_oldest_counts_them_in_one_warning_and_stays_under_its_bound(
    sdk_otlp, spool_dir, caplog
):
    bound = 64 * 1024
    client, session = sdk_otlp(endpoint=refused_endpoint(), spool_max_bytes=bound, max_export_batch_size=50)
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        for i in range(2_000):
            ao.record(ao.ActionEvent(action_type=f"e{i:05d}"))
            if i % 50 == 49:
                client.flush_all(10)  # one spool file per 50 events
        session.end_session("Success")
        client.shutdown()
    assert sum(p.stat().st_size for p in spool_dir.iterdir()) <= bound
    kept = span_names(spool_dir)
    assert kept and "session" in kept and kept == sorted(kept, key=lambda n: (n == "session", n))
    assert kept[0] > "e00000"  # the oldest went first; what is kept is the newest
    dropped = 2_001 - len(kept)
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert warnings == [
        f"agentops-otel: dropped {dropped} undelivered spans from the spool at {spool_dir}, oldest first "
        f"({dropped} over the spool's size bound of {bound} bytes)"
    ]


def test_spooled_requests_past_the_max_age_are_dropped_and_counted(spool_dir, caplog):
    spool = DiskSpool(spool_dir, 1 << 20, max_age_s=3600)
    target = Target("http://127.0.0.1:9/v1/traces", "http/protobuf")
    name = spool.put(target, request_with(3), 3)
    assert name is not None
    entry = parse_name(name)
    old = f"{entry.created_ns - 7200 * 10**9:020d}" + name[20:]  # written two hours before
    (spool_dir / name).rename(spool_dir / old)
    spool.put(target, request_with(2), 2)
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        assert [e.spans for e in spool.entries()] == [2]
        spool.report_drops()
    assert "dropped 3 undelivered spans" in caplog.text and "older than the spool's max age of 3600 s" in caplog.text


def test_memory_spool_keeps_to_its_bound_too():
    spool = MemorySpool(max_bytes=2_000, max_age_s=60)
    target = Target("http://127.0.0.1:9/v1/traces", "http/protobuf")
    for _ in range(10):
        spool.put(target, b"x" * 500, 5)
    assert sum(e.size for e in spool.entries()) <= 2_000 and spool.drops.spans and spool.undelivered_spans() == 20


# --- bad files ----------------------------------------------------------------------------------
def test_corrupt_and_other_version_files_are_skipped_with_one_warning_each(spool_dir, sink, caplog):
    spool = DiskSpool(spool_dir, 1 << 20, 3600)
    target = Target(sink.endpoint + "/v1/traces", "http/protobuf", (("X-Agentops-Api-Key", KEY),))
    good = spool.put(target, request_with(4), 4)
    truncated = spool.put(target, request_with(5), 5)
    garbage = spool.put(target, request_with(6), 6)
    assert good and truncated and garbage
    raw = (spool_dir / truncated).read_bytes()
    (spool_dir / truncated).write_bytes(raw[: len(raw) - 10])
    (spool_dir / garbage).write_bytes(b"\x00\xff not a spool file")
    future = garbage.replace(".v1.otlp", ".v9.otlp")
    newer = encode_file(target, b"from a newer version", 1).replace(b"AOSPOOL 1", b"AOSPOOL 9")
    (spool_dir / future).write_bytes(newer)
    delivery = Delivery(spool, max_backoff_s=1)
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        delivery.deliver_once()
        delivery.deliver_once()  # a second pass warns about nothing new
    assert sink.wait_for_count(4) == 4
    skipped = [r.getMessage() for r in caplog.records if "skipping spool file" in r.getMessage()]
    assert len(skipped) == 3
    assert any(truncated in m and "truncated or altered content" in m for m in skipped)
    assert any(garbage in m and "not a spool file" in m for m in skipped)
    assert any(future in m and "another version" in m for m in skipped)
    remaining = sorted(p.name for p in spool_dir.iterdir())
    assert remaining == sorted([truncated + ".corrupt", garbage + ".corrupt", future])


# --- retries ------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_and_the_request_delivered_once_the_target_takes_it(
    sdk_otlp, scripted, spool_dir, status
):
    server = scripted([(status, {"Retry-After": "2"})])
    _, session = sdk_otlp(endpoint=server.url, endpoint_is_traces_url=True)
    ao.record(ao.ActionEvent())
    session.end_session("Success")
    wait(lambda: len(server.received) >= 2 and not list(spool_dir.glob("*.otlp")), "never re-sent")
    (first, answered), (second, ok) = server.received[:2]
    assert (answered, ok) == (status, 200)
    assert second - first >= 1.9  # not before the target said (a later retry is fine)


def test_a_request_refused_for_good_is_dropped_with_a_warning_not_retried(sdk_otlp, scripted, spool_dir, caplog):
    server = scripted([(400, {})])
    _, session = sdk_otlp(endpoint=server.url, endpoint_is_traces_url=True)
    ao.record(ao.ActionEvent())
    with caplog.at_level(logging.WARNING, logger="agentops_otel"):
        session.end_session("Success")
        wait(lambda: "dropped" in caplog.text, "no warning")
    assert len(server.received) == 1 and not list(spool_dir.glob("*.otlp"))
    assert "dropped 2 undelivered spans" in caplog.text and "HTTP 400" in caplog.text


def test_retry_after_parsing():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("100000") == 600.0  # capped
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date already past


def test_http_sender_classifies_answers(scripted):
    server = scripted([(500, {}), (408, {}), (413, {}), (200, {})])
    sender = HttpSender(Target(server.url, "http/protobuf"))
    assert [sender.send(b"").retry for _ in range(3)] == [True, True, False]
    assert sender.send(b"") == Outcome(True)
    assert HttpSender(Target(refused_endpoint() + "/v1/traces", "http/protobuf")).send(b"").reason == (
        "connection refused"
    )


def test_http_sender_keeps_the_proxy_and_netrc_the_environment_names(scripted, monkeypatch, tmp_path):
    """requests' environment settings apply to every send, as with OpenTelemetry's exporter (they are
    read once, when the sender is made, instead of scanning the environment at each request)."""
    proxy = scripted([])
    monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/v1/traces"))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine collector.example login user password pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    sender = HttpSender(Target("http://collector.example:4318/v1/traces", "http/protobuf"))
    assert sender.send(b"1").ok and sender.send(b"2").ok
    assert proxy.requested == [("http://collector.example:4318/v1/traces", "Basic dXNlcjpwdw==", None)] * 2


def test_http_sender_sends_back_the_cookies_the_collector_set(scripted):
    """A load balancer's sticky-session cookie comes back with the next requests, as with requests' own sessions."""
    server = scripted([(200, {"Set-Cookie": "lb=node1; Path=/"}), (200, {}), (200, {})])
    sender = HttpSender(Target(server.url, "http/protobuf"))
    assert all(sender.send(b"x").ok for _ in range(3))
    assert [cookie for _, _, cookie in server.requested] == [None, "lb=node1", "lb=node1"]


# --- memory only, analytics while down ---------------------------------------------------------
def test_memory_only_spool_writes_nothing_and_delivers_once_the_collector_is_back(sdk_otlp, tmp_path, spool_dir):
    with Outage(tmp_path / "outage") as outage:
        outage.kill()
        _, session = sdk_otlp(endpoint=outage.endpoint, api_key=KEY, spool_dir=MEMORY, spool_max_backoff=500)
        for _ in range(30):
            ao.record(ao.ActionEvent())
        session.end_session("Success")
        assert not any(spool_dir.iterdir()) and not any((tmp_path / "outage").glob("spool/*"))
        outage.start()
        stats = outage.wait_stored(session.session_id, 30)
        assert stats["end_state"] == "Success" and outage.stored_spans(session.session_id) == (31, 31)


def test_analytics_and_cost_stay_local_and_exact_while_the_collector_is_down(sdk_otlp):
    _, session = sdk_otlp(endpoint=refused_endpoint())
    for _ in range(3):
        ao.record(ao.LLMEvent(model="gpt-4o-mini", provider="openai", prompt_tokens=1000, completion_tokens=200))
    ao.record(ao.ToolEvent(name="t"))
    analytics = ao.get_analytics()
    assert analytics["LLM calls"] == 3 and analytics["Tool calls"] == 1
    rates = pricing.rates_for("gpt-4o-mini", "openai")
    assert rates is not None
    one = pricing.cost_of(pricing.TokenUsage(1000, 200, 0, 0, 0), rates).total
    assert session.end_session("Success") == 3 * one > Decimal(0)


# --- the command ---------------------------------------------------------------------------------
def test_spool_status_says_what_waits_where_without_credentials(spool_dir):
    spool = DiskSpool(spool_dir, 1 << 20, 3600)
    secret = "sk-SECRET-0123456789"
    target = Target("http://user:pw@127.0.0.1:9/v1/traces", "http/protobuf", (("X-Agentops-Api-Key", secret),))
    spool.put(target, request_with(3), 3)
    spool.put(target, request_with(4), 4)
    command = [sys.executable, "-m", "agentops_otel.cli", "spool", "status", "--dir", str(spool_dir)]
    as_json = subprocess.run([*command, "--json"], env=child_env(), capture_output=True, text=True, timeout=60)
    text = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=60)
    assert as_json.returncode == text.returncode == 0, as_json.stderr + text.stderr
    summary = json.loads(as_json.stdout)
    assert (summary["files"], summary["spans"], summary["location"]) == (2, 7, str(spool_dir))
    [row] = summary["targets"].values()
    assert row["url"] == "http://127.0.0.1:9/v1/traces" and row["spans"] == 7
    assert "http://127.0.0.1:9/v1/traces (http/protobuf): 7 spans, 2 requests" in text.stdout
    for output in (as_json.stdout, text.stdout, as_json.stderr, text.stderr):
        assert secret not in output and "pw@" not in output
