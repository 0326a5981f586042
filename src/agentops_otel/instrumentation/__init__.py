"""LLM client instrumentation: every OpenAI, Anthropic, Groq, Mistral, Cohere, LiteLLM, Ollama, Google Gen AI
(Gemini and Vertex AI) and AWS Bedrock call becomes an LLM span, with no code change; agent frameworks (OpenAI
Agents SDK, LangChain and LangGraph, CrewAI) become agent, tool and action spans around them.

``instrument()`` is what ``agentops_otel.init(instrument_llm_calls=True)`` calls. It never imports a
library the application has not imported: a library imported later is patched by a wrapt post-import
hook. Calling it again only updates the tracer and switches. ``uninstrument()`` restores the
original methods exactly.

For zero-code use, ``opentelemetry-instrument python app.py`` finds each instrumentor (``OpenAIInstrumentor``,
``AnthropicInstrumentor``, ...) through the ``opentelemetry_instrumentor`` entry points.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.trace import TracerProvider

from agentops_otel.config import Configuration
from agentops_otel.instrumentation._framework import FrameworkInstrumentor
from agentops_otel.instrumentation._library import LibraryInstrumentor
from agentops_otel.instrumentation._settings import RunTarget, make_settings
from agentops_otel.instrumentation.anthropic import AnthropicInstrumentor
from agentops_otel.instrumentation.bedrock import BedrockInstrumentor
from agentops_otel.instrumentation.cohere import CohereInstrumentor
from agentops_otel.instrumentation.crewai import CrewAIInstrumentor
from agentops_otel.instrumentation.google_genai import GoogleGenAIInstrumentor
from agentops_otel.instrumentation.groq import GroqInstrumentor
from agentops_otel.instrumentation.langchain import LangChainInstrumentor
from agentops_otel.instrumentation.litellm import LiteLLMInstrumentor
from agentops_otel.instrumentation.mistral import MistralInstrumentor
from agentops_otel.instrumentation.ollama import OllamaInstrumentor
from agentops_otel.instrumentation.openai import OpenAIInstrumentor
from agentops_otel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

__all__ = [
    "AnthropicInstrumentor",
    "BedrockInstrumentor",
    "CohereInstrumentor",
    "CrewAIInstrumentor",
    "GoogleGenAIInstrumentor",
    "GroqInstrumentor",
    "LangChainInstrumentor",
    "LiteLLMInstrumentor",
    "MistralInstrumentor",
    "OllamaInstrumentor",
    "OpenAIAgentsInstrumentor",
    "OpenAIInstrumentor",
    "instrument",
    "instrumentors",
    "uninstrument",
]


def instrumentors() -> tuple[LibraryInstrumentor | FrameworkInstrumentor, ...]:
    """The instrumentor of every supported library and agent framework (singletons)."""
    return (
        OpenAIInstrumentor(),
        AnthropicInstrumentor(),
        GroqInstrumentor(),
        MistralInstrumentor(),
        LiteLLMInstrumentor(),
        OllamaInstrumentor(),
        CohereInstrumentor(),
        GoogleGenAIInstrumentor(),
        BedrockInstrumentor(),
        OpenAIAgentsInstrumentor(),
        LangChainInstrumentor(),
        CrewAIInstrumentor(),
    )


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    config: Configuration | None = None,
    orphan_parent: Callable[[], Context | None] | None = None,
    run_target: Callable[[str], RunTarget] | None = None,
) -> None:
    """Instrument every supported library, now or when the application imports it. Idempotent.

    Spans come from ``tracer_provider`` (else the global provider) as children of the current
    context; where no span is current, of ``orphan_parent()`` when it gives a context.
    ``run_target(framework)`` says where an agent framework's run records (see ``RunTarget``).
    ``config`` supplies ``capture_message_content`` and ``openai_stream_usage`` (else the
    environment, through ``Configuration.from_env()``).
    """
    settings = make_settings(tracer_provider, config, orphan_parent, run_target)
    for instrumentor in instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.configure(settings)
        else:
            instrumentor.instrument(settings=settings, skip_dep_check=True)


def uninstrument() -> None:
    """Restore every patched method; calls are no longer traced. Safe to call when not instrumented."""
    for instrumentor in instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
