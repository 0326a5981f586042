"""``session=`` on instrumented calls: AgentOps' way to say which of several sessions a call is for.

``create(..., session=s1)`` records the call in session ``s1``; the argument is removed before
the library sees it. :func:`wrap_method` gives this to every method an instrumentor patches;
:func:`accept_session` adds it to a public method whose work happens in a deeper patched one
(the Stainless libraries' ``create``, ``parse`` and ``stream``, which end in ``request``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from agentops_otel.session import pop_session

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


def routing_session(wrapper: Wrapper, original: Any) -> Wrapper:
    """``wrapper`` (a wrapt wrapper of ``original``), run in the session given as ``session=``."""
    if inspect.iscoroutinefunction(original):

        async def async_routed(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if "session" not in kwargs:  # the usual call: nothing else to do
                return await wrapper(wrapped, instance, args, kwargs)
            session, kwargs = pop_session(kwargs)
            if session is None:
                return await wrapper(wrapped, instance, args, kwargs)
            return await session.call(wrapper, wrapped, instance, args, kwargs)

        return async_routed

    def routed(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if "session" not in kwargs:
            return wrapper(wrapped, instance, args, kwargs)
        session, kwargs = pop_session(kwargs)
        if session is None:
            return wrapper(wrapped, instance, args, kwargs)
        return session.call(wrapper, wrapped, instance, args, kwargs)

    return routed


def accepting_session(original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` (a plain method or function) taking ``session=``. A plain function, not a wrapt
    wrapper: no work is added to it, and a function binds as a method at no cost."""
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def accepting_async(*args: Any, **kwargs: Any) -> Any:
            if "session" in kwargs:
                session, kwargs = pop_session(kwargs)
                if session is not None:
                    return await session.call(original, *args, **kwargs)
            return await original(*args, **kwargs)

        return accepting_async

    @functools.wraps(original)
    def accepting(*args: Any, **kwargs: Any) -> Any:
        if "session" in kwargs:
            session, kwargs = pop_session(kwargs)
            if session is not None:
                return session.call(original, *args, **kwargs)
        return original(*args, **kwargs)

    return accepting
