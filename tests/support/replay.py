"""A real HTTP server on 127.0.0.1 that replays recorded provider exchanges.

Recordings are JSON files shaped like ``../shared/recorded/*/*.json`` (and ``tests/fixtures``):
``{"interactions": [{"request": {"method", "uri", "body", ...}, "response": {"status",
"headers", "body"}}]}``. Point the real ``openai`` client at ``server.openai_base_url`` and the
real ``anthropic`` client at ``server.base_url``; each request is answered with the next queued
interaction for the same endpoint, byte for byte as recorded (SSE bodies included).
A response with ``"body_encoding": "base64"`` (Bedrock's binary event streams) is decoded and sent as
the raw bytes. A response with ``"truncate_at": n`` sends only its first ``n`` body bytes and drops the connection
(a stream cut short by the network).
"""

from __future__ import annotations

import base64
import inspect
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDED_DIR = REPO_ROOT.parent / "shared" / "recorded"
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"

_SKIPPED_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection"}


def endpoint_of(uri: str) -> str:
    """``https://api.openai.com/v1/chat/completions`` -> ``chat/completions`` (version prefix dropped)."""
    parts = [p for p in urlsplit(uri).path.split("/") if p]
    if parts and parts[0] in {"v1", "beta", "openai"}:
        parts = parts[1:]
    return "/".join(parts)


def method_for(provider: str, endpoint: str, client: Any) -> Any:
    """The client method that sends a recorded request to ``endpoint``."""
    if provider == "anthropic":
        return client.messages.create
    return {
        "chat/completions": client.chat.completions.create,
        "completions": client.completions.create,
        "embeddings": client.embeddings.create,
        "responses": client.responses.create,
    }[endpoint]


def as_kwargs(method: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The recorded request body as keyword arguments (fields the method does not name go in extra_body)."""
    names = inspect.signature(method).parameters
    kwargs = {k: v for k, v in body.items() if k in names}
    extra = {k: v for k, v in body.items() if k not in names}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def load_interactions(path: str | Path) -> list[dict[str, Any]]:
    return json.loads(Path(path).read_text())["interactions"]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Queue:
    pending: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, interactions: list[dict[str, Any]]) -> None:
        with self.lock:
            for interaction in interactions:
                key = endpoint_of(interaction["request"]["uri"])
                self.pending.setdefault(key, deque()).append(interaction)

    def pop(self, endpoint: str) -> dict[str, Any] | None:
        with self.lock:
            queue = self.pending.get(endpoint)
            return queue.popleft() if queue else None


class ReplayServer:
    """Serve queued interactions; ``repeat=True`` keeps answering with the last one (benchmarks)."""

    def __init__(self, *, repeat: bool = False) -> None:
        self.requests: list[ReceivedRequest] = []
        self._queue = _Queue()
        self._last: dict[str, dict[str, Any]] = {}
        self._always: dict[str, dict[str, Any]] = {}
        self.repeat = repeat
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else every response waits ~40 ms for a delayed ACK

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    ReceivedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                server._answer(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def load(self, recording: str | Path | list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queue a recording file (or a list of interactions); returns the interactions."""
        interactions = recording if isinstance(recording, list) else load_interactions(recording)
        self._queue.push(interactions)
        return interactions

    def answer_always(self, endpoint: str, status: int, body: str = "") -> None:
        """Answer every request to ``endpoint`` (e.g. ``traces/ingest``) alike, whatever their number
        and order, instead of from the queue (uploads a client sends from a thread of its own)."""
        self._always[endpoint] = {"response": {"status": status, "headers": {}, "body": body}}

    def requests_to(self, endpoint: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if endpoint_of(r.path) == endpoint]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        endpoint = endpoint_of(handler.path)
        interaction = self._always.get(endpoint) or self._queue.pop(endpoint)
        if interaction is None and self.repeat:
            interaction = self._last.get(endpoint)
        if interaction is None:
            body = json.dumps({"error": {"message": f"replay server: nothing queued for {endpoint!r}"}}).encode()
            handler.send_response(599)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        self._last[endpoint] = interaction
        response = interaction["response"]
        body = response.get("body") or ""
        body = base64.b64decode(body) if response.get("body_encoding") == "base64" else body.encode()
        handler.send_response(int(response["status"]))
        for name, values in (response.get("headers") or {}).items():
            if name.lower() in _SKIPPED_HEADERS:
                continue
            for value in values if isinstance(values, list) else [values]:
                handler.send_header(name, value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        cut = response.get("truncate_at")
        if isinstance(cut, int):  # a connection lost mid-body: send part of it, then drop the socket
            handler.wfile.write(body[:cut])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(body)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
