"""agentops-otel: AgentOps-style session tracking for LLM agents, built on OpenTelemetry.

A session is one trace, every event in it one span, exported over OTLP. The functions here act on
the session of the current context, else on the only running one.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from decimal import Decimal
from typing import Any

from agentops_otel.client import Client as _Client
from agentops_otel.client import MultipleSessionsError, get_client, warn_deprecated
from agentops_otel.config import Configuration, normalise_tags
from agentops_otel.decorators import record_action, record_function, record_tool, track_agent
from agentops_otel.events import ActionEvent, AgentEvent, ErrorEvent, Event, EventType, LLMEvent, ToolEvent
from agentops_otel.session import EndState, Session, parse_session_id, root_span_id

__all__ = [
    "ActionEvent",
    "AgentEvent",
    "Client",
    "Configuration",
    "EndState",
    "ErrorEvent",
    "Event",
    "EventType",
    "LLMEvent",
    "MultipleSessionsError",
    "Session",
    "ToolEvent",
    "add_tags",
    "configure",
    "create_agent",
    "end_all_sessions",
    "end_session",
    "get_analytics",
    "get_api_key",
    "get_session",
    "init",
    "record",
    "record_action",
    "record_function",
    "record_tool",
    "root_span_id",
    "set_api_key",
    "set_parent_key",
    "set_tags",
    "start_session",
    "stop_instrumenting",
    "track_agent",
]

logger = logging.getLogger("agentops_otel")
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(Configuration)}


def init(
    api_key: str | None = None,
    parent_key: str | None = None,
    endpoint: str | None = None,
    max_wait_time: int | None = None,
    max_queue_size: int | None = None,
    tags: list[str] | None = None,
    default_tags: list[str] | None = None,
    instrument_llm_calls: bool | None = None,
    auto_start_session: bool | None = None,
    inherited_session_id: str | None = None,
    skip_auto_end_session: bool | None = None,
    env_data_opt_out: bool | None = None,
    **options: Any,
) -> Session | None:
    """Set up tracing and export, instrument LLM clients, and start a session (returned).

    The arguments and their order are AgentOps 0.3's. Arguments left as ``None`` come from
    :func:`configure`, then the environment, then the defaults (``max_wait_time`` 5000 ms,
    ``max_queue_size`` 100000, ``instrument_llm_calls`` and ``auto_start_session`` True).
    ``options`` may set any other :class:`Configuration` field, plus ``tracer_provider`` (attach to
    this SDK TracerProvider) and ``exporter`` (export with this SpanExporter instead of OTLP).
    Calling ``init()`` again changes nothing and returns the running session, if there is one;
    it logs a warning naming the arguments it ignored.
    """
    if "override" in options:  # AgentOps 0.2's name
        override = options.pop("override")
        warn_deprecated("init(override=...) is deprecated; use instrument_llm_calls=...")
        if instrument_llm_calls is None:
            instrument_llm_calls = override
    tracer_provider = options.pop("tracer_provider", None)
    exporter = options.pop("exporter", None)
    unknown = set(options) - _CONFIG_FIELDS
    if unknown:
        raise TypeError(f"init() got unexpected arguments {sorted(unknown)}; valid: {sorted(_CONFIG_FIELDS)}")
    if tags is not None:
        warn_deprecated("init(tags=...) is deprecated; use default_tags=...")
        default_tags = [*normalise_tags(default_tags, "default_tags"), *normalise_tags(tags, "tags")]
    if inherited_session_id is not None:
        inherited_session_id = str(parse_session_id(inherited_session_id, "inherited_session_id"))
    client = get_client()
    if client.initialized:
        assert client.config is not None
        given = {
            "api_key": api_key,
            "parent_key": parent_key,
            "endpoint": endpoint,
            "max_wait_time": max_wait_time,
            "max_queue_size": max_queue_size,
            "default_tags": default_tags,
            "instrument_llm_calls": instrument_llm_calls,
            "auto_start_session": auto_start_session,
            "inherited_session_id": inherited_session_id,
            "skip_auto_end_session": skip_auto_end_session,
            "env_data_opt_out": env_data_opt_out,
            **options,
        }
        if tracer_provider is not None and tracer_provider is not client.provider:
            given["tracer_provider"] = tracer_provider
        if exporter is not None and exporter is not client.injected_exporter:
            given["exporter"] = exporter
        _warn_ignored_on_second_init(client.config, given)
        return client.init(client.config)
    explicit = {
        "api_key": api_key,
        "parent_key": parent_key,
        "endpoint": endpoint,
        "max_wait_time": max_wait_time,
        "max_queue_size": max_queue_size,
        "default_tags": default_tags,
        "instrument_llm_calls": instrument_llm_calls,
        "auto_start_session": auto_start_session,
        "inherited_session_id": inherited_session_id,
        "skip_auto_end_session": skip_auto_end_session,
        "env_data_opt_out": env_data_opt_out,
        **options,
    }
    overrides = {**client.take_pending(), **{k: v for k, v in explicit.items() if v is not None}}
    config = Configuration.from_env(**overrides)
    return client.init(config, tracer_provider=tracer_provider, exporter=exporter)


def _warn_ignored_on_second_init(config: Configuration, given: dict[str, Any]) -> None:
    """A second init() keeps the first one's setup: say which of its arguments that ignores."""
    ignored = [
        name
        for name, value in given.items()
        if value is not None
        and (normalise_tags(value, name) if name == "default_tags" else value) != getattr(config, name, None)
    ]
    if ignored:
        logger.warning(
            "agentops-otel: init() called again; keeping the existing setup and ignoring %s "
            "(start_session(inherited_session_id=..., config=...) starts another session)",
            ", ".join(ignored),
        )
    else:
        logger.debug("agentops-otel: init() called again; keeping the existing setup")


def start_session(
    tags: list[str] | None = None,
    inherited_session_id: str | uuid.UUID | None = None,
    config: Configuration | None = None,
) -> Session:
    """Start a session (or join ``inherited_session_id``) and make it current for the code that follows.

    ``config`` replaces the client's :class:`Configuration` for this session (it is not merged with
    ``init()``'s); the host environment in the resource stays per process (see the README).
    """
    return get_client().start_session(tags=tags, inherited_session_id=inherited_session_id, config=config)


def end_session(
    end_state: str | EndState,
    end_state_reason: str | None = None,
    video: str | None = None,
    is_auto_end: bool | None = False,
) -> Decimal | None:
    """End the current session; returns its cost in USD, or None (with a warning) if no session is
    running or ``end_state`` is not a valid one (the session then stays open). ``is_auto_end``: a
    framework ending the session, skipped with ``skip_auto_end_session``."""
    return get_client().end_session(end_state, end_state_reason, video, is_auto_end)


def record(event: Event | ErrorEvent) -> None:
    """Record an event in the session named by its ``session_id`` if that one is running here,
    else in the current session."""
    if not isinstance(event, (Event, ErrorEvent)):
        raise TypeError(f"record() takes an ActionEvent, LLMEvent, ToolEvent or ErrorEvent, got {event!r}")
    client = get_client()
    if not client.recording and client.initialized:
        return  # OTEL_SDK_DISABLED: nothing to record
    session = client.running_session(event.session_id) if event.session_id is not None else None
    if session is None:
        session = client.current_session("record(...)")
    if session is None:
        logger.warning("agentops-otel: record() called but no session is running; call init() first")
        return
    session.record(event)


def add_tags(tags: list[str] | str) -> None:
    """Append tags to the current session (duplicates ignored)."""
    session = get_client().current_session("add_tags(...)")
    if session is None:
        logger.warning("agentops-otel: add_tags() called but no session is running")
        return
    session.add_tags(tags)


def set_tags(tags: list[str] | str) -> None:
    """Replace the tags of the current session."""
    session = get_client().current_session("set_tags(...)")
    if session is None:
        logger.warning("agentops-otel: set_tags() called but no session is running")
        return
    session.set_tags(tags)


def get_analytics() -> dict[str, str | int] | None:
    """Analytics of the current session (see ``Session.get_analytics``); None if no session is running."""
    session = get_client().current_session("get_analytics()")
    if session is None:
        logger.warning("agentops-otel: get_analytics() called but no session is running")
        return None
    return session.get_analytics()


# --- the rest of AgentOps 0.3's module ---------------------------------------------------------


def configure(
    api_key: str | None = None,
    parent_key: str | None = None,
    endpoint: str | None = None,
    max_wait_time: int | None = None,
    max_queue_size: int | None = None,
    default_tags: list[str] | None = None,
    instrument_llm_calls: bool | None = None,
    auto_start_session: bool | None = None,
    skip_auto_end_session: bool | None = None,
    env_data_opt_out: bool | None = None,
    **options: Any,
) -> None:
    """Change settings (``None`` values ignored): before ``init()``, what it will use; after, for
    sessions started later (refused, with a warning, while a session runs)."""
    get_client().configure(
        api_key=api_key,
        parent_key=parent_key,
        endpoint=endpoint,
        max_wait_time=max_wait_time,
        max_queue_size=max_queue_size,
        default_tags=default_tags,
        instrument_llm_calls=instrument_llm_calls,
        auto_start_session=auto_start_session,
        skip_auto_end_session=skip_auto_end_session,
        env_data_opt_out=env_data_opt_out,
        **options,
    )


def get_api_key() -> str | None:
    """The API key in use (or that ``init()`` will use)."""
    return get_client().api_key


def set_api_key(api_key: str) -> None:
    configure(api_key=api_key)


def set_parent_key(parent_key: str) -> None:
    """The organisation key sent with exports: it reads every project whose key it is parent of
    in the collector's keys file."""
    configure(parent_key=parent_key)


def stop_instrumenting() -> None:
    """Stop recording LLM calls; sessions and decorators go on."""
    get_client().stop_instrumenting()


def create_agent(name: str, agent_id: str | None = None) -> str | None:
    """Register an agent in the current session; returns its id (None, with a warning, without a session)."""
    return get_client().create_agent(name, agent_id)


def get_session(session_id: str | uuid.UUID) -> Session | None:
    """The running session with this id, or None."""
    return get_client().get_session(session_id)


def end_all_sessions() -> None:
    """End every running session (as Indeterminate)."""
    get_client().end_all_sessions()


class Client(_Client):
    """AgentOps' ``Client()``: the process's client (one per process), not a new one."""

    def __new__(cls) -> _Client:  # type: ignore[misc]
        return get_client()


def __getattr__(name: str) -> Any:
    """AgentOps 0.3's LangChain handlers, imported on first use (they subclass langchain_core's)."""
    if name in ("LangchainCallbackHandler", "AsyncLangchainCallbackHandler"):
        from agentops_otel.instrumentation import _langchain_handler

        return getattr(_langchain_handler, name)
    raise AttributeError(f"module 'agentops_otel' has no attribute {name!r}")
