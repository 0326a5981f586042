"""Message content in the GenAI conventions' JSON shape; only used when content capture is on.

``gen_ai.input.messages`` / ``gen_ai.output.messages`` are JSON arrays of
``{"role", "parts": [{"type": "text", "content"} | {"type": "tool_call", "id", "name", "arguments"} |
{"type": "tool_call_response", "id", "response"} | {"type": "reasoning", "content"}], "finish_reason"?}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from agentops_otel.instrumentation._call import field

Part = dict[str, Any]


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


def text(content: Any) -> Part:
    return {"type": "text", "content": content}


def tool_call(call_id: Any, name: Any, arguments: Any) -> Part:
    """``arguments`` as an object, as the conventions' ToolCallRequestPart has them.

    JSON text (OpenAI's arguments, Anthropic's streamed tool input) is parsed, so a call reads the same
    streamed or not; text that does not parse (a stream cut short) is kept as it came.
    """
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response(call_id: Any, response: Any) -> Part:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def reasoning(content: Any) -> Part:
    return {"type": "reasoning", "content": content}


def parts_of(content: Any) -> list[Part]:
    """Parts of a message's ``content``: a string, or a list of typed blocks (text kept, others named)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text(content)]
    parts: list[Part] = []
    for block in content if isinstance(content, Iterable) else [content]:
        kind = field(block, "type")
        value = field(block, "text")
        if isinstance(block, str):
            parts.append(text(block))
        elif value is not None and kind in ("text", "input_text", "output_text"):
            parts.append(text(value))
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def tool_calls(message: Any) -> list[Part]:
    """A message's ``tool_calls`` in OpenAI's shape (``id``, ``function.name``, ``function.arguments``)."""
    parts = []
    for call in field(message, "tool_calls") or ():
        function = field(call, "function")
        parts.append(tool_call(field(call, "id"), field(function, "name"), field(function, "arguments")))
    return parts


def chat_input(messages: Any, parts_of_message: Callable[[Any], list[Part]]) -> list[dict[str, Any]]:
    """A chat request's messages in OpenAI's shape: a ``tool`` message answers its ``tool_call_id``,
    the parts of the others are ``parts_of_message(message)``."""
    result = []
    for msg in messages or ():
        role = field(msg, "role")
        if role == "tool":
            parts = [tool_response(field(msg, "tool_call_id"), field(msg, "content"))]
        else:
            parts = parts_of_message(msg)
        result.append(message(role, parts))
    return result


def message(role: Any, parts: list[Part], finish_reason: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        msg["finish_reason"] = finish_reason
    return msg
