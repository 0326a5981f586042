"""Patching class attributes with wrapt wrappers, restoring them exactly, and logging our own bugs once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt

from agentops_otel.instrumentation._sessions import accepting_session, routing_session

logger = logging.getLogger("agentops_otel.instrumentation")

_reported: set[str] = set()


def report_bug(where: str, exc: BaseException) -> None:
    """Log a bug of the instrumentation once per place; the user's call goes on regardless."""
    if where in _reported:
        return
    _reported.add(where)
    logger.warning(
        "agentops-otel: instrumentation error in %s (reported once; the call itself is not affected): %r",
        where,
        exc,
        exc_info=exc,
    )


def warn_once(key: str, message: str, *args: Any) -> None:
    if key in _reported:
        return
    _reported.add(key)
    logger.warning(message, *args)


@dataclass
class Patch:
    """One attribute of a class replaced by a wrapper; :meth:`restore` puts the original back."""

    owner: type
    name: str
    original: Any
    replacement: Any

    def restore(self) -> None:
        # Only put the original back if nobody wrapped over us; otherwise our wrapper stays in the chain
        # and passes calls straight through (its instrumentor is no longer active).
        if self.owner.__dict__.get(self.name) is self.replacement:
            setattr(self.owner, self.name, self.original)


def wrap_method(owner: type, name: str, wrapper: Callable[..., Any], sessions: bool = True) -> Patch:
    """Replace ``owner.name`` (defined on ``owner`` itself) by a wrapt ``FunctionWrapper``.

    With ``sessions``, the call takes AgentOps' ``session=`` argument: removed before the library
    sees it, it makes that session current for the call (:mod:`._sessions`). Leave it off only
    for an internal method that never sees the application's arguments.
    """
    original = owner.__dict__[name]
    if sessions:
        wrapper = routing_session(wrapper, getattr(original, "__func__", original))
    replacement = wrapt.FunctionWrapper(original, wrapper)
    setattr(owner, name, replacement)
    return Patch(owner, name, original, replacement)


def accept_session(owner: type, name: str) -> Patch:
    """Let ``owner.name`` (a plain function) take ``session=`` when another patch, deeper in the
    library, records the call."""
    return replace_attribute(owner, name, accepting_session(owner.__dict__[name]))


def replace_attribute(owner: type, name: str, replacement: Any) -> Patch:
    """Replace ``owner.name`` (defined on ``owner`` itself) by ``replacement``, e.g. a property."""
    original = owner.__dict__[name]
    setattr(owner, name, replacement)
    return Patch(owner, name, original, replacement)
