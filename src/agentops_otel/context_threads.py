"""Carry the current context (and so the current session) into ``concurrent.futures`` worker
threads and into child processes.

``ThreadPoolExecutor.submit`` does not copy contextvars (``asyncio.to_thread`` does), so a
callable submitted inside a session would run outside it. While installed, ``submit`` runs each
callable in a copy of the submitter's context.

Child processes learn their session from ``AGENTOPS_INHERITED_SESSION_ID``, which is
process-wide (the newest session's). While installed, a child started with ``subprocess`` (so
``Popen``, ``run``, asyncio subprocesses) gets the id of the session current where it is started
instead: ``env_for_child`` rewrites the environment it would inherit.

Installed by ``init()``, removed by ``shutdown``. Each patch wraps whatever was in place (another
library's patch included) and restores it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import subprocess
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

logger = logging.getLogger("agentops_otel")

EnvForChild = Callable[[Mapping[Any, Any] | None], Mapping[Any, Any] | None]

_previous: Callable[..., Future[Any]] | None = None
_previous_execute_child: Callable[..., Any] | None = None
_env_for_child: EnvForChild | None = None


def _env_index() -> int | None:
    """Where ``env`` sits in ``Popen._execute_child``'s positional arguments (after self), or None
    when this Python's private signature has no such parameter (then children are left alone)."""
    try:
        return list(inspect.signature(subprocess.Popen._execute_child).parameters).index("env") - 1  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return None


_ENV_INDEX = _env_index()


def _submit_in_context(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    assert _previous is not None
    return _previous(self, functools.partial(contextvars.copy_context().run, fn), *args, **kwargs)


def _execute_child_in_context(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
    assert _previous_execute_child is not None
    env_for_child = _env_for_child
    if env_for_child is not None:
        try:  # Popen passes env positionally; the keyword form is for other callers
            if len(args) > _ENV_INDEX:  # type: ignore[operator]
                args = (*args[:_ENV_INDEX], env_for_child(args[_ENV_INDEX]), *args[_ENV_INDEX + 1 :])
            elif "env" in kwargs:
                kwargs["env"] = env_for_child(kwargs["env"])
        except Exception:  # never stop a child from starting
            logger.warning("agentops-otel: could not hand the current session to a child process", exc_info=True)
    return _previous_execute_child(self, *args, **kwargs)


def install(env_for_child: EnvForChild | None = None) -> None:
    global _previous, _previous_execute_child, _env_for_child
    if ThreadPoolExecutor.submit is not _submit_in_context:
        _previous = ThreadPoolExecutor.submit
        ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign]
    _env_for_child = env_for_child
    if (
        env_for_child is not None
        and _ENV_INDEX is not None
        and subprocess.Popen._execute_child is not _execute_child_in_context  # type: ignore[attr-defined]
    ):
        _previous_execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]
        subprocess.Popen._execute_child = _execute_child_in_context  # type: ignore[attr-defined]


def uninstall() -> None:
    global _env_for_child
    if ThreadPoolExecutor.submit is _submit_in_context and _previous is not None:
        ThreadPoolExecutor.submit = _previous  # type: ignore[method-assign]
    _env_for_child = None
    if subprocess.Popen._execute_child is _execute_child_in_context and _previous_execute_child is not None:  # type: ignore[attr-defined]
        subprocess.Popen._execute_child = _previous_execute_child  # type: ignore[attr-defined]
