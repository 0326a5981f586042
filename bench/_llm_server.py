"""A canned OpenAI- and Anthropic-compatible server on 127.0.0.1 for the instruction-count bench.

``POST /v1/chat/completions`` and ``POST /v1/messages``, plain or streamed (SSE, in the providers'
own event shapes, usage included). A streamed answer has as many text chunks as the request's
``max_tokens`` (at least one), so the bench can count the cost of a chunk; a plain one answers a
short text. Run as ``python _llm_server.py``: it prints its base URL and serves until stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
WORDS = ["Paris", "is", "sunny", "and", "mild", "today,", "with", "a", "light", "breeze."]


def _words(count: int) -> list[str]:
    return [WORDS[i % len(WORDS)] + " " for i in range(max(count, 1))]


def _sse(events: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    lines = [(f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n" for name, data in events]
    return "".join(lines).encode()


def openai_answer(request: dict[str, Any]) -> tuple[bytes, str]:
    usage = {
        "prompt_tokens": 25,
        "completion_tokens": 12,
        "total_tokens": 37,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    base = {"id": "chatcmpl-bench", "created": 1767225600, "model": OPENAI_MODEL, "system_fingerprint": "fp_bench"}
    if not request.get("stream"):
        message = {"role": "assistant", "content": "Paris is sunny and mild today.", "refusal": None}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        body = {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
        return json.dumps(body).encode(), "application/json"
    chunk = {**base, "object": "chat.completion.chunk"}
    events: list[tuple[str | None, dict[str, Any]]] = [
        (
            None,
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        )
    ]
    for word in _words(int(request.get("max_tokens") or 1)):
        events.append((None, {**chunk, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}))
    events.append((None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if (request.get("stream_options") or {}).get("include_usage"):
        events.append((None, {**chunk, "choices": [], "usage": usage}))
    return _sse(events) + b"data: [DONE]\n\n", "text/event-stream"


def anthropic_answer(request: dict[str, Any]) -> tuple[bytes, str]:
    usage = {"input_tokens": 25, "output_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    message = {"id": "msg_bench", "type": "message", "role": "assistant", "model": ANTHROPIC_MODEL}
    if not request.get("stream"):
        body = {
            **message,
            "content": [{"type": "text", "text": "Paris is sunny and mild today."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        return json.dumps(body).encode(), "application/json"
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events: list[tuple[str | None, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for word in _words(int(request.get("max_tokens") or 1)):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
        events.append(("content_block_delta", delta))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 12},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return _sse(events), "text/event-stream"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else ~44 ms per answer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        path, status = self.path.rstrip("/"), 200
        if path == "/v1/chat/completions":
            body, content_type = openai_answer(request)
        elif path == "/v1/messages":
            body, content_type = anthropic_answer(request)
        else:
            status, body, content_type = 404, b'{"error": {"message": "not here"}}', "application/json"
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
