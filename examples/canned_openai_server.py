"""A tiny OpenAI-compatible server on 127.0.0.1 answering with this project's own canned responses.

It stands in for the provider in the quickstart so it runs offline with no API key. It implements
just ``POST /v1/chat/completions`` (plain and ``stream=True``) for a weather-agent conversation:
first the model asks for the ``get_weather`` tool, then (once a tool result is in the messages)
it answers. Token usage is reported like OpenAI does, including cached prompt tokens.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini-2024-07-18"


def _usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _tool_call_reply(city: str) -> tuple[dict[str, Any], dict[str, Any]]:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_quickstart_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
            }
        ],
    }
    return message, _usage(182, 17)


def _answer_reply(weather: str) -> tuple[dict[str, Any], dict[str, Any]]:
    text = f"Here is the forecast you asked for: {weather}. A light jacket will do."
    return {"role": "assistant", "content": text}, _usage(1236, 24, cached=1024)


def reply_for(request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(message, usage, finish_reason) for a chat request of the weather conversation."""
    messages = request.get("messages") or []
    tool_results = [m for m in messages if m.get("role") == "tool"]
    if tool_results:
        message, usage = _answer_reply(str(tool_results[-1].get("content")))
        return message, usage, "stop"
    question = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "") or ""
    city = "Paris" if "paris" in str(question).lower() else "Lisbon"
    message, usage = _tool_call_reply(city)
    return message, usage, "tool_calls"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, b'{"error": {"message": "invalid JSON"}}', "application/json")
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, b'{"error": {"message": "only /v1/chat/completions here"}}', "application/json")
            return
        message, usage, finish = reply_for(request)
        created = int(time.time())
        base = {"id": f"chatcmpl-quickstart-{created}", "created": created, "model": MODEL}
        if not request.get("stream"):
            body = {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": usage,
            }
            self._send(200, json.dumps(body).encode(), "application/json")
            return
        chunk = {**base, "object": "chat.completion.chunk"}
        delta = dict(message)
        if "tool_calls" in delta:  # streamed tool calls carry their position, as OpenAI sends them
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(delta["tool_calls"])]
        events = [
            {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        ]
        if (request.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        self._send(200, sse.encode(), "text/event-stream")


class CannedOpenAIServer:
    """Serves in a background thread; ``base_url`` is what ``openai.OpenAI(base_url=...)`` takes."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="canned-openai", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> CannedOpenAIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
