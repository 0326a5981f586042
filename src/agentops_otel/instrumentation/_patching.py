"""Patching class attributes with wrapt wrappers, restoring them exactly, and logging our own bugs once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt

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


def wrap_method(owner: type, name: str, wrapper: Callable[..., Any]) -> Patch:
    """Replace ``owner.name`` (defined on ``owner`` itself) by a wrapt ``FunctionWrapper``."""
    original = owner.__dict__[name]
    replacement = wrapt.FunctionWrapper(original, wrapper)
    setattr(owner, name, replacement)
    return Patch(owner, name, original, replacement)


def replace_attribute(owner: type, name: str, replacement: Any) -> Patch:
    """Replace ``owner.name`` (defined on ``owner`` itself) by ``replacement``, e.g. a property."""
    original = owner.__dict__[name]
    setattr(owner, name, replacement)
    return Patch(owner, name, original, replacement)
