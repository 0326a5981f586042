"""AgentOps events (ActionEvent, LLMEvent, ToolEvent, ErrorEvent) and how each becomes a span.

An event's fields map to span attributes (names in ``semconv``); its ``init_timestamp`` and
``end_timestamp`` become the span's start and end. LLM events follow the GenAI conventions like
instrumented calls do; message content is only recorded when capture is turned on.
"""

from __future__ import annotations

import itertools
import json
import traceback
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from operator import length_hint
from typing import Any, ClassVar

from opentelemetry.trace import SpanKind

from agentops_otel import semconv as sc

MAX_VALUE_CHARS = 8192  # params, returns and logs longer than this are cut (with a marker)


class EventType(str, Enum):
    LLM = "llms"
    ACTION = "actions"
    API = "apis"
    TOOL = "tools"
    ERROR = "errors"


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def to_ns(timestamp: str | datetime | float | int | None) -> int | None:
    """ISO-8601 string, datetime, or epoch seconds -> epoch nanoseconds (None stays None)."""
    if timestamp is None:
        return None
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=timezone.utc)
        return int(timestamp.timestamp() * 1_000_000) * 1000
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        return int(timestamp * 1_000_000_000)
    raise TypeError(f"timestamp must be an ISO-8601 str, datetime or epoch seconds, got {timestamp!r}")


def text_value(value: Any) -> str:
    """A span-friendly string for any value: str as is, else JSON (repr for what JSON cannot hold).

    At most ``MAX_VALUE_CHARS`` characters are kept (then a marker). A huge value costs no more
    than one of about that size: unless :func:`_room` proves it short, it is cut
    (:class:`_Cutter`) before it is serialised, not after.
    """
    if isinstance(value, str):
        text = value
    else:
        if _room(value, MAX_VALUE_CHARS, _MAX_DEPTH) >= 0:
            encode = _encode_tree
        else:
            cutter = _Cutter()
            bounded = cutter.cut(value)
            if cutter.truncated:
                value = bounded  # else exactly as given (a cycle included: repr shows it as usual)
            encode = _encode
        try:
            text = encode(value)
        except (TypeError, ValueError):  # circular structures and the like
            text = repr(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + "...[truncated]"
    return text


# json.dumps(value, default=repr, ensure_ascii=False) without building an encoder per call; the
# second skips the check for cycles, for a value _room() has walked to its end (so has none)
_encode = json.JSONEncoder(default=repr, ensure_ascii=False).encode
_encode_tree = json.JSONEncoder(default=repr, ensure_ascii=False, check_circular=False).encode

_MAX_DEPTH = 32  # containers nested deeper (a cycle, say) are left to the cutter
_FLAT = frozenset((str, bytes, bytearray, int, float, bool, type(None)))
_CUT_KINDS = (str, bytes, bytearray, list, tuple, dict)  # what the cutter cuts, subclasses included


def _room(value: Any, room: int, depth: int) -> int:
    """What is left of ``room`` after the characters of the strings and the items of the
    containers in ``value`` (a lower bound of its JSON's length, a measure of serialising it);
    negative once that runs out or cannot be told: past ``depth`` nested containers, a subclass
    of a container or str, a key that is not a str. A container is measured before it is
    looked into, so a huge one costs a ``len``. Calls no code of the value's own."""
    kind = type(value)
    if kind in _FLAT:
        return room - length_hint(value)  # a number: 0, its parent counted it as an item
    if kind is dict:
        room -= len(value)
        if room < 0:
            return -1
        try:
            room -= sum(map(str.__len__, value))  # the keys
        except TypeError:  # one is not a str (str.__len__ calls no code of the key's own)
            return -1
        value = value.values()
    elif kind is list or kind is tuple:
        room -= len(value)
    elif issubclass(kind, _CUT_KINDS):
        return -1
    else:
        return room  # another object: its repr, counted as an item of its parent
    if room < 0 or depth == 0:
        return -1
    return _room_all(value, room, depth - 1)


def _room_all(values: Iterable[Any], room: int, depth: int) -> int:
    """:func:`_room` of all ``values`` (a list, tuple or dict view): strings and numbers are
    counted at once, as are the items of containers all of one kind (a list of records, say),
    by C-level builtins instead of a Python loop."""
    kinds = set(map(type, values))
    if kinds <= _FLAT:
        return room - sum(map(length_hint, values))
    if len(kinds) == 1 and (dict in kinds or list in kinds or tuple in kinds):
        room -= sum(map(len, values))
        if room < 0 or depth == 0:
            return -1
        if dict in kinds:
            try:
                room -= sum(map(str.__len__, itertools.chain.from_iterable(values)))  # the keys
            except TypeError:
                return -1
            values = map(dict.values, values)
        return _room_all([*itertools.chain.from_iterable(values)], room, depth - 1)
    for value in values:
        room = _room(value, room, depth)
        if room < 0:
            return -1
    return room


class _Recursion:
    """Stands for a container inside itself, in a cut copy: shown as repr shows it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_LEAVES = frozenset((int, float, bool, type(None)))  # one JSON character at least, never cut


class _Cutter:
    """Cuts strings (dict keys too), bytes, lists, tuples and dicts where their JSON text is sure
    to be past ``MAX_VALUE_CHARS`` characters, so only about that much is ever walked or serialised.

    ``left`` counts down a lower bound of the JSON characters written before the current point:
    a cut happens only once that text is ``MAX_VALUE_CHARS`` long, so the first
    ``MAX_VALUE_CHARS`` characters (all that is kept) are those of the whole value. Unchanged
    parts are returned themselves, not copied.
    """

    __slots__ = ("left", "path", "truncated")

    def __init__(self) -> None:
        self.left = MAX_VALUE_CHARS
        self.path: set[int] = set()  # ids of the containers being walked, to see cycles
        self.truncated = False

    def cut(self, value: Any) -> Any:
        kind = type(value)
        if kind in _LEAVES:
            self.left -= 1
            return value
        if isinstance(value, (str, bytes, bytearray)):  # bytes: repr, of a bounded slice
            self.left -= len(value) + 2
            if len(value) <= MAX_VALUE_CHARS:
                return value
            self.truncated = True
            return value[:MAX_VALUE_CHARS]
        if isinstance(value, (list, tuple, dict)):
            if id(value) in self.path:
                return _Recursion("{...}" if isinstance(value, dict) else "[...]")
            self.path.add(id(value))
            try:
                return self._dict(value) if isinstance(value, dict) else self._sequence(value)
            finally:
                self.path.discard(id(value))
        self.left -= 1  # another object: its repr, at least one character
        return value

    def _sequence(self, items: list[Any] | tuple[Any, ...]) -> Any:
        self.left -= 1  # [
        if self.left > 2 * len(items) and set(map(type, items)) <= _LEAVES:
            self.left -= 2 * len(items)  # numbers and the like, with ", " between: the usual short list
            return items
        out: list[Any] | None = None  # a copy, from the first item that changes
        for index, item in enumerate(items):
            if self.left <= 0:  # the rest is past the limit
                self.truncated = True
                out = list(items[:index]) if out is None else out
                break
            self.left -= 1  # at least one character of ", " (none before the first item: a lower bound still)
            child = self.cut(item)
            if out is None and child is not item:
                out = list(items[:index])
            if out is not None:
                out.append(child)
        if out is None:
            return items
        return tuple(out) if isinstance(items, tuple) else out

    def _dict(self, items: dict[Any, Any]) -> Any:
        self.left -= 1  # {
        out: dict[Any, Any] | None = None
        for index, (key, item) in enumerate(items.items()):
            if self.left <= 0:
                self.truncated = True
                out = dict(itertools.islice(items.items(), index)) if out is None else out
                break
            self.left -= 2  # ":" and at least one character of ", " (cut() counts the key with its quotes)
            cut_key, child = self.cut(key), self.cut(item)  # a key too can be a huge str
            if out is None and (cut_key is not key or child is not item):
                out = dict(itertools.islice(items.items(), index))
            if out is not None:
                out[cut_key] = child
        return items if out is None else out


@dataclass
class Event:
    """Fields shared by every AgentOps event.

    ``session_id`` (as in AgentOps): the module-level ``record()`` records the event in that
    session when it is running in this process, else in the current session as usual;
    ``Session.record()`` always records in its own session.
    """

    event_type: str = ""
    params: dict[str, Any] | None = None
    returns: Any = None
    init_timestamp: str = field(default_factory=iso_now)
    end_timestamp: str | None = None
    agent_id: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    session_id: str | uuid.UUID | None = None

    span_kind: str = field(default=sc.KIND_ACTION, init=False, repr=False)
    recorded: ClassVar[bool] = False  # True on an instance once it has been recorded as a span

    def span_name(self) -> str:
        return self.event_type

    def otel_kind(self) -> SpanKind:
        return SpanKind.INTERNAL

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs: dict[str, Any] = {sc.SPAN_KIND: self.span_kind, sc.EVENT_ID: str(self.id)}
        if self.params is not None:
            attrs[sc.EVENT_PARAMS] = text_value(self.params)
        if self.returns is not None:
            attrs[sc.EVENT_RETURNS] = text_value(self.returns)
        if self.agent_id is not None:
            attrs[sc.AGENT_ID] = str(self.agent_id)
        return attrs


def _named_by_type(event: Event, own_type: str, name_field: str) -> None:
    """AgentOps 0.3's first positional field is ``event_type``: ``ActionEvent("received_user_input")``
    names the action. Such a name moves to ``name_field`` and the event keeps its own type."""
    given = event.event_type
    if isinstance(given, Enum):
        given = given.value
    if isinstance(given, str) and given and given != own_type and getattr(event, name_field) is None:
        setattr(event, name_field, given)
    event.event_type = own_type


@dataclass
class ActionEvent(Event):
    """An action; ``ActionEvent("name")`` (AgentOps' positional form) sets ``action_type``."""

    event_type: str = EventType.ACTION.value
    action_type: str | None = None
    logs: str | Sequence[Any] | None = None
    screenshot: str | None = None

    def __post_init__(self) -> None:
        _named_by_type(self, EventType.ACTION.value, "action_type")
        self.span_kind = sc.KIND_ACTION

    def span_name(self) -> str:
        return self.action_type or "action"

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs = super().attributes(capture_content)
        if self.action_type is not None:
            attrs[sc.ACTION_TYPE] = self.action_type
        if self.logs is not None:
            attrs[sc.ACTION_LOGS] = text_value(self.logs)
        if self.screenshot is not None:
            attrs[sc.ACTION_SCREENSHOT] = self.screenshot
        return attrs


@dataclass
class ToolEvent(Event):
    """A tool call; ``ToolEvent("search")`` (AgentOps' positional form) sets ``name``."""

    event_type: str = EventType.TOOL.value
    name: str | None = None
    logs: str | dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _named_by_type(self, EventType.TOOL.value, "name")
        self.span_kind = sc.KIND_TOOL

    def span_name(self) -> str:
        return f"{sc.OP_EXECUTE_TOOL} {self.name or 'tool'}"

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs = super().attributes(capture_content)
        attrs[sc.GEN_AI_OPERATION_NAME] = sc.OP_EXECUTE_TOOL
        if self.name is not None:
            attrs[sc.GEN_AI_TOOL_NAME] = self.name
        if self.logs is not None:
            attrs[sc.TOOL_LOGS] = text_value(self.logs)
        return attrs


@dataclass
class AgentEvent(Event):
    """A step of an agent (``track_agent``): spans created inside it nest under it."""

    event_type: str = "agents"
    name: str | None = None

    def __post_init__(self) -> None:
        self.span_kind = sc.KIND_AGENT

    def span_name(self) -> str:
        return f"{sc.OP_INVOKE_AGENT} {self.name or 'agent'}"

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs = super().attributes(capture_content)
        attrs[sc.GEN_AI_OPERATION_NAME] = sc.OP_INVOKE_AGENT
        if self.name is not None:
            attrs[sc.GEN_AI_AGENT_NAME] = self.name
            attrs[sc.AGENT_NAME] = self.name
        if self.agent_id is not None:
            attrs[sc.GEN_AI_AGENT_ID] = str(self.agent_id)
        return attrs


@dataclass
class AgentCreated(Event):
    """An agent registered in a session (``create_agent``): a ``create_agent {name}`` span."""

    event_type: str = "agents"
    name: str | None = None

    def __post_init__(self) -> None:
        self.span_kind = sc.KIND_AGENT

    def span_name(self) -> str:
        return f"{sc.OP_CREATE_AGENT} {self.name or 'agent'}"

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs = super().attributes(capture_content)
        attrs[sc.GEN_AI_OPERATION_NAME] = sc.OP_CREATE_AGENT
        if self.name is not None:
            attrs[sc.GEN_AI_AGENT_NAME] = attrs[sc.AGENT_NAME] = self.name
        if self.agent_id is not None:
            attrs[sc.GEN_AI_AGENT_ID] = str(self.agent_id)
        return attrs


@dataclass
class LLMEvent(Event):
    """An LLM call recorded by hand. ``cost`` is accepted for compatibility but ignored:
    cost is always computed from the model and token counts (``pricing.py``)."""

    event_type: str = EventType.LLM.value
    thread_id: str | uuid.UUID | None = None  # the conversation: gen_ai.conversation.id
    prompt: str | list[Any] | None = None
    prompt_tokens: int | None = None
    completion: Any = None
    completion_tokens: int | None = None
    cost: float | None = None
    model: str | None = None
    provider: str | None = None  # gen_ai.provider.name, e.g. "openai"; helps pricing

    def __post_init__(self) -> None:
        self.span_kind = sc.KIND_LLM

    def span_name(self) -> str:
        return f"{sc.OP_CHAT} {self.model}" if self.model else sc.OP_CHAT

    def otel_kind(self) -> SpanKind:
        return SpanKind.CLIENT

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs = super().attributes(capture_content)
        attrs[sc.GEN_AI_OPERATION_NAME] = sc.OP_CHAT
        if self.model is not None:
            attrs[sc.GEN_AI_REQUEST_MODEL] = self.model
        if self.thread_id is not None:
            attrs[sc.GEN_AI_CONVERSATION_ID] = str(self.thread_id)
        if self.provider is not None:
            attrs[sc.GEN_AI_PROVIDER_NAME] = self.provider
        tokens = (
            (sc.GEN_AI_USAGE_INPUT_TOKENS, self.prompt_tokens),
            (sc.GEN_AI_USAGE_OUTPUT_TOKENS, self.completion_tokens),
        )
        for name, value in tokens:
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"token counts must be non-negative ints, got {value!r}")
                attrs[name] = value
        if capture_content:
            if self.prompt is not None:
                attrs[sc.GEN_AI_INPUT_MESSAGES] = text_value(_messages(self.prompt, "user"))
            if self.completion is not None:
                attrs[sc.GEN_AI_OUTPUT_MESSAGES] = text_value(_messages(self.completion, "assistant"))
        return attrs


def _messages(content: Any, default_role: str) -> list[dict[str, Any]]:
    """Prompt/completion in the GenAI message format: ``[{"role", "parts": [{"type": "text", ...}]}]``."""
    items = content if isinstance(content, list) else [content]
    messages = []
    for item in items:
        if isinstance(item, dict) and "content" in item:
            role, text = item.get("role", default_role), item["content"]
        else:
            role, text = default_role, item
        if not isinstance(text, str):
            text = text_value(text)
        messages.append({"role": role, "parts": [{"type": "text", "content": text}]})
    return messages


# ErrorEvent's positional order: AgentOps 0.3.24 to 0.3.26 (an Event: its fields, then the error's) ...
_ERROR_ORDER = (
    "event_type",
    "params",
    "returns",
    "init_timestamp",
    "end_timestamp",
    "agent_id",
    "id",
    "session_id",
    "trigger_event",
    "exception",
    "error_type",
    "code",
    "details",
    "logs",
)
# ... and 0.3.0 to 0.3.23 (a class of its own). Their first argument tells them apart: a trigger
# event (or None) there, the event type (a string) here.
_ERROR_ORDER_BEFORE_0_3_24 = ("trigger_event", "exception", "error_type", "code", "details", "logs", "timestamp")
_ERROR_KEYWORDS = frozenset(_ERROR_ORDER) | {"timestamp"}


@dataclass(init=False)
class ErrorEvent(Event):
    """An error. ``exception`` (if given) becomes the span's ``exception`` event with its traceback,
    and sets ``error_type`` and ``details`` when they are not given (as in AgentOps). The span runs
    from ``init_timestamp`` (alias ``timestamp``, AgentOps' older name) to ``end_timestamp``
    (default: the same instant). ``session_id`` routes it like an :class:`Event`'s.

    Positional arguments follow AgentOps 0.3.26's order (``event_type, params, returns,
    init_timestamp, end_timestamp, agent_id, id, session_id, trigger_event, exception, error_type,
    code, details, logs``), unless the first one is an event or None: then they follow 0.3.0 to
    0.3.23's (``trigger_event, exception, error_type, code, details, logs, timestamp``), which is
    what such a call meant. A first argument that is a string other than ``"errors"`` names the
    error type, as ``ActionEvent("name")`` names the action. Every keyword works either way.
    """

    trigger_event: Event | None = None
    exception: BaseException | None = None
    error_type: str | None = None
    code: str | None = None
    details: str | dict[str, str] | None = None
    logs: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        early = bool(args) and (args[0] is None or isinstance(args[0], Event))
        order = _ERROR_ORDER_BEFORE_0_3_24 if early else _ERROR_ORDER
        if len(args) > len(order):
            raise TypeError(f"ErrorEvent() takes at most {len(order)} positional arguments ({len(args)} given)")
        given = dict(zip(order, args, strict=False))  # fewer arguments than names
        for name, value in kwargs.items():
            if name not in _ERROR_KEYWORDS:
                raise TypeError(f"ErrorEvent() got an unexpected keyword argument {name!r}")
            if name in given:
                raise TypeError(f"ErrorEvent() got multiple values for argument {name!r}")
            given[name] = value
        if "timestamp" in given:
            if "init_timestamp" in given:
                raise TypeError("ErrorEvent() takes timestamp or init_timestamp (the same time), not both")
            given["init_timestamp"] = given.pop("timestamp")
        self.event_type = given.get("event_type", EventType.ERROR.value)
        self.params = given.get("params")
        self.returns = given.get("returns")
        self.init_timestamp = given["init_timestamp"] if "init_timestamp" in given else iso_now()
        self.end_timestamp = given.get("end_timestamp")
        self.agent_id = given.get("agent_id")
        self.id = given["id"] if "id" in given else uuid.uuid4()
        self.session_id = given.get("session_id")
        self.trigger_event = given.get("trigger_event")
        self.exception = given.get("exception")
        self.error_type = given.get("error_type")
        self.code = given.get("code")
        self.details = given.get("details")
        self.logs = given["logs"] if "logs" in given else _current_traceback()
        self.__post_init__()

    def __post_init__(self) -> None:
        _named_by_type(self, EventType.ERROR.value, "error_type")
        self.span_kind = sc.KIND_ERROR
        if self.trigger_event is not None and not isinstance(self.trigger_event, Event):
            raise TypeError(f"trigger_event must be an ActionEvent, LLMEvent or ToolEvent, got {self.trigger_event!r}")
        if self.exception is not None:
            if self.error_type is None:
                self.error_type = type(self.exception).__qualname__
            if self.details is None:
                self.details = str(self.exception) or None

    @property
    def timestamp(self) -> str:
        """AgentOps' older name of ``init_timestamp``."""
        return self.init_timestamp

    @timestamp.setter
    def timestamp(self, value: str) -> None:
        self.init_timestamp = value

    def span_name(self) -> str:
        return self.error_type or "error"

    def attributes(self, capture_content: bool) -> dict[str, Any]:
        attrs = super().attributes(capture_content)
        attrs[sc.ERROR_TYPE] = self.error_type or "_OTHER"
        if self.code is not None:
            attrs[sc.ERROR_CODE] = str(self.code)
        if self.details is not None:
            attrs[sc.ERROR_DETAILS] = text_value(self.details)
        if self.logs:
            attrs[sc.ERROR_LOGS] = text_value(self.logs)
        if self.trigger_event is not None:
            attrs[sc.ERROR_TRIGGER_EVENT_ID] = str(self.trigger_event.id)
            attrs[sc.ERROR_TRIGGER_EVENT_KIND] = self.trigger_event.span_kind
        return attrs

    def message(self) -> str:
        if self.exception is not None:
            return f"{type(self.exception).__qualname__}: {self.exception}"
        return text_value(self.details) if self.details is not None else (self.error_type or "error")


def _current_traceback() -> str | None:
    text = traceback.format_exc()
    return None if text.strip() == "NoneType: None" else text


AnyEvent = Event | ErrorEvent
