"""Instrumentation of CrewAI: crews, tasks, agents and tools as spans of the session.

CrewAI's event bus runs its handlers in a thread pool, so a span opened from an event could not
be current where the work happens. The methods that do the work are wrapped instead, so each
step's span is current while it runs: a crew's ``kickoff`` is an action span named after the
crew, each task's execution an action span ``task {name}``, each agent's work on a task (and a
standalone ``Agent.kickoff``) an agent span ``invoke_agent {role}`` with the agent's id, each
tool run a tool span. CrewAI calls OpenAI models through the ``openai`` library: those calls are
the ``openai`` instrumentor's LLM spans, nested under their agent, once each (calls through
LiteLLM are its instrumentor's, when installed). The outermost step of a run outside any session
is a session of its own, tagged ``crewai``, ended with it.
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._framework import (
    FrameworkInstrumentor,
    Step,
    action_event,
    agent_event,
    close_run,
    end_step,
    open_run,
    start_step,
    tool_event,
)
from agentops_otel.instrumentation._patching import Patch, report_bug, wrap_method

FRAMEWORK = sc.FRAMEWORK_CREWAI

# The CrewAI steps running in this context, innermost last: the outermost one opens the run; a
# step that re-enters itself (a tool's ``run`` calling its structured form) is one span.
_STEPS: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("agentops_crewai_steps", default=())

Describe = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[Any, Step, Any]]  # -> (key, event, params)


def _crew(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Step, Any]:
    name = getattr(instance, "name", None) or "crew"
    inputs = kwargs.get("inputs", args[0] if args else None)
    return instance, action_event(str(name)), inputs


def _task(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Step, Any]:
    name = getattr(instance, "name", None) or (getattr(instance, "description", "") or "task")[:80].rstrip()
    params = {"description": getattr(instance, "description", None)}
    return instance, action_event(f"task {name}"), params


def _agent(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Step, Any]:
    return instance, agent_event(str(getattr(instance, "role", None) or "agent"), getattr(instance, "id", None)), None


def _tool(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Step, Any]:
    name = str(getattr(instance, "name", None) or "tool")
    params: Any = kwargs or (list(args) if args else None)
    if set(kwargs) <= {"input", "config"} and "input" in kwargs:  # CrewStructuredTool.invoke(input=...)
        params = kwargs["input"]
    return ("tool", name), tool_event(name), params


def _returns(result: Any) -> Any:
    """What a step returned: CrewAI's outputs carry their text in ``raw``."""
    raw = getattr(result, "raw", None)
    return raw if isinstance(raw, str) else result


class CrewAIInstrumentor(FrameworkInstrumentor):
    """``BaseInstrumentor`` for CrewAI; also the ``agentops_crewai`` entry point."""

    package = "crewai"
    extra = "crewai"
    requirement = "crewai >= 1.0"
    framework = FRAMEWORK

    _patches: tuple[Patch, ...] = ()

    # (module, class, method, describe, route session=)
    _TARGETS: tuple[tuple[str, str, str, Describe, bool], ...] = (
        ("crewai.crew", "Crew", "kickoff", _crew, True),
        ("crewai.crew", "Crew", "akickoff", _crew, True),
        ("crewai.task", "Task", "_execute_core", _task, False),
        ("crewai.task", "Task", "_aexecute_core", _task, False),
        ("crewai.agent.core", "Agent", "execute_task", _agent, False),
        ("crewai.agent.core", "Agent", "aexecute_task", _agent, False),
        ("crewai.agent.core", "Agent", "kickoff", _agent, True),
        ("crewai.agent.core", "Agent", "akickoff", _agent, True),
        ("crewai.tools.base_tool", "BaseTool", "run", _tool, False),
        ("crewai.tools.base_tool", "BaseTool", "arun", _tool, False),
        ("crewai.tools.base_tool", "Tool", "run", _tool, False),
        ("crewai.tools.base_tool", "Tool", "arun", _tool, False),
        ("crewai.tools.structured_tool", "CrewStructuredTool", "invoke", _tool, False),
        ("crewai.tools.structured_tool", "CrewStructuredTool", "ainvoke", _tool, False),
    )

    def _install(self, module: ModuleType) -> None:
        patches: list[Patch] = []
        try:
            for module_name, class_name, method, describe, sessions in self._TARGETS:
                owner = getattr(importlib.import_module(module_name), class_name)
                if method not in owner.__dict__:
                    continue  # not in this version
                wrapper = self._async_wrapper(describe) if method.startswith("a") else self._wrapper(describe)
                patches.append(wrap_method(owner, method, wrapper, sessions=sessions))
        except Exception:
            for patch in reversed(patches):  # all or nothing
                patch.restore()
            raise
        self._patches = tuple(patches)

    def _remove(self) -> None:
        for patch in reversed(self._patches):
            patch.restore()
        self._patches = ()
        self._installed = False

    # --- the wrappers ---------------------------------------------------------------------------
    def _enter(self, describe: Describe, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Start a step's span and make it current; None when the call is not to be traced."""
        settings = self._settings
        if settings is None:
            return None
        try:
            key, event, params = describe(instance, args, kwargs)
            steps = _STEPS.get()
            if steps and (steps[-1] is key or (type(key) is tuple and steps[-1] == key)):
                return None  # the same step, one layer down (an agent's kickoff running its task)
            target = open_run(settings, FRAMEWORK) if not steps else None
            parent = target.parent if target is not None else None
            span = start_step(settings, FRAMEWORK, event, parent, params=params)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            step_token = _STEPS.set((*steps, key))
            return span, target, token, step_token
        except Exception as exc:
            report_bug("crewai.start", exc)
            return None

    @staticmethod
    def _exit(entered: Any, result: Any = None, error: BaseException | None = None) -> None:
        span, target, token, step_token = entered
        try:
            _STEPS.reset(step_token)
            otel_context.detach(token)
            failed = error if isinstance(error, Exception) else None
            end_step(span, None if error is not None else _returns(result), failed)
        except Exception as exc:
            report_bug("crewai.end", exc)
        if target is not None:
            close_run(target, error if isinstance(error, Exception) else None, FRAMEWORK)

    def _wrapper(self, describe: Describe) -> Callable[..., Any]:
        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            entered = self._enter(describe, instance, args, kwargs)
            if entered is None:
                return wrapped(*args, **kwargs)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                self._exit(entered, error=exc)
                raise
            self._exit(entered, result)
            return result

        return wrapper

    def _async_wrapper(self, describe: Describe) -> Callable[..., Any]:
        async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            entered = self._enter(describe, instance, args, kwargs)
            if entered is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                self._exit(entered, error=exc)
                raise
            self._exit(entered, result)
            return result

        return wrapper
