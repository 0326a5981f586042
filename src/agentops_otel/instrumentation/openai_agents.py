"""Instrumentation of the OpenAI Agents SDK (``openai-agents``, imported as ``agents``).

A tracing processor registered through the SDK's own hook (``agents.add_trace_processor``) turns
its trace into spans of the session: agent runs into agent spans (``invoke_agent {name}``),
function tools into tool spans (``execute_tool {name}``), handoffs, guardrails, custom spans and
MCP tool listings into action spans. Model calls are left to the ``openai`` instrumentor: each is
one LLM span, nested under its agent because the agent's span is current while the SDK calls the
model. The SDK's own processors (its upload to the OpenAI tracing endpoint included) are left as
the application configured them. A run outside any session is a session of its own (the SDK's
trace), ended with it: Failure when one of its agents ended with an error.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span

from agentops_otel import semconv as sc
from agentops_otel.events import text_value
from agentops_otel.instrumentation._framework import (
    Attached,
    FrameworkInstrumentor,
    action_event,
    agent_event,
    close_run,
    end_step,
    in_context,
    open_run,
    start_step,
    tool_event,
)
from agentops_otel.instrumentation._patching import report_bug
from agentops_otel.instrumentation._settings import RunError, RunTarget, Settings

FRAMEWORK = sc.FRAMEWORK_OPENAI_AGENTS


@dataclass
class _Trace:
    target: RunTarget
    context: Context | None  # where the trace's outermost spans go
    attached: Attached | None
    error: str | None = None  # the first agent error: the run failed


@dataclass
class _Step:
    span: Span | None  # None for SDK spans that are not steps (model calls, turns)
    context: Context | None  # the parent of the SDK span's children
    attached: Attached | None
    trace: _Trace | None = field(default=None, repr=False)


def _error_text(error: Any) -> str | None:
    """The SDK's ``SpanError`` (a dict with ``message`` and ``data``) as one line."""
    if not error:
        return None
    if isinstance(error, dict):
        message = str(error.get("message") or "error")
        data = error.get("data")
        detail = data.get("error") if isinstance(data, dict) else None
        return f"{message}: {detail}" if detail else message
    return str(error)


class AgentsProcessor:
    """The ``TracingProcessor`` registered with the Agents SDK (duck-typed: its interface is six methods)."""

    def __init__(self, instrumentor: OpenAIAgentsInstrumentor) -> None:
        self._instrumentor = instrumentor
        self._traces: dict[str, _Trace] = {}
        self._steps: dict[str, _Step] = {}
        self._lock = threading.Lock()

    # --- traces: one per run (or per ``with trace(...)`` around several) ---------------------------
    def on_trace_start(self, trace: Any) -> None:
        settings = self._instrumentor.settings
        if settings is None:
            return
        try:
            target = open_run(settings, FRAMEWORK)
            parent = target.parent
            attached = Attached(parent) if parent is not None else None
            state = _Trace(target, parent if parent is not None else otel_context.get_current(), attached)
            with self._lock:
                self._traces[trace.trace_id] = state
        except Exception as exc:
            report_bug("AgentsProcessor.on_trace_start", exc)

    def on_trace_end(self, trace: Any) -> None:
        # A run that raises ends its trace while the exception propagates (the SDK's context
        # manager exits): that exception is the run's error; else the first error of its agents.
        raised = sys.exc_info()[1]
        with self._lock:
            state = self._traces.pop(trace.trace_id, None)
        if state is None:
            return
        try:
            if state.attached is not None:
                state.attached.restore()
        except Exception as exc:
            report_bug("AgentsProcessor.on_trace_end", exc)
        error: RunError = raised if isinstance(raised, Exception) else state.error
        close_run(state.target, error, FRAMEWORK)

    # --- spans ---------------------------------------------------------------------------------
    def on_span_start(self, span: Any) -> None:
        settings = self._instrumentor.settings
        if settings is None:
            return
        try:
            with self._lock:
                parent_step = self._steps.get(span.parent_id) if span.parent_id else None
                trace_state = self._traces.get(span.trace_id)
            if parent_step is not None:
                parent = parent_step.context
            elif trace_state is not None:
                parent = trace_state.context
            else:
                parent = otel_context.get_current()
            otel_span = self._start(settings, span.span_data, parent)
            context = in_context(otel_span, parent) if otel_span is not None else parent
            # The SDK makes its spans current while they run: so is ours, so that model calls nest.
            attached = Attached(context) if context is not None else None
            with self._lock:
                self._steps[span.span_id] = _Step(otel_span, context, attached, trace_state)
        except Exception as exc:
            report_bug("AgentsProcessor.on_span_start", exc)

    def on_span_end(self, span: Any) -> None:
        with self._lock:
            step = self._steps.pop(span.span_id, None)
        if step is None:
            return
        try:
            if step.attached is not None:
                step.attached.restore()
            error = _error_text(span.error)
            data = span.span_data
            if step.span is None:
                return
            if data.type == "agent" and error and step.trace is not None and step.trace.error is None:
                step.trace.error = error
            end_step(step.span, self._returns(data, step.span), error)
        except Exception as exc:
            report_bug("AgentsProcessor.on_span_end", exc)

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None

    # --- span data -> steps ---------------------------------------------------------------------
    @staticmethod
    def _start(settings: Settings, data: Any, parent: Context | None) -> Span | None:
        kind = data.type
        if kind == "agent":
            return start_step(settings, FRAMEWORK, agent_event(data.name), parent)
        if kind == "function":
            return start_step(settings, FRAMEWORK, tool_event(data.name), parent)
        if kind == "handoff":
            params = {"from_agent": data.from_agent, "to_agent": data.to_agent}
            return start_step(settings, FRAMEWORK, action_event("handoff"), parent, params=params)
        if kind == "guardrail":
            return start_step(settings, FRAMEWORK, action_event(f"guardrail {data.name}"), parent)
        if kind == "custom":
            return start_step(settings, FRAMEWORK, action_event(data.name), parent, params=data.data or None)
        if kind == "mcp_tools":
            return start_step(settings, FRAMEWORK, action_event(f"list_tools {data.server}"), parent)
        # response / generation: the provider library's LLM span; task / turn: the run and its
        # turns, already the session and its agent spans; speech / transcription: not LLM calls.
        return None

    @staticmethod
    def _returns(data: Any, span: Span) -> Any:
        kind = data.type
        if kind == "function":
            if data.input:  # the SDK fills in the arguments after the span has started
                span.set_attribute(sc.EVENT_PARAMS, text_value(data.input))
            return data.output
        if kind == "handoff":
            # to_agent is known only once the handoff has happened
            return {"to_agent": data.to_agent} if data.to_agent else None
        if kind == "guardrail":
            return {"triggered": bool(data.triggered)}
        if kind == "mcp_tools":
            return data.result
        return None


class OpenAIAgentsInstrumentor(FrameworkInstrumentor):
    """``BaseInstrumentor`` for the OpenAI Agents SDK; also the ``agentops_openai_agents`` entry point."""

    package = "agents"
    extra = "openai-agents"
    requirement = "openai-agents >= 0.2"
    framework = FRAMEWORK

    _processor: AgentsProcessor | None = None

    def _install(self, module: ModuleType) -> None:
        # The SDK has no call to remove one processor: ours is registered once per process and
        # does nothing while the instrumentor is off.
        if self._processor is None:
            processor = AgentsProcessor(self)
            module.add_trace_processor(processor)
            type(self)._processor = processor
