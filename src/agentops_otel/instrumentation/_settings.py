"""What the instrumentors need from the SDK: a tracer, two behaviour switches and where orphan calls go."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Union

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Tracer, TracerProvider

from agentops_otel.config import Configuration

SCOPE = "agentops_otel.instrumentation"


@functools.cache  # reading package metadata takes milliseconds; init() may run more than once
def _version() -> str:
    try:
        return metadata.version("agentops-otel")
    except metadata.PackageNotFoundError:
        return "0.0.0"


RunError = Union[BaseException, str, None]  # noqa: UP007 (a runtime alias on Python 3.10)


@dataclass(frozen=True)
class RunTarget:
    """Where one agent-framework run records: ``parent`` is the context of its outermost spans;
    ``end`` ends the session opened for the run (None when it records into a running session)."""

    parent: Context | None
    end: Callable[[RunError], None] | None = None


@dataclass(frozen=True)
class Settings:
    tracer: Tracer
    capture_content: bool  # gen_ai.input/output.messages, system instructions, tool definitions
    openai_stream_usage: bool  # ask OpenAI for a usage chunk (stream_options.include_usage) when not asked
    # The parent of a call made where no span is current (a plain thread starts with an empty
    # context): under init(), the root of the only running session; None leaves the call a new trace.
    orphan_parent: Callable[[], Context | None] | None = None
    # Where a framework run (an agent run, a chain, a crew) records: under init(), the current
    # session, else a session of its own; None leaves its spans under the current context.
    run_target: Callable[[str], RunTarget] | None = None


def make_settings(
    tracer_provider: TracerProvider | None = None,
    config: Configuration | None = None,
    orphan_parent: Callable[[], Context | None] | None = None,
    run_target: Callable[[str], RunTarget] | None = None,
) -> Settings:
    """Settings from the SDK's configuration, or from the environment (zero-code ``opentelemetry-instrument``)."""
    if config is None:
        config = Configuration.from_env()
    # Without a provider, trace.get_tracer gives a proxy that follows the global provider, even one set later.
    tracer = trace.get_tracer(SCOPE, _version(), tracer_provider=tracer_provider)
    return Settings(
        tracer=tracer,
        capture_content=bool(config.capture_message_content),
        openai_stream_usage=bool(config.openai_stream_usage),
        orphan_parent=orphan_parent,
        run_target=run_target,
    )
