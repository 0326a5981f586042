"""What the agent-framework instrumentors share: lazy installation, the session of a run, and the
framework's steps as event spans of the span contract.

A framework step (an agent run, a tool call, a chain, a handoff) becomes the same span a
``track_agent`` / ``record_tool`` / ``record_action`` call makes (kind, name and attributes come
from the event classes), plus ``agentops.framework``. Model calls are not framework spans: the
provider library's instrumentor records them, nested under the step current when they are made.
"""

from __future__ import annotations

import functools
import threading
from abc import abstractmethod
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from agentops_otel import semconv as sc
from agentops_otel.events import ActionEvent, AgentEvent, Event, ToolEvent, text_value
from agentops_otel.instrumentation._lazy import LazyInstrumentor
from agentops_otel.instrumentation._patching import report_bug, warn_once
from agentops_otel.instrumentation._settings import RunError, RunTarget, Settings

_NO_TARGET = RunTarget(None)


class FrameworkInstrumentor(LazyInstrumentor):
    """Installs a framework's hook when the application imports ``package`` (never importing it here).

    A hook that cannot be removed (a registered processor or callback handler) stays installed and
    does nothing while the instrumentor is off (``settings`` is None).
    """

    extra: ClassVar[str]  # the package's extra in pyproject.toml, the same range as ``requirement``
    framework: ClassVar[str]  # agentops.framework, and the tag of a session a run opens

    _installed: bool = False

    @property
    def settings(self) -> Settings | None:
        return self._settings

    def _uninstrument(self, **kwargs: Any) -> None:
        self._settings = None
        self._remove()

    def _on_import(self, module: ModuleType) -> None:
        if self._settings is None or self._installed:
            return
        try:
            self._install(module)
            self._installed = True
        except Exception as exc:
            warn_once(
                f"unsupported:{self.package}",
                "agentops-otel: %s %s is not supported by the framework instrumentation (%r); its runs are not traced",
                self.package,
                getattr(module, "__version__", "?"),
                exc,
            )

    @abstractmethod
    def _install(self, module: ModuleType) -> None:
        """Register the framework's hook (once per process)."""

    def _remove(self) -> None:
        """Undo what ``_install`` did, where the framework allows it."""


# --- runs and their sessions -------------------------------------------------------------------
def open_run(settings: Settings, framework: str) -> RunTarget:
    """Where a run that starts outside any other run of the framework records (never raises)."""
    if settings.run_target is None:
        return _NO_TARGET
    try:
        return settings.run_target(framework)
    except Exception as exc:
        report_bug(f"{framework}.open_run", exc)
        return _NO_TARGET


def close_run(target: RunTarget, error: RunError, framework: str) -> None:
    if target.end is None:
        return
    try:
        target.end(error)
    except Exception as exc:
        report_bug(f"{framework}.close_run", exc)


# Runs a framework started and has not ended, kept per framework hook: a framework that never
# reports an end (a run dropped by its caller) must not grow them without bound.
MAX_OPEN_RUNS = 10_000
ABANDONED = f"the run never ended (agentops-otel keeps at most {MAX_OPEN_RUNS:,} runs open)"
_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class OpenRuns(Generic[_K, _V]):
    """A thread-safe table of open runs by the framework's id, at most ``limit`` of them: past that
    the oldest is given up, ``abandon(run)`` ending what it started (said once per framework)."""

    def __init__(self, framework: str, abandon: Callable[[_V], None], limit: int = MAX_OPEN_RUNS) -> None:
        self._framework = framework
        self._abandon = abandon
        self._limit = limit
        self._runs: dict[_K, _V] = {}  # in start order: the first is the oldest
        self._lock = threading.Lock()

    def add(self, key: _K, run: _V) -> None:
        given_up = []
        with self._lock:
            self._runs[key] = run
            while len(self._runs) > self._limit:
                oldest = next(iter(self._runs))
                given_up.append(self._runs.pop(oldest))
        for old in given_up:
            warn_once(
                f"abandoned:{self._framework}",
                "agentops-otel: more than %d %s runs are open; the oldest never ended and is ended now "
                "(its span ends; a session opened for it ends as Failure)",
                self._limit,
                self._framework,
            )
            try:
                self._abandon(old)
            except Exception as exc:
                report_bug(f"{self._framework}.abandon", exc)

    def get(self, key: _K) -> _V | None:
        with self._lock:
            return self._runs.get(key)

    def pop(self, key: _K) -> _V | None:
        with self._lock:
            return self._runs.pop(key, None)

    def __len__(self) -> int:
        return len(self._runs)


# --- steps as event spans ----------------------------------------------------------------------
class Step(NamedTuple):
    """A framework step: the event kind it stands for, its name, and an agent's id."""

    kind: str
    name: str | None
    agent_id: Any = None


def agent_event(name: str | None, agent_id: Any = None) -> Step:
    return Step(sc.KIND_AGENT, name, agent_id)


def tool_event(name: str | None) -> Step:
    return Step(sc.KIND_TOOL, name)


def action_event(action_type: str | None) -> Step:
    return Step(sc.KIND_ACTION, action_type)


@functools.lru_cache(maxsize=4096)  # one entry per distinct step name: chains, nodes, tools, agents
def _shape(kind: str, name: str | None, framework: str) -> tuple[str, dict[str, Any]]:
    """Span name and attributes of a step, as ``track_agent`` / ``record_tool`` / ``record_action``
    give them (computed once per name; the event id is per call there too, so left out)."""
    event: Event
    if kind == sc.KIND_AGENT:
        event = AgentEvent(name=name)
    elif kind == sc.KIND_TOOL:
        event = ToolEvent(name=name)
    else:
        event = ActionEvent(action_type=name)
    attributes = event.attributes(capture_content=False)
    del attributes[sc.EVENT_ID]
    attributes[sc.FRAMEWORK] = framework
    return event.span_name(), attributes


def start_step(
    settings: Settings,
    framework: str,
    step: Step,
    parent: Context | None,
    params: Any = None,
    start_time: int | None = None,
) -> Span:
    """The span of one framework step, shaped like the event it stands for."""
    name, shared = _shape(step.kind, step.name, framework)
    attributes = dict(shared)
    if step.agent_id is not None:
        attributes[sc.AGENT_ID] = attributes[sc.GEN_AI_AGENT_ID] = str(step.agent_id)
    if params is not None:
        attributes[sc.EVENT_PARAMS] = text_value(params)
    return settings.tracer.start_span(
        name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes, start_time=start_time
    )


def end_step(span: Span, returns: Any = None, error: RunError = None) -> None:
    """End a step's span with what it returned, or as failed (status ERROR, ``error.type``)."""
    if returns is not None:
        span.set_attribute(sc.EVENT_RETURNS, text_value(returns))
    if isinstance(error, BaseException):
        error_type = type(error).__qualname__
        span.record_exception(error, escaped=True)
        span.set_attribute(sc.ERROR_TYPE, error_type)
        span.set_status(Status(StatusCode.ERROR, f"{error_type}: {error}"))
    elif error is not None:
        span.set_attribute(sc.ERROR_TYPE, error)
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


class Attached:
    """A context made current for the code a step runs, put back when the step ends.

    Frameworks start and end a step in the same task or thread, so the context is swapped there;
    if the step ends elsewhere, or something else became current meanwhile, nothing is touched.
    """

    __slots__ = ("context", "previous")

    def __init__(self, context: Context) -> None:
        self.previous = otel_context.get_current()
        self.context = context
        otel_context.attach(context)

    def restore(self) -> None:
        if otel_context.get_current() is self.context:
            otel_context.attach(self.previous)


def in_context(span: Span, parent: Context | None) -> Context:
    return trace.set_span_in_context(span, parent)
