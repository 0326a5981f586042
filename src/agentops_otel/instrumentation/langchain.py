"""Instrumentation of LangChain and LangGraph (through ``langchain_core``'s callbacks).

A callback handler is installed without code changes through ``langchain_core``'s configure hook
(the one LangSmith's tracer uses): every callback manager LangChain builds, for any chain, graph,
agent, tool, retriever or model, gets it as an inheritable handler. Chains and graph nodes become
action spans, agents (``AgentExecutor``, ``create_agent`` graphs) agent spans, tools tool spans,
retrievers action spans. A chat model over an instrumented library (``openai``, ``anthropic``) keeps
exactly that library's LLM span, nested under the step that called it; one over another library
gets its LLM span from LangChain's result (model and tokens). A run outside any session is a
session of its own, tagged ``langchain``, ended with the outermost run.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._framework import FrameworkInstrumentor


class LangChainInstrumentor(FrameworkInstrumentor):
    """``BaseInstrumentor`` for LangChain / LangGraph; also the ``agentops_langchain`` entry point."""

    package = "langchain_core"
    extra = "langchain"
    requirement = "langchain-core >= 0.3"
    framework = sc.FRAMEWORK_LANGCHAIN

    _handler: Any = None

    def _install(self, module: ModuleType) -> None:
        # Imported here: the handler subclasses langchain_core's, imported by the application by now.
        from langchain_core.tracers.context import register_configure_hook

        from agentops_otel.instrumentation._langchain_handler import AgentOpsCallbackHandler

        if self._handler is not None:
            return
        handler = AgentOpsCallbackHandler(self)
        # LangChain has no call to remove a hook: it asks the hook's "context variable" for a
        # handler each time it configures callbacks, and this one answers in every context and
        # thread, with the handler while the instrumentor is on and None (no handler at all) when off.
        register_configure_hook(_HandlerWhileOn(self, handler), inheritable=True)
        type(self)._handler = handler


class _HandlerWhileOn:
    """Stands for the ``ContextVar`` a configure hook reads (only its ``get`` is called)."""

    __slots__ = ("_handler", "_instrumentor")

    def __init__(self, instrumentor: LangChainInstrumentor, handler: Any) -> None:
        self._instrumentor = instrumentor
        self._handler = handler

    def get(self, default: Any = None) -> Any:
        return self._handler if self._instrumentor.settings is not None else default
