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

from agentops_otel.client import MultipleSessionsError, get_client, warn_deprecated
from agentops_otel.config import Configuration, normalise_tags
from agentops_otel.decorators import record_action, record_tool, track_agent
from agentops_otel.events import ActionEvent, AgentEvent, ErrorEvent, Event, EventType, LLMEvent, ToolEvent
from agentops_otel.session import EndState, Session, parse_session_id, root_span_id

__all__ = [
    "ActionEvent",
    "AgentEvent",
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
    "end_session",
    "get_analytics",
    "init",
    "record",
    "record_action",
    "record_tool",
    "root_span_id",
    "set_tags",
    "start_session",
    "track_agent",
]

logger = logging.getLogger("agentops_otel")
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(Configuration)}


def init(
    api_key: str | None = None,
    endpoint: str | None = None,
    max_wait_time: int | None = None,
    max_queue_size: int | None = None,
    default_tags: list[str] | None = None,
    tags: list[str] | None = None,
    instrument_llm_calls: bool | None = None,
    auto_start_session: bool | None = None,
    inherited_session_id: str | None = None,
    skip_auto_end_session: bool | None = None,
    env_data_opt_out: bool | None = None,
    **options: Any,
) -> Session | None:
    """Set up tracing and export, instrument LLM clients, and start a session (returned).

    Arguments left as ``None`` come from the environment, then the defaults (``max_wait_time``
    5000 ms, ``max_queue_size`` 100000, ``instrument_llm_calls`` and ``auto_start_session`` True).
    ``options`` may set any other :class:`Configuration` field, plus ``tracer_provider`` (attach to
    this SDK TracerProvider) and ``exporter`` (export with this SpanExporter instead of OTLP).
    Calling ``init()`` again changes nothing and returns the running session, if there is one;
    it logs a warning naming the arguments it ignored.
    """
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
    config = Configuration.from_env(
        api_key=api_key,
        endpoint=endpoint,
        max_wait_time=max_wait_time,
        max_queue_size=max_queue_size,
        default_tags=default_tags,
        instrument_llm_calls=instrument_llm_calls,
        auto_start_session=auto_start_session,
        inherited_session_id=inherited_session_id,
        skip_auto_end_session=skip_auto_end_session,
        env_data_opt_out=env_data_opt_out,
        **options,
    )
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
    end_state: str | EndState, end_state_reason: str | None = None, video: str | None = None
) -> Decimal | None:
    """End the current session; returns its cost in USD, or None (with a warning) if no session is running."""
    EndState.parse(end_state)  # a bad end state is an error even without a session
    session = get_client().current_session("end_session(...)")
    if session is None:
        logger.warning("agentops-otel: end_session() called but no session is running")
        return None
    return session.end_session(end_state, end_state_reason, video)


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
