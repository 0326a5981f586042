"""What every instrumentor shares: lazy, all-or-nothing patching of one library, and wrapping its
call methods so that each call is one :class:`LLMCall`.

``instrument()`` never imports the library: it patches it now if the application has imported it,
or from a wrapt post-import hook when it does. A library whose layout is not the one expected is
left untouched, with one warning.

:class:`MethodInstrumentor` serves the libraries whose public methods take the request as keyword
arguments (``mistralai``, ``ollama``, ``cohere``, ``litellm``): each :class:`Method` names a method,
the :class:`Endpoint` that reads its arguments and response, and whether it streams.
One model call is one LLM span: a library that calls another instrumented one underneath (LiteLLM
calling ``openai``) marks the call as traced, and instrumentors seeing the mark pass through.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace

from agentops_otel import semconv as sc
from agentops_otel.instrumentation._call import Attributes, Endpoint, LLMCall, put
from agentops_otel.instrumentation._lazy import LazyInstrumentor
from agentops_otel.instrumentation._patching import Patch, accept_session, report_bug, warn_once, wrap_method
from agentops_otel.instrumentation._settings import Settings
from agentops_otel.instrumentation._streams import AsyncStreamProxy, SyncStreamProxy

# True while a call traced by one of our instrumentors runs: calls it makes through other
# instrumented libraries are the same model call, not new spans.
_IN_TRACED_CALL: ContextVar[bool] = ContextVar("agentops_otel_in_traced_call", default=False)


_DEFAULT_PORTS = {"https": 443, "http": 80}


def client_attributes(provider: str, url: Any) -> Attributes:
    """What every call to one server shares: span kind, provider, and the server of the base URL ``url``
    (a string or an httpx ``URL``)."""
    attrs: Attributes = {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_PROVIDER_NAME: provider}
    try:
        parts = urlsplit(str(url))
        put(attrs, sc.SERVER_ADDRESS, parts.hostname)
        put(attrs, sc.SERVER_PORT, parts.port or _DEFAULT_PORTS.get(parts.scheme))
    except ValueError:
        pass
    return attrs


def in_traced_call() -> bool:
    return _IN_TRACED_CALL.get()


def run_traced(call: LLMCall, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``wrapped(*args, **kwargs)`` as ``call``: its span current and the calls made below it marked as
    part of it; an exception ends the span as an error and is raised unchanged."""
    token = otel_context.attach(trace.set_span_in_context(call.span))
    mark = _IN_TRACED_CALL.set(True)
    try:
        return wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    finally:
        _IN_TRACED_CALL.reset(mark)
        otel_context.detach(token)


async def run_traced_async(
    call: LLMCall, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """:func:`run_traced` for a coroutine function."""
    token = otel_context.attach(trace.set_span_in_context(call.span))
    mark = _IN_TRACED_CALL.set(True)
    try:
        return await wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    finally:
        _IN_TRACED_CALL.reset(mark)
        otel_context.detach(token)


class LibraryInstrumentor(LazyInstrumentor):
    """Lifecycle of one library's instrumentation; subclasses say what to patch in :meth:`_patch`."""

    provider: ClassVar[str]  # gen_ai.provider.name of its calls

    _patches: tuple[Patch, ...] = ()
    _client_cache: tuple[Any, Attributes] = (None, {})  # (what names the server, its attributes)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._settings = None
        for patch in reversed(self._patches):
            patch.restore()
        self._patches = ()

    def _on_import(self, module: ModuleType) -> None:
        if self._settings is None or self._patches:
            return  # uninstrumented before the import, or already patched
        patches: list[Patch] = []
        try:
            self._patch(patches)
            if not patches:
                raise LookupError("none of the methods traced was found")
            self._patches = tuple(patches)
        except Exception as exc:
            for patch in reversed(patches):  # all or nothing
                patch.restore()
            warn_once(
                f"unsupported:{self.package}",
                "agentops-otel: %s %s is not supported by the LLM instrumentation (%r); its calls are not traced",
                self.package,
                getattr(module, "__version__", "?"),
                exc,
            )

    def _patch(self, patches: list[Patch]) -> None:
        """Append a :class:`Patch` per method replaced; raise when the library is not as expected."""
        raise NotImplementedError

    def _parent(self, settings: Settings) -> Any:
        if settings.orphan_parent is not None and not trace.get_current_span().get_span_context().is_valid:
            return settings.orphan_parent()
        return None

    def _server_attributes(self, key: Any, url: Any, provider: str | None = None) -> Attributes:
        """:func:`client_attributes` of ``url``, built again only when ``key`` (the URL, or what it is read
        from) changes: the calls of one client share them."""
        cached = self._client_cache
        if cached[0] is key or cached[0] == key:
            return cached[1]
        attrs = client_attributes(provider or self.provider, url)
        type(self)._client_cache = (key, attrs)  # one tuple: threads see old or new, never half
        return attrs

    def _new_call(
        self, settings: Settings, client_attributes: Attributes, endpoint: Endpoint, body: Any, *, stream: bool
    ) -> LLMCall:
        """The :class:`LLMCall` of a request, under the current span (or the session's when there is none)."""
        return LLMCall(
            settings.tracer,
            client_attributes,
            endpoint,
            body,
            capture=settings.capture_content,
            stream=stream,
            parent=self._parent(settings),
        )


@dataclass(frozen=True)
class Method:
    """One traced method: ``module.qualname`` (``Class.method``, or a module-level function).

    ``stream``: True for a method that always streams, False for one that never does, None when the
    request's ``stream`` argument says. ``optional``: a method some supported versions lack.
    """

    module: str
    qualname: str
    endpoint: Endpoint
    stream: bool | None = None
    optional: bool = False


class MethodInstrumentor(LibraryInstrumentor):
    """Wraps the methods of :attr:`methods`; the request is their arguments, by name."""

    methods: ClassVar[Sequence[Method]]

    def _patch(self, patches: list[Patch]) -> None:
        for method in self.methods:
            try:
                module = importlib.import_module(method.module)
                *owner_path, name = method.qualname.split(".")
                owner: Any = module
                for part in owner_path:
                    owner = getattr(owner, part)
                original = owner.__dict__[name]
            except (ImportError, AttributeError, KeyError):
                if method.optional:
                    continue
                raise
            patches.append(wrap_method(owner, name, self._wrapper(method, original)))

    def _wrapper(self, method: Method, original: Any) -> Callable[..., Any]:
        function = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
        names = _positional_names(function, bound=bool(method.qualname.count(".")))
        if inspect.iscoroutinefunction(function):

            async def wrapper_async(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                call = self._start(method, names, instance, args, kwargs)
                if call is None:
                    return await wrapped(*args, **kwargs)
                return self._finish(call, await run_traced_async(call, wrapped, args, kwargs), asynchronous=True)

            return wrapper_async

        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = self._start(method, names, instance, args, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            return self._finish(call, run_traced(call, wrapped, args, kwargs), asynchronous=False)

        return wrapper

    # --- per-library hooks ----------------------------------------------------------------------
    def _client_attributes(self, instance: Any, body: Mapping[str, Any]) -> Attributes:
        """Span kind, provider and server of a call (prepared once per client where possible)."""
        raise NotImplementedError

    def _request(self, method: Method, body: dict[str, Any]) -> dict[str, Any]:
        """The request as the endpoint reads it (a library may move or rename arguments)."""
        return body

    # --- the wrappers ---------------------------------------------------------------------------
    def _start(
        self, method: Method, names: tuple[str, ...], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> LLMCall | None:
        settings = self._settings
        if settings is None or _IN_TRACED_CALL.get():
            return None
        try:
            body = dict(zip(names, args, strict=False)) if args else {}
            body.update(kwargs)
            body = self._request(method, body)
            stream = method.stream if method.stream is not None else body.get("stream") is True
            attrs = self._client_attributes(instance, body)
            return self._new_call(settings, attrs, method.endpoint, body, stream=stream)
        except Exception as exc:
            report_bug(f"{type(self).__name__}.start", exc)
            return None

    def _finish(self, call: LLMCall, result: Any, *, asynchronous: bool) -> Any:
        try:
            if call.recorder is None:
                call.complete(result)
                return result
            if asynchronous or (hasattr(result, "__anext__") and not hasattr(result, "__next__")):
                return AsyncStreamProxy(result, call)
            if hasattr(result, "__next__"):
                return SyncStreamProxy(result, call)
            call.complete(result)  # asked to stream, answered at once (a library falling back)
        except Exception as exc:
            report_bug(f"{type(self).__name__}.finish", exc)
            call.end_without_response()
        return result


SessionMethods = Sequence[tuple[str, Sequence[str], Sequence[str]]]  # (module, classes, methods)


def session_patches(specs: SessionMethods) -> list[Patch]:
    """``session=`` on the public methods named (those this version has), whose calls a deeper patch records."""
    patches: list[Patch] = []
    for module_name, class_names, methods in specs:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for class_name in class_names:
            owner = getattr(module, class_name, None)
            if isinstance(owner, type):
                patches.extend(accept_session(owner, name) for name in methods if name in owner.__dict__)
    return patches


def _positional_names(function: Any, *, bound: bool) -> tuple[str, ...]:
    """Names of the parameters a call may pass by position (``self`` left out for methods)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return ()
    if bound and parameters:
        parameters = parameters[1:]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in positional)
