"""Carry the current context (and so the current session) into ``concurrent.futures`` worker threads.

``ThreadPoolExecutor.submit`` does not copy contextvars (``asyncio.to_thread`` does), so a
callable submitted inside a session would run outside it. While installed, ``submit`` runs each
callable in a copy of the submitter's context. Installed by ``init()``, removed by ``shutdown``.
It wraps whatever ``submit`` was in place (another library's patch included) and restores it.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_previous: Callable[..., Future[Any]] | None = None


def _submit_in_context(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    assert _previous is not None
    return _previous(self, functools.partial(contextvars.copy_context().run, fn), *args, **kwargs)


def install() -> None:
    global _previous
    if ThreadPoolExecutor.submit is not _submit_in_context:
        _previous = ThreadPoolExecutor.submit
        ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign]


def uninstall() -> None:
    if ThreadPoolExecutor.submit is _submit_in_context and _previous is not None:
        ThreadPoolExecutor.submit = _previous  # type: ignore[method-assign]
