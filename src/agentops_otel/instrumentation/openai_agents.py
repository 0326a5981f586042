"""Instrumentation of the OpenAI Agents SDK (``openai-agents``, imported as ``agents``).

A tracing processor registered through the SDK's own hook (``agents.add_trace_processor``) turns
its trace into spans of the session: agent runs into agent spans (``invoke_agent {name}``),
function tools into tool spans (``execute_tool {name}``), handoffs, guardrails, custom spans and
MCP tool listings into action spans. Model calls are left to the ``openai`` instrumentor: each is
one LLM span, nested under its agent because the agent's span is current while the SDK calls the
model; a model that does not go through an instrumented library (a custom ``Model``) gets its LLM
span from the SDK's generation span (model and usage). The SDK's own processors (its upload to
the OpenAI tracing endpoint included) are left as the application configured them. A run outside
any session is a session of its own (the SDK's trace), ended with it: Failure with the exception
the run raised, or when one of its agents ended with an error.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from agentops_otel import semconv as sc
from agentops_otel.events import text_value
from agentops_otel.instrumentation._call import LLM_CALLS_KEY, put, usage_attributes
from agentops_otel.instrumentation._framework import (
    ABANDONED,
    Attached,
    FrameworkInstrumentor,
    OpenRuns,
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
    llm_calls: list[Span] | None = None  # a model call: the LLM spans instrumentors started in it
    parent: Context | None = None
    start_ns: int = 0


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


def _abandon_trace(state: _Trace) -> None:
    """A trace the SDK never ended (see OpenRuns): the session opened for it ends."""
    close_run(state.target, ABANDONED, FRAMEWORK)


def _abandon_step(step: _Step) -> None:
    if step.span is not None:
        end_step(step.span)


class AgentsProcessor:
    """The ``TracingProcessor`` registered with the Agents SDK (duck-typed: its interface is six methods)."""

    def __init__(self, instrumentor: OpenAIAgentsInstrumentor) -> None:
        self._instrumentor = instrumentor
        self._traces: OpenRuns[str, _Trace] = OpenRuns(FRAMEWORK, _abandon_trace)
        self._steps: OpenRuns[str, _Step] = OpenRuns(FRAMEWORK, _abandon_step)

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
            self._traces.add(trace.trace_id, state)
        except Exception as exc:
            report_bug("AgentsProcessor.on_trace_start", exc)

    def on_trace_end(self, trace: Any) -> None:
        # A run that raises ends its trace while the exception propagates (the SDK's context
        # manager exits): that exception is the run's error; else the first error of its agents.
        raised = sys.exc_info()[1]
        state = self._traces.pop(trace.trace_id)
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
            parent_step = self._steps.get(span.parent_id) if span.parent_id else None
            trace_state = self._traces.get(span.trace_id)
            if parent_step is not None:
                parent = parent_step.context
            elif trace_state is not None:
                parent = trace_state.context
            else:
                parent = otel_context.get_current()
            data = span.span_data
            otel_span = self._start(settings, data, parent)
            context = in_context(otel_span, parent) if otel_span is not None else parent
            calls: list[Span] | None = None
            if data.type in _MODEL_CALLS:  # mark it: an instrumentor's LLM span started inside is seen
                calls = []
                context = otel_context.set_value(LLM_CALLS_KEY, calls, context)
            # The SDK makes its spans current while they run: so is ours, so that model calls nest.
            attached = Attached(context) if context is not None else None
            step = _Step(otel_span, context, attached, trace_state, calls, parent, time.time_ns())
            self._steps.add(span.span_id, step)
        except Exception as exc:
            report_bug("AgentsProcessor.on_span_start", exc)

    def on_span_end(self, span: Any) -> None:
        step = self._steps.pop(span.span_id)
        if step is None:
            return
        try:
            if step.attached is not None:
                step.attached.restore()
            error = _error_text(span.error)
            data = span.span_data
            if step.llm_calls is not None and not step.llm_calls:
                # a model not called through an instrumented library (a custom Model): its span
                # comes from what the SDK recorded of the call
                settings = self._instrumentor.settings
                if settings is not None:
                    _record_llm(settings, step, data, error)
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


_MODEL_CALLS = frozenset({"generation", "response"})


def _record_llm(settings: Settings, step: _Step, data: Any, error: str | None) -> None:
    """An LLM span from a generation span's model and usage (or a response span's ``Response``)."""
    attrs: dict[str, Any] = {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.FRAMEWORK: FRAMEWORK}
    usage: Any = getattr(data, "usage", None)
    model = getattr(data, "model", None)
    response = getattr(data, "response", None)
    if response is not None:
        model = model or getattr(response, "model", None)
        put(attrs, sc.GEN_AI_RESPONSE_ID, getattr(response, "id", None))
        usage = usage or getattr(response, "usage", None)
    put(attrs, sc.GEN_AI_REQUEST_MODEL, model if isinstance(model, str) else None)
    if usage is not None and not isinstance(usage, dict):
        usage = usage.model_dump() if hasattr(usage, "model_dump") else vars(usage)
    usage = usage or {}
    details_in = usage.get("input_tokens_details") or {}
    details_out = usage.get("output_tokens_details") or {}
    usage_attributes(
        attrs,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read=details_in.get("cached_tokens") if isinstance(details_in, dict) else None,
        reasoning=details_out.get("reasoning_tokens") if isinstance(details_out, dict) else None,
    )
    name = f"{sc.OP_CHAT} {attrs[sc.GEN_AI_REQUEST_MODEL]}" if sc.GEN_AI_REQUEST_MODEL in attrs else sc.OP_CHAT
    span = settings.tracer.start_span(
        name, context=step.parent, kind=SpanKind.CLIENT, attributes=attrs, start_time=step.start_ns
    )
    end_step(span, error=error)


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
