"""The LangChain callback handler behind :class:`~agentops_otel.instrumentation.langchain.LangChainInstrumentor`.

Imported only once the application has imported ``langchain_core``. Every run LangChain reports
(a chain, a LangGraph graph or node, an agent, a tool, a retriever, a model call) maps to a span
by its ``run_id``, under the span of its ``parent_run_id``. The handler runs inline (in the
caller's thread or task, async runs included), so each step's span is current while the step
runs: a model call made through an instrumented provider library gets that library's LLM span
there, and the model run records nothing more. A model over a library we do not instrument gets
its LLM span from the run's result.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._call import LLM_CALLS_KEY, Attributes, put, usage_attributes
from agentops_otel.instrumentation._framework import (
    ABANDONED,
    Attached,
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
from agentops_otel.instrumentation._settings import RunError, RunTarget, Settings, make_settings

FRAMEWORK = sc.FRAMEWORK_LANGCHAIN
_HIDDEN_TAG = "langsmith:hidden"  # LangGraph's own plumbing runs (channel writes, branches)
# LangGraph's control flow (an interrupt, a command to the parent graph) travels as exceptions
_CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"})
# LangChain's ls_provider -> gen_ai.provider.name (the others are spelt alike)
_PROVIDERS = {
    "azure": sc.PROVIDER_AZURE_OPENAI,
    "google_vertexai": "gcp.vertex_ai",
    "google_genai": "gcp.gen_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
    "xai": "x_ai",
}


@dataclass
class _Run:
    span: Span | None  # None: the run is not a span of its own (hidden plumbing, a model call)
    context: Context | None  # the parent of its child runs' spans (None: the context current then)
    attached: Attached | None
    target: RunTarget | None = None  # a run with no parent run: where it records, and its session
    llm_calls: list[Span] | None = None  # a model run: the LLM spans instrumentors started in it
    parent: Context | None = None  # a model run: where its own LLM span goes, if it needs one
    start_ns: int = 0
    request: Attributes | None = None


def _abandon(run: _Run) -> None:
    """A run LangChain never ended (see OpenRuns): its span and the session opened for it end."""
    if run.span is not None:
        end_step(run.span)
    if run.target is not None:
        close_run(run.target, ABANDONED, FRAMEWORK)


def _name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ids = serialized.get("id")
        if isinstance(ids, Sequence) and ids and isinstance(ids[-1], str):
            return ids[-1]
    return default


def _is_control_flow(error: BaseException) -> bool:
    """LangGraph's interrupts, and a stream closed or a task cancelled by its consumer: not failures."""
    if not isinstance(error, Exception):  # GeneratorExit, asyncio.CancelledError, KeyboardInterrupt
        return True
    return any(cls.__name__ in _CONTROL_FLOW for cls in type(error).__mro__)


class AgentOpsCallbackHandler(BaseCallbackHandler):
    """Runs of LangChain and LangGraph as spans of the session (see the module docstring)."""

    run_inline = True  # in the caller's context, so that each step's span is current in it
    raise_error = False

    def __init__(self, instrumentor: Any) -> None:
        super().__init__()
        self._instrumentor = instrumentor
        self._runs: OpenRuns[UUID, _Run] = OpenRuns(FRAMEWORK, _abandon)

    # --- bookkeeping ------------------------------------------------------------------------------
    def _settings(self) -> Settings | None:
        return self._instrumentor.settings

    def _parent(self, settings: Settings, parent_run_id: UUID | None) -> tuple[Context | None, RunTarget | None]:
        """The context a new run's span goes under, and the run target when it is the outermost run."""
        if parent_run_id is not None:
            parent = self._runs.get(parent_run_id)
            if parent is not None:
                return parent.context, None
        target = open_run(settings, FRAMEWORK)
        return target.parent, target

    def _begin(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        make_span: Any,
        *,
        hidden: bool = False,
    ) -> None:
        settings = self._settings()
        if settings is None:
            return
        try:
            parent, target = self._parent(settings, parent_run_id)
            span = None if hidden else make_span(settings, parent)
            context = in_context(span, parent) if span is not None else parent
            attached = Attached(context) if span is not None else None
            self._runs.add(run_id, _Run(span, context, attached, target))
        except Exception as exc:
            report_bug("langchain.start", exc)

    def _finish(self, run_id: UUID, returns: Any = None, error: RunError = None) -> None:
        run = self._runs.pop(run_id)
        if run is None:
            return
        try:
            if run.attached is not None:
                run.attached.restore()
            if run.span is not None:
                end_step(run.span, returns, error)
        except Exception as exc:
            report_bug("langchain.end", exc)
        if run.target is not None:
            close_run(run.target, error, FRAMEWORK)

    def _error(self, error: BaseException) -> RunError:
        return None if _is_control_flow(error) else error

    # --- chains, graphs and their nodes, agents ---------------------------------------------------
    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _name(serialized, kwargs, "chain")
        metadata = metadata or {}

        def make_span(settings: Settings, parent: Context | None) -> Span:
            agent_name = metadata.get("lc_agent_name")
            params = inputs if settings.capture_content else None
            if name == "AgentExecutor" or (agent_name and "langgraph_node" not in metadata):
                event = agent_event(agent_name if isinstance(agent_name, str) else name)
            else:
                event = action_event(name)
            return start_step(settings, FRAMEWORK, event, parent, params=params)

        self._begin(run_id, parent_run_id, make_span, hidden=_HIDDEN_TAG in (tags or ()))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        settings = self._settings()
        self._finish(run_id, outputs if settings is not None and settings.capture_content else None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, error=self._error(error))

    # --- tools and retrievers ---------------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = _name(serialized, kwargs, "tool")

        def make_span(settings: Settings, parent: Context | None) -> Span:
            params = inputs if inputs is not None else input_str
            return start_step(settings, FRAMEWORK, tool_event(name), parent, params=params)

        self._begin(run_id, parent_run_id, make_span)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, getattr(output, "content", output))  # a ToolMessage: its content

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, error=self._error(error))

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        name = _name(serialized, kwargs, "retriever")

        def make_span(settings: Settings, parent: Context | None) -> Span:
            return start_step(settings, FRAMEWORK, action_event(name), parent, params={"query": query})

        self._begin(run_id, parent_run_id, make_span)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, [getattr(doc, "page_content", doc) for doc in documents])

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, error=self._error(error))

    # --- model calls ------------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(run_id, parent_run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(run_id, parent_run_id, metadata, kwargs, operation=sc.OP_TEXT_COMPLETION)

    def _model_start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
        operation: str = sc.OP_CHAT,
    ) -> None:
        settings = self._settings()
        if settings is None:
            return
        try:
            parent, target = self._parent(settings, parent_run_id)
            calls: list[Span] = []
            base = parent if parent is not None else otel_context.get_current()
            context = otel_context.set_value(LLM_CALLS_KEY, calls, base)
            run = _Run(None, parent, Attached(context), target, calls, parent, time.time_ns())
            run.request = _request_attributes(metadata or {}, kwargs.get("invocation_params") or {}, operation)
            self._runs.add(run_id, run)
        except Exception as exc:
            report_bug("langchain.model_start", exc)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._model_end(run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._model_end(run_id, None, error)

    def _model_end(self, run_id: UUID, response: Any, error: BaseException | None) -> None:
        run = self._runs.pop(run_id)
        if run is None:
            return
        try:
            if run.attached is not None:
                run.attached.restore()
            settings = self._settings()
            if not run.llm_calls and settings is not None and run.request is not None:
                # no instrumented library saw the call: its span comes from LangChain's result
                self._record_llm(settings, run, response, error)
        except Exception as exc:
            report_bug("langchain.model_end", exc)
        if run.target is not None:
            close_run(run.target, error, FRAMEWORK)

    @staticmethod
    def _record_llm(settings: Settings, run: _Run, response: Any, error: BaseException | None) -> None:
        attrs = dict(run.request or {})
        if response is not None:
            attrs.update(_response_attributes(response))
        model = attrs.get(sc.GEN_AI_REQUEST_MODEL)
        operation = attrs[sc.GEN_AI_OPERATION_NAME]
        name = f"{operation} {model}" if model else operation
        span = settings.tracer.start_span(
            name, context=run.parent, kind=SpanKind.CLIENT, attributes=attrs, start_time=run.start_ns
        )
        end_step(span, error=error)


def _request_attributes(metadata: Mapping[str, Any], params: Mapping[str, Any], operation: str) -> Attributes:
    attrs: Attributes = {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_OPERATION_NAME: operation, sc.FRAMEWORK: FRAMEWORK}
    provider = metadata.get("ls_provider")
    if isinstance(provider, str) and provider:
        attrs[sc.GEN_AI_PROVIDER_NAME] = _PROVIDERS.get(provider, provider)
    model = params.get("model") or params.get("model_name") or metadata.get("ls_model_name")
    put(attrs, sc.GEN_AI_REQUEST_MODEL, model)
    put(attrs, sc.GEN_AI_REQUEST_TEMPERATURE, params.get("temperature", metadata.get("ls_temperature")))
    put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, params.get("max_tokens", metadata.get("ls_max_tokens")))
    put(attrs, sc.GEN_AI_REQUEST_TOP_P, params.get("top_p"))
    return attrs


def _response_attributes(response: Any) -> Attributes:
    """Model, finish reasons and usage of an ``LLMResult``: the messages' ``usage_metadata``
    (LangChain's standard counts), else the provider's ``token_usage`` in ``llm_output``."""
    attrs: Attributes = {}
    llm_output = getattr(response, "llm_output", None) or {}
    generations = [g for batch in getattr(response, "generations", None) or () for g in batch]
    model = llm_output.get("model_name") or llm_output.get("model")
    reasons = []
    inputs = outputs = cache_read = cache_creation = reasoning = None
    for generation in generations:
        info = getattr(generation, "generation_info", None) or {}
        reason = info.get("finish_reason") or info.get("stop_reason") or info.get("done_reason")
        if isinstance(reason, str):
            reasons.append(reason)
        message = getattr(generation, "message", None)
        model = model or (getattr(message, "response_metadata", None) or {}).get("model_name")
        usage = getattr(message, "usage_metadata", None)
        if not usage:
            continue
        inputs = (inputs or 0) + int(usage.get("input_tokens") or 0)
        outputs = (outputs or 0) + int(usage.get("output_tokens") or 0)
        in_details = usage.get("input_token_details") or {}
        out_details = usage.get("output_token_details") or {}
        if "cache_read" in in_details:
            cache_read = (cache_read or 0) + int(in_details["cache_read"] or 0)
        if "cache_creation" in in_details:
            cache_creation = (cache_creation or 0) + int(in_details["cache_creation"] or 0)
        if "reasoning" in out_details:
            reasoning = (reasoning or 0) + int(out_details["reasoning"] or 0)
    if inputs is None:
        token_usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
        inputs = token_usage.get("prompt_tokens", token_usage.get("input_tokens"))
        outputs = token_usage.get("completion_tokens", token_usage.get("output_tokens"))
    put(attrs, sc.GEN_AI_RESPONSE_MODEL, model)
    put(attrs, sc.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
    usage_attributes(
        attrs,
        input_tokens=inputs,
        output_tokens=outputs,
        cache_read=cache_read,
        cache_creation=cache_creation,
        reasoning=reasoning,
    )
    return attrs


class _ClientSettings:
    """The settings of an explicitly given handler: those of the process's client, once it records."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings | None:
        from agentops_otel.client import get_client
        from agentops_otel.instrumentation.langchain import LangChainInstrumentor

        if LangChainInstrumentor().settings is not None:
            return None  # instrumented: the installed handler records every run already, once
        if self._settings is None:
            client = get_client()
            if not client.recording:
                return None
            self._settings = make_settings(
                client.provider, client.config, client.lone_session_context, client.run_target
            )
        return self._settings


class LangchainCallbackHandler(AgentOpsCallbackHandler):
    """AgentOps 0.3's LangChain handler, given by hand (``callbacks=[LangchainCallbackHandler()]``).

    It records the runs of what it is given to while LangChain is not instrumented: CrewAI's
    AgentOps integration calls ``stop_instrumenting()`` and then adds one to its LLM, whose calls
    then get their LLM spans from the callback. While LangChain is instrumented it does nothing
    (the installed handler records those runs, once). 0.3's arguments initialise the SDK when
    ``init()`` has not run yet, its sessions tagged ``langchain`` and ``sync`` by default as 0.3's were.
    """

    DEFAULT_TAGS = ("langchain", "sync")

    def __init__(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        max_wait_time: int | None = None,
        max_queue_size: int | None = None,
        default_tags: list[str] | None = None,
    ) -> None:
        if default_tags is None:
            default_tags = list(self.DEFAULT_TAGS)
        super().__init__(_ClientSettings())
        from agentops_otel.client import get_client

        if not get_client().initialized:
            import agentops_otel

            agentops_otel.init(
                api_key=api_key,
                endpoint=endpoint,
                max_wait_time=max_wait_time,
                max_queue_size=max_queue_size,
                default_tags=default_tags,
            )


class AsyncLangchainCallbackHandler(LangchainCallbackHandler):
    """AgentOps 0.3's async name: the same handler (it runs inline in sync and async runs alike),
    whose sessions are tagged ``langchain`` and ``async`` by default, as 0.3's were."""

    DEFAULT_TAGS = ("langchain", "async")
