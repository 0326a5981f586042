"""What the instrumentors need from the SDK: a tracer and the two behaviour switches."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import metadata

from opentelemetry import trace
from opentelemetry.trace import Tracer, TracerProvider

from agentops_otel.config import Configuration

SCOPE = "agentops_otel.instrumentation"


@functools.cache  # reading package metadata takes milliseconds; init() may run more than once
def _version() -> str:
    try:
        return metadata.version("agentops-otel")
    except metadata.PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True)
class Settings:
    tracer: Tracer
    capture_content: bool  # gen_ai.input/output.messages, system instructions, tool definitions
    openai_stream_usage: bool  # ask OpenAI for a usage chunk (stream_options.include_usage) when not asked


def make_settings(tracer_provider: TracerProvider | None = None, config: Configuration | None = None) -> Settings:
    """Settings from the SDK's configuration, or from the environment (zero-code ``opentelemetry-instrument``)."""
    if config is None:
        config = Configuration.from_env()
    # Without a provider, trace.get_tracer gives a proxy that follows the global provider, even one set later.
    tracer = trace.get_tracer(SCOPE, _version(), tracer_provider=tracer_provider)
    return Settings(
        tracer=tracer,
        capture_content=bool(config.capture_message_content),
        openai_stream_usage=bool(config.openai_stream_usage),
    )
