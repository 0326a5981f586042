"""AWS event-stream framing (``application/vnd.amazon.eventstream``), to write Bedrock stream fixtures.

A frame is: total length, headers length, CRC32 of those 8 bytes, headers, payload, CRC32 of all
before it (big-endian). Headers here are strings (type 7). botocore checks both CRCs.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(payload).encode())


def converse_stream(events: list[dict[str, Any]]) -> bytes:
    """ConverseStream events, each ``{event type: payload}`` as botocore yields them."""
    return b"".join(event(kind, payload) for item in events for kind, payload in item.items())


def invoke_stream(chunks: list[dict[str, Any]]) -> bytes:
    """InvokeModelWithResponseStream: each chunk is the model's JSON, base64-encoded in ``bytes``."""
    return b"".join(event("chunk", {"bytes": base64.b64encode(json.dumps(c).encode()).decode()}) for c in chunks)


def with_encoded_bodies(interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fixture interactions whose response lists ``events`` (ConverseStream) or ``chunks`` (InvokeModel
    streams), as the replay server sends them: base64 of the framed bytes."""
    result = []
    for interaction in interactions:
        response = dict(interaction["response"])
        for key, encode in (("events", converse_stream), ("chunks", invoke_stream)):
            if key in response:
                response["body"] = base64.b64encode(encode(response.pop(key))).decode()
                response["body_encoding"] = "base64"
        result.append({**interaction, "response": response})
    return result


def exception(kind: str, message: str) -> bytes:
    """An error sent in the stream (``:message-type`` exception), such as ``modelStreamErrorException``."""
    headers = {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, json.dumps({"message": message}).encode())
