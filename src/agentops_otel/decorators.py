"""``record_action``, ``record_tool`` and ``track_agent``: each call of the decorated function is a span.

They work on sync, async, generator and async-generator functions, and on classes (every public
method, and ``__call__``, is wrapped). The span is current while the function body runs, so
everything it records or calls (LLM calls included) nests under it. An exception is recorded on
the span (status ERROR, ``error.type``, exception event) and re-raised unchanged; the return value
is never touched. Outside any session, or if recording itself fails, the function simply runs.
On a class, ``track_agent`` gives each instance an agent id once its own ``__init__`` has run;
instances that refuse new attributes (``__slots__``, frozen dataclasses, pydantic models) keep
theirs beside them (:func:`agent_id_of`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import uuid
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from agentops_otel import semconv as sc
from agentops_otel.client import get_client, warn_deprecated
from agentops_otel.events import ActionEvent, AgentEvent, Event, ToolEvent, text_value
from agentops_otel.recording import EventSpan, session_attributes
from agentops_otel.session import Session, pop_session

logger = logging.getLogger("agentops_otel")

F = TypeVar("F", bound=Callable[..., Any])
AGENT_ID_ATTR = "agent_ops_agent_id"  # the AgentOps instance attributes set by track_agent
AGENT_NAME_ATTR = "agent_ops_agent_name"
_NOT_ERRORS = (asyncio.CancelledError, GeneratorExit)  # control flow, not failures
# Agent ids of instances that refuse new attributes (__slots__, frozen dataclasses, pydantic models),
# by id(); each entry goes when its instance does. A weak reference, not a WeakKeyDictionary: such
# instances are often unhashable.
_side_ids: dict[int, tuple[weakref.ref[Any], str, str]] = {}
_side_lock = threading.Lock()


@dataclass(frozen=True)
class _Spec:
    kind: str  # "action" | "tool" | "agent"
    name: str | None


def _static_event(spec: _Spec, fn_name: str) -> Event:
    """The event every call starts from; its attributes are computed once per decorated function."""
    name = spec.name or fn_name
    if spec.kind == sc.KIND_TOOL:
        return ToolEvent(name=name)
    if spec.kind == sc.KIND_AGENT:
        return AgentEvent(name=name)
    return ActionEvent(action_type=name)


class _Call:
    """What one decorated function needs at each call, prepared once: span name, kind, attributes."""

    def __init__(self, fn: Callable[..., Any], spec: _Spec, method: bool) -> None:
        self.spec = spec
        self.method = method
        qualname = getattr(fn, "__qualname__", repr(fn))
        event = _static_event(spec, getattr(fn, "__name__", "call"))
        self.span_name = event.span_name()
        self.span_kind = event.otel_kind()
        self.attributes = event.attributes(capture_content=False)
        del self.attributes[sc.EVENT_ID]
        self.attributes[sc.CODE_FUNCTION_NAME] = qualname
        self.qualname = qualname
        self.positional: tuple[str, ...] = ()
        self.signature: inspect.Signature | None = None
        self.takes_session = False  # the function has a parameter of its own named session
        try:
            self.signature = inspect.signature(fn)
            kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            self.positional = tuple(p.name for p in self.signature.parameters.values() if p.kind in kinds)
            self.takes_session = "session" in self.signature.parameters
        except (TypeError, ValueError):
            pass

    def session_argument(self, kwargs: dict[str, Any]) -> tuple[Session | None, dict[str, Any]]:
        """AgentOps' ``session=`` (the session to record the call in), removed from the arguments
        unless the function declares a ``session`` parameter of its own."""
        if "session" not in kwargs:
            return None, kwargs
        session, rest = pop_session(kwargs)
        return session, (kwargs if self.takes_session else rest)

    def params(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.method:
            args, positional = args[1:], self.positional[1:]
        else:
            positional = self.positional
        if len(args) <= len(positional):  # the common case, without inspect's slower bind()
            arguments = dict(zip(positional, args, strict=False))
            arguments.update(kwargs)
            return arguments
        return {"args": list(args), "kwargs": kwargs}

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any], session: Session | None = None) -> EventSpan | None:
        """Start this call's span in ``session`` (default: the current one), or None (outside a
        session, or on any internal error)."""
        try:
            client = get_client()
            if not client.recording:
                return None  # not initialised, or OTEL_SDK_DISABLED: just run the function
            target = (session, session.parent_context()) if session is not None else client.event_parent()
            if target is None:
                return None
            session, parent = target
            attributes = dict(self.attributes)
            attributes[sc.EVENT_PARAMS] = text_value(self.params(args, kwargs))
            attributes.update(session_attributes(session.session_id))
            span_name = self.span_name
            if self.spec.kind == sc.KIND_AGENT and self.method and args:
                agent_id = agent_id_of(args[0])
                if agent_id is not None:
                    attributes[sc.AGENT_ID] = attributes[sc.GEN_AI_AGENT_ID] = agent_id
                agent_name = agent_name_of(args[0])
                if agent_name is not None and agent_name != self.spec.name:  # agentops_name=... or a role
                    attributes[sc.AGENT_NAME] = attributes[sc.GEN_AI_AGENT_NAME] = agent_name
                    span_name = f"{sc.OP_INVOKE_AGENT} {agent_name}"
            return EventSpan(client.tracer, span_name, self.span_kind, attributes, parent).start()
        except Exception:
            logger.warning("agentops-otel: could not record a call of %s", self.qualname, exc_info=True)
            return None


def _stop(recording: EventSpan | None, result: Any = None) -> None:
    if recording is None:
        return
    try:
        recording.stop(result)
    except Exception:
        logger.warning("agentops-otel: could not end an event span", exc_info=True)


def _fail(recording: EventSpan | None, exc: BaseException) -> None:
    if recording is None:
        return
    try:
        if isinstance(exc, _NOT_ERRORS):
            recording.stop()
        else:
            recording.fail(exc)
    except Exception:
        logger.warning("agentops-otel: could not record an exception", exc_info=True)


def _wrap_function(fn: F, spec: _Spec, method: bool = False) -> F:
    call = _Call(fn, spec, method)

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            session, kwargs = call.session_argument(kwargs)
            recording = call.start(args, kwargs, session)
            agen = fn(*args, **kwargs)
            send: Any = agen.asend
            payload: Any = None
            while True:
                token = otel_context.attach(recording.context()) if recording else None
                try:
                    item = await send(payload)
                except StopAsyncIteration:
                    _stop(recording)
                    return
                except BaseException as exc:
                    _fail(recording, exc)
                    raise
                finally:
                    if token is not None:
                        otel_context.detach(token)
                try:
                    payload = yield item
                    send = agen.asend
                except GeneratorExit:
                    await agen.aclose()
                    _stop(recording)
                    raise
                except BaseException as exc:
                    send, payload = agen.athrow, exc

        return async_gen_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            session, kwargs = call.session_argument(kwargs)
            recording = call.start(args, kwargs, session)
            gen = fn(*args, **kwargs)
            send: Any = gen.send
            payload: Any = None
            while True:
                token = otel_context.attach(recording.context()) if recording else None
                try:
                    item = send(payload)
                except StopIteration as stop:
                    _stop(recording, stop.value)
                    return stop.value
                except BaseException as exc:
                    _fail(recording, exc)
                    raise
                finally:
                    if token is not None:
                        otel_context.detach(token)
                try:
                    payload = yield item
                    send = gen.send
                except GeneratorExit:
                    gen.close()
                    _stop(recording)
                    raise
                except BaseException as exc:
                    send, payload = gen.throw, exc

        return gen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            session, kwargs = call.session_argument(kwargs)
            recording = call.start(args, kwargs, session)
            if recording is None:
                return await fn(*args, **kwargs)
            token = otel_context.attach(recording.context())
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _fail(recording, exc)
                raise
            finally:
                otel_context.detach(token)
            _stop(recording, result)
            return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session, kwargs = call.session_argument(kwargs)
        recording = call.start(args, kwargs, session)
        if recording is None:
            return fn(*args, **kwargs)
        token = otel_context.attach(recording.context())
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _fail(recording, exc)
            raise
        finally:
            otel_context.detach(token)
        _stop(recording, result)
        return result

    return wrapper  # type: ignore[return-value]


def _wrap_class(cls: type, spec: _Spec) -> type:
    for attr, value in list(vars(cls).items()):
        if attr.startswith("_") and attr != "__call__":
            continue
        if isinstance(value, staticmethod):
            setattr(cls, attr, staticmethod(_wrap_function(value.__func__, spec)))
        elif isinstance(value, classmethod):
            setattr(cls, attr, classmethod(_wrap_function(value.__func__, spec, method=True)))
        elif inspect.isfunction(value):
            setattr(cls, attr, _wrap_function(value, spec, method=True))
    return cls


def _forget(key: int) -> Callable[[weakref.ref[Any]], None]:
    def forget(ref: weakref.ref[Any]) -> None:
        with _side_lock:
            if _side_ids.get(key, (None,))[0] is ref:
                del _side_ids[key]

    return forget


def _set_agent_ids(instance: Any, agent_id: str, name: str) -> None:
    """Give ``instance`` its agent id and name, as attributes if it takes them; never raises."""
    try:
        setattr(instance, AGENT_ID_ATTR, agent_id)
        setattr(instance, AGENT_NAME_ATTR, name)
        return
    except Exception:  # the instance refuses attributes: keep them beside it, leave it untouched
        pass
    try:
        key = id(instance)
        ref = weakref.ref(instance, _forget(key))
        with _side_lock:
            _side_ids[key] = (ref, agent_id, name)
    except TypeError:  # __slots__ without __weakref__: nowhere to keep an id
        logger.debug("agentops-otel: %s instances take no agent id", type(instance).__qualname__)


def _side_entry(instance: Any) -> tuple[weakref.ref[Any], str, str] | None:
    entry = _side_ids.get(id(instance))
    return entry if entry is not None and entry[0]() is instance else None


def agent_id_of(instance: Any) -> str | None:
    """The agent id ``track_agent`` gave ``instance``, or None."""
    agent_id = getattr(instance, AGENT_ID_ATTR, None)
    if agent_id is None and (entry := _side_entry(instance)) is not None:
        agent_id = entry[1]
    return agent_id


def agent_name_of(instance: Any) -> str | None:
    """The agent name ``track_agent`` gave ``instance``, or None."""
    name = getattr(instance, AGENT_NAME_ATTR, None)
    if name is None and (entry := _side_entry(instance)) is not None:
        name = entry[2]
    return name


def _track_agent_class(cls: type, name: str | None) -> type:
    original_init = cls.__init__
    class_name = name or cls.__name__

    def _agent_name(instance: Any, given: str | None) -> str:
        # As AgentOps: agentops_name=..., else the decorator's name, else a role (CrewAI), else the class
        if isinstance(given, str) and given:
            return given
        role = None if name else getattr(instance, "role", None)
        return role if isinstance(role, str) and role else class_name

    if original_init is object.__init__:
        # Only __new__ (or nothing) takes the arguments: object.__init__ must not see them.
        def __init__(self: Any, *args: Any, agentops_name: str | None = None, **kwargs: Any) -> None:
            _set_agent_ids(self, str(uuid.uuid4()), _agent_name(self, agentops_name))

    else:

        @functools.wraps(original_init)
        def __init__(self: Any, *args: Any, agentops_name: str | None = None, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            # After __init__: the instance is complete (frozen, validated, its __setattr__ ready).
            _set_agent_ids(self, str(uuid.uuid4()), _agent_name(self, agentops_name))

    cls.__init__ = __init__  # type: ignore[misc]
    if cls.__new__ is not object.__new__:
        _drop_agentops_name_in_new(cls)
    for attr, getter in (("agentops_agent_id", agent_id_of), ("agentops_agent_name", agent_name_of)):
        if attr not in vars(cls):  # AgentOps 0.3's names of the two, read-only here
            setattr(cls, attr, property(getter))
    return _wrap_class(cls, _Spec(sc.KIND_AGENT, class_name))


def _drop_agentops_name_in_new(cls: type) -> None:
    """A class with its own ``__new__`` must not see ``agentops_name`` there either."""
    original_new = cls.__new__

    def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("agentops_name", None)
        return original_new(klass, *args, **kwargs)

    cls.__new__ = staticmethod(__new__)  # type: ignore[assignment]


def _decorator(kind: str, name: str | Callable[..., Any] | None) -> Any:
    if callable(name):  # used bare: @record_action
        return _decorator(kind, None)(name)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"the event name must be a str, got {type(name).__name__}")

    def decorate(target: Any) -> Any:
        if inspect.isclass(target):
            if kind == sc.KIND_AGENT:
                return _track_agent_class(target, name)
            return _wrap_class(target, _Spec(kind, name))
        if not callable(target):
            raise TypeError(f"can only decorate functions and classes, got {target!r}")
        return _wrap_function(target, _Spec(kind, name))

    return decorate


def record_action(event_name: str | Callable[..., Any] | None = None) -> Any:
    """Record each call as an action span named ``event_name`` (default: the function's name)."""
    return _decorator(sc.KIND_ACTION, event_name)


def record_tool(tool_name: str | Callable[..., Any] | None = None) -> Any:
    """Record each call as an ``execute_tool {tool_name}`` span."""
    return _decorator(sc.KIND_TOOL, tool_name)


def track_agent(name: str | Callable[..., Any] | None = None) -> Any:
    """Mark an agent: on a class, instances get an agent id and each public method call is an
    ``invoke_agent {name}`` span; on a function, each call is one."""
    return _decorator(sc.KIND_AGENT, name)


def record_function(event_name: str | Callable[..., Any] | None = None) -> Any:
    """AgentOps' former name of :func:`record_action` (deprecated)."""
    warn_deprecated("record_function is deprecated; use record_action (or record_tool for tools)")
    return _decorator(sc.KIND_ACTION, event_name)
