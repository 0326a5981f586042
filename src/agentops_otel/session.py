"""A session: one trace, one root span, its tags, end state and analytics.

The trace id is the session UUID and the root span id is derived from it (:func:`root_span_id`),
so any process that knows the session id can parent spans to the root.

Inherited sessions: a process that joins a session started elsewhere does not emit the root
span when it joins, nor when it exits; its spans simply parent to the (remote) root. If it calls
``end_session()`` explicitly, it emits the root span itself (same trace and span id, starting when
it joined) with the end state, reason, tags and video given: end a session in exactly one process.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from agentops_otel import semconv as sc
from agentops_otel.analytics import SessionStats, analytics
from agentops_otel.config import Configuration, normalise_tags
from agentops_otel.events import AgentCreated, AnyEvent, ErrorEvent, Event, iso_now
from agentops_otel.host import host_attributes, host_env
from agentops_otel.recording import record_event

logger = logging.getLogger("agentops_otel")

ROOT_SPAN_NAME = "session"


class EndState(str, Enum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    FAIL = "Failure"  # the AgentOps name; an alias of FAILURE
    INDETERMINATE = "Indeterminate"

    @classmethod
    def parse(cls, value: object) -> EndState:
        """``EndState`` from an ``EndState``, its value or name in any case (``"Fail"`` accepted);
        else a ValueError that lists the valid values."""
        if isinstance(value, EndState):
            return value
        if isinstance(value, str):
            state = _END_STATES.get(value.strip().lower())
            if state is not None:
                return state
        raise ValueError(f"end_state must be one of {VALID_END_STATES}; got {value!r}")


_END_STATES = {name.lower(): member for name, member in EndState.__members__.items()} | {
    member.value.lower(): member for member in EndState
}
VALID_END_STATES = "'Success', 'Failure' (or 'Fail'), 'Indeterminate' (any case)"


_R = TypeVar("_R")


def pop_session(kwargs: dict[str, Any]) -> tuple[Session | None, dict[str, Any]]:
    """The session given as ``session=`` and the other arguments; a ``session`` argument that is not
    one of ours (a library's own parameter) is left where it is."""
    value = kwargs.get("session", kwargs)
    if value is kwargs or not (value is None or isinstance(value, Session)):
        return None, kwargs
    rest = dict(kwargs)
    del rest["session"]
    return value, rest


async def _awaited_in(context: Context, coroutine: Coroutine[Any, Any, _R]) -> _R:
    token = otel_context.attach(context)
    try:
        result = await coroutine
    finally:
        otel_context.detach(token)
    return _SteppedIn(result, context) if inspect.isasyncgen(result) else result  # type: ignore[return-value]


class _SteppedIn(wrapt.ObjectProxy):  # type: ignore[misc]
    """A generator or async generator (a stream that sends its request when first read, as
    google-genai's) whose every step runs in a session's context; otherwise the object itself."""

    def __init__(self, wrapped: Any, context: Context) -> None:
        super().__init__(wrapped)
        self._self_context = context

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        token = otel_context.attach(self._self_context)
        try:
            return next(self.__wrapped__)
        finally:
            otel_context.detach(token)

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        token = otel_context.attach(self._self_context)
        try:
            return await self.__wrapped__.__anext__()
        finally:
            otel_context.detach(token)


class _EnteredIn(wrapt.ObjectProxy):  # type: ignore[misc]
    """A context manager whose ``__enter__``/``__aenter__`` (where a stream manager sends its
    request) runs in a session's context; otherwise the object itself."""

    def __init__(self, wrapped: Any, context: Context) -> None:
        super().__init__(wrapped)
        self._self_context = context

    def __enter__(self) -> Any:
        token = otel_context.attach(self._self_context)
        try:
            return self.__wrapped__.__enter__()
        finally:
            otel_context.detach(token)

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        token = otel_context.attach(self._self_context)
        try:
            return await self.__wrapped__.__aenter__()
        finally:
            otel_context.detach(token)

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


_STATUS = {
    EndState.SUCCESS: StatusCode.OK,
    EndState.FAILURE: StatusCode.ERROR,
    EndState.INDETERMINATE: StatusCode.UNSET,
}


def parse_session_id(value: object, what: str = "session id") -> uuid.UUID:
    """A session id (UUID, or its string form) -> UUID; anything else -> a clear ValueError."""
    if isinstance(value, uuid.UUID):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = uuid.UUID(value.strip())
        except ValueError:
            raise ValueError(f"{what} must be a UUID string like {str(uuid.UUID(int=1))!r}, got {value!r}") from None
    else:
        raise ValueError(f"{what} must be a UUID string, got {type(value).__name__}")
    if parsed.int == 0:
        raise ValueError(f"{what} must not be the nil UUID (it is not a valid trace id)")
    return parsed


def root_span_id(session_id: str | uuid.UUID) -> int:
    """The root span id of a session: the first 8 bytes of SHA-256 of the UUID bytes (never 0)."""
    digest = hashlib.sha256(parse_session_id(session_id).bytes).digest()
    return int.from_bytes(digest[:8], "big") or 1


@dataclass(frozen=True)
class SessionWiring:
    """What a session needs from the tracing set-up, given when it is created (by the Client).

    ``start_root(trace_id, span_id, attributes, start_ns)`` starts a root span with those ids;
    ``ended(session)`` is told once the root span has ended; ``flush(pipeline, timeout_s)`` waits,
    bounded, for the pipeline to export what it holds.
    """

    tracer: trace.Tracer
    recording: bool  # False before init() and with OTEL_SDK_DISABLED: the session exports nothing
    host_data_in_resource: bool  # the resource carries the host environment already
    pipeline: SpanProcessor | None
    start_root: Callable[[int, int, dict[str, Any], int], trace.Span]
    ended: Callable[[Session], None]
    flush: Callable[[SpanProcessor, float], bool]


class Session:
    """One run of an agent workflow. Create it with ``start_session()``, finish it with ``end_session()``."""

    def __init__(
        self, wiring: SessionWiring, config: Configuration, tags: list[str], session_id: uuid.UUID, inherited: bool
    ) -> None:
        self._wiring = wiring
        self.config = config
        self.session_id = str(session_id)
        self.trace_id = session_id.int
        self.root_span_id = root_span_id(session_id)
        self.is_inherited = inherited
        self.tags = normalise_tags([*config.default_tags, *tags])
        self.init_timestamp = iso_now()
        self.end_timestamp: str | None = None
        self.end_state: str = EndState.INDETERMINATE.value
        self.end_state_reason: str | None = None
        self.video: str | None = None
        self.host_env: dict[str, Any] | None = None if config.env_data_opt_out else host_env()
        self.stats = SessionStats()
        self.pipeline = wiring.pipeline
        self._start_ns = time.time_ns()
        self._start_monotonic = time.monotonic()
        self._end_monotonic: float | None = None
        self._running = True
        self._lock = threading.RLock()  # re-entrant: exit handlers may run while the main thread holds it
        self._root: trace.Span = self._start_root()
        self.root_context: Context = trace.set_span_in_context(self._root, Context())

    # --- root span -------------------------------------------------------------------------
    def _root_attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            sc.SPAN_KIND: sc.KIND_SESSION,
            sc.SESSION_ID: self.session_id,
            sc.SESSION_ID_GENERIC: self.session_id,
            sc.SESSION_TAGS: tuple(self.tags),
        }
        if not self._wiring.host_data_in_resource and not self.config.env_data_opt_out:
            attrs.update(host_attributes())  # the resource (the application's, or opted out at init) lacks them
        return attrs

    def _start_root(self, emit: bool = False) -> trace.Span:
        """The root span: recording if this process emits it (``emit``: an inherited session ending here)."""
        if not emit and (self.is_inherited or not self._wiring.recording):
            remote = SpanContext(
                self.trace_id, self.root_span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
            )
            return NonRecordingSpan(remote)
        return self._wiring.start_root(self.trace_id, self.root_span_id, self._root_attributes(), self._start_ns)

    def _close(self, state: EndState, reason: str | None, video: str | None, emit_root: bool) -> bool:
        """Mark the session ended and end its root span; False if it had already ended."""
        with self._lock:
            if not self._running:
                return False
            self._running = False
            self.end_state, self.end_state_reason, self.video = state.value, reason, video
            self.end_timestamp = iso_now()
            self._end_monotonic = time.monotonic()
            root = self._root
            if self.is_inherited and emit_root and self._wiring.recording:
                root = self._start_root(emit=True)
            if not root.is_recording():
                return True
            root.set_attribute(sc.SESSION_TAGS, tuple(self.tags))
            root.set_attribute(sc.SESSION_END_STATE, state.value)
            if reason is not None:
                root.set_attribute(sc.SESSION_END_STATE_REASON, reason)
            if video is not None:
                root.set_attribute(sc.SESSION_VIDEO, video)
            root.set_status(Status(_STATUS[state], reason if state is EndState.FAILURE else None))
            root.end()
            return True

    # --- public API --------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self._running

    def parent_context(self) -> Context | None:
        """Where a new event span goes: under the current span if it is in this session, else the root."""
        if trace.get_current_span().get_span_context().trace_id == self.trace_id:
            return None  # the current context
        return self.root_context

    def call(self, fn: Callable[..., _R], /, *args: Any, **kwargs: Any) -> _R:
        """``fn(*args, **kwargs)`` with this session current: the LLM calls and events it makes
        belong to this session, whichever sessions run beside it. A coroutine it returns runs in
        the session when awaited, a context manager (a stream manager) is entered in it, and a
        generator (a stream read later) is stepped in it."""
        context = self.parent_context()
        if context is None:  # already inside this session
            return fn(*args, **kwargs)
        token = otel_context.attach(context)
        try:
            result = fn(*args, **kwargs)
        finally:
            otel_context.detach(token)
        if inspect.iscoroutine(result):
            return _awaited_in(context, result)  # type: ignore[return-value]
        if inspect.isgenerator(result) or inspect.isasyncgen(result):
            return _SteppedIn(result, context)  # type: ignore[return-value]
        if hasattr(type(result), "__enter__") or hasattr(type(result), "__aenter__"):
            return _EnteredIn(result, context)  # type: ignore[return-value]
        return result

    def patch(self, func: Callable[..., _R]) -> Callable[..., _R]:
        """``func`` bound to this session (AgentOps' multi-session helper): each call of the result
        runs in this session, e.g. ``create = session.patch(openai.chat.completions.create)``."""

        @functools.wraps(func)
        def in_session(*args: Any, **kwargs: Any) -> _R:
            return self.call(func, *args, **kwargs)

        return in_session

    def record(self, event: AnyEvent, flush_now: bool = False) -> None:
        """Record a finished event as a span of this session; an ``ErrorEvent``'s ``trigger_event``
        is recorded first unless it already was. ``flush_now`` exports it before returning
        (waiting at most ``max_wait_time``)."""
        if not isinstance(event, (Event, ErrorEvent)):
            raise TypeError(f"record() takes an ActionEvent, LLMEvent, ToolEvent or ErrorEvent, got {event!r}")
        if not self._running:
            logger.warning("agentops-otel: session %s has ended; event not recorded", self.session_id)
            return
        parent, capture = self.parent_context(), self.config.capture_message_content
        trigger = event.trigger_event if isinstance(event, ErrorEvent) else None
        if trigger is not None and not trigger.recorded:
            # As AgentOps does: the event that caused the error is recorded too, once, before it.
            record_event(self._wiring.tracer, trigger, parent, capture, self.session_id)
        record_event(self._wiring.tracer, event, parent, capture, self.session_id)
        if flush_now and self.pipeline is not None:
            self._wiring.flush(self.pipeline, self.config.max_wait_time / 1000)

    def add_tags(self, tags: list[str] | str) -> None:
        """Append tags (duplicates ignored)."""
        new = normalise_tags(tags)
        with self._lock:
            self._update_tags(normalise_tags([*self.tags, *new]))

    def set_tags(self, tags: list[str] | str) -> None:
        """Replace the tags."""
        new = normalise_tags(tags)
        with self._lock:
            self._update_tags(new)

    def _update_tags(self, tags: list[str]) -> None:
        if not self._running:
            logger.warning("agentops-otel: session %s has ended; its tags are final", self.session_id)
            return
        self.tags = tags
        self._root.set_attribute(sc.SESSION_TAGS, tuple(tags))

    def duration_seconds(self) -> float:
        end = self._end_monotonic if self._end_monotonic is not None else time.monotonic()
        return end - self._start_monotonic

    def get_analytics(self) -> dict[str, str | int]:
        """``{"LLM calls", "Tool calls", "Actions", "Errors", "Duration", "Cost"}``, computed locally."""
        return analytics(self.stats, self.duration_seconds())

    @property
    def cost(self) -> Decimal:
        return self.stats.cost

    def end_session(
        self,
        end_state: str | EndState = EndState.INDETERMINATE,
        end_state_reason: str | None = None,
        video: str | None = None,
    ) -> Decimal | None:
        """End the session, flush its spans (waiting at most ``max_wait_time``) and return its cost
        in USD. An end state that is not one of :data:`VALID_END_STATES` is a warning, not an
        error: the session stays open and None is returned (as in AgentOps)."""
        try:
            state = EndState.parse(end_state)
        except ValueError as error:
            logger.warning("agentops-otel: session %s not ended: %s", self.session_id, error)
            return None
        for name, value in (("end_state_reason", end_state_reason), ("video", video)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
        if video is None:
            video = self.video  # set_video() before
        if not self._close(state, end_state_reason, video, emit_root=True):
            logger.warning("agentops-otel: session %s has already ended", self.session_id)
            return self.stats.cost
        self._wiring.ended(self)
        if self.pipeline is not None:
            self._wiring.flush(self.pipeline, self.config.max_wait_time / 1000)
        return self.stats.cost

    # --- AgentOps 0.3 names --------------------------------------------------------------------
    @property
    def session_url(self) -> str:
        """This session's page on the collector's dashboard (``Configuration.dashboard_url``)."""
        return self.config.session_url(self.session_id)

    @property
    def token_cost(self) -> Decimal:
        return self.stats.cost

    @property
    def event_counts(self) -> dict[str, int]:
        """Events recorded so far by AgentOps type: ``llms``, ``tools``, ``actions``, ``errors``, ``apis``."""
        stats = self.get_analytics()
        return {
            "llms": int(stats["LLM calls"]),
            "tools": int(stats["Tool calls"]),
            "actions": int(stats["Actions"]),
            "errors": int(stats["Errors"]),
            "apis": 0,
        }

    jwt = None  # AgentOps' cloud session token: nothing here authenticates a session

    def set_video(self, video: str) -> None:
        """The URL of a screen recording of the session, stored when it ends."""
        if not isinstance(video, str):
            raise TypeError(f"video must be a str, got {type(video).__name__}")
        self.video = video

    def create_agent(self, name: str, agent_id: str | None = None) -> str | None:
        """Register an agent in this session (a ``create_agent {name}`` span); returns its id."""
        if not self._running:
            logger.warning("agentops-otel: session %s has ended; agent %r not created", self.session_id, name)
            return None
        agent_id = str(agent_id) if agent_id is not None else str(uuid.uuid4())
        self.record(AgentCreated(name=name, agent_id=agent_id))
        return agent_id

    def end_run(self, error: BaseException | str | None = None) -> None:
        """End a session opened for one framework run, with the run: Success, or Failure with its
        error. Export is not waited for (the run's caller goes on; the exit flush covers it)."""
        if error is None:
            state, reason = EndState.SUCCESS, None
        else:
            state = EndState.FAILURE
            reason = error if isinstance(error, str) else f"{type(error).__qualname__}: {error}"
        # A session joined from a parent process is that process's to end: only mark it ended here.
        if self._close(state, reason, None, emit_root=not self.is_inherited):
            self._wiring.ended(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not self._running:
            return
        if exc is None:
            self.end_session(EndState.SUCCESS)
        else:
            self.end_session(EndState.FAILURE, f"{type(exc).__qualname__}: {exc}")

    def __repr__(self) -> str:
        return f"Session(session_id={self.session_id!r}, end_state={self.end_state!r}, is_running={self._running})"
