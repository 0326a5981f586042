"""A session's analytics, computed locally from its ended spans (no network).

Counting rules, shared with the collector: "LLM calls" are spans of kind ``llm``, "Tool calls" of
kind ``tool``, "Actions" of kind ``action``; "Errors" are non-root spans with status ERROR; the
cost is the exact ``Decimal`` sum of ``usage.span_cost`` over the LLM spans (unknown model: 0).
"""

from __future__ import annotations

import threading
from decimal import Context, Decimal

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from agentops_otel import semconv as sc
from agentops_otel.usage import span_cost

_WIDE = Context(prec=80)  # wide enough that normalising a sum of per-token prices never rounds it


def clean_cost(cost: Decimal) -> Decimal:
    """``Decimal('0')`` for any zero (not ``0E-9``), else without trailing zeros: the number the
    collector's ``cost`` string spells."""
    return Decimal(0) if cost.is_zero() else cost.normalize(_WIDE)


class SessionStats:
    """Counters of one session in this process; ``add`` is called for every ended span of its trace.

    Counting happens at once. Pricing an LLM span (about fifteen attribute reads and Decimal
    arithmetic) is kept off the application's call path: ended LLM spans wait in a list that the
    export pipeline's worker thread prices (:meth:`price_pending`), and reading :attr:`cost` prices
    whatever is still waiting, so the cost read is always complete.
    """

    __slots__ = ("_cost", "_lock", "_pricing", "_unpriced", "actions", "errors", "llm_calls", "tool_calls")

    # Past this many waiting spans (an exporter stuck on a dead backend stops the worker's pricing),
    # the application's thread prices them, so the list never grows without bound.
    MAX_UNPRICED = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()  # counters and the waiting list; held for microseconds
        self._pricing = threading.Lock()  # one pricer at a time; a cost read waits for a running one
        self._unpriced: list[ReadableSpan] = []
        self._cost = Decimal(0)
        self.llm_calls = 0
        self.tool_calls = 0
        self.actions = 0
        self.errors = 0

    def add(self, span: ReadableSpan) -> None:
        kind = (span.attributes or {}).get(sc.SPAN_KIND)
        is_error = span.parent is not None and span.status.status_code is StatusCode.ERROR
        with self._lock:
            if kind == sc.KIND_ACTION:
                self.actions += 1
            elif kind == sc.KIND_TOOL:
                self.tool_calls += 1
            elif kind == sc.KIND_LLM:
                self.llm_calls += 1
                self._unpriced.append(span)
            if is_error:
                self.errors += 1
            backlog = len(self._unpriced) >= self.MAX_UNPRICED
        if backlog:
            self.price_pending()

    def price_pending(self) -> None:
        """Price the LLM spans waiting since the last call (any thread)."""
        with self._pricing:
            with self._lock:
                waiting, self._unpriced = self._unpriced, []
            if not waiting:
                return
            total = Decimal(0)
            for span in waiting:
                try:
                    # A plain copy first: every lookup in the span's read-only view runs Python code
                    # (and raises KeyError inside for an absent key); pricing looks up about fifteen keys.
                    cost, _ = span_cost(dict(span.attributes or {}))
                except Exception:  # a price lookup must never break the application or lose the rest
                    cost = None
                if cost is not None:
                    total += cost.total
            with self._lock:
                self._cost += total

    @property
    def cost(self) -> Decimal:
        """Total cost in USD of the session's LLM spans ended so far (unknown models count 0)."""
        self.price_pending()
        with self._lock:
            return clean_cost(self._cost)


def format_duration(seconds: float) -> str:
    """``"1h 2m 3.4s"``; hours and minutes only when non-zero."""
    hours, rest = divmod(round(max(seconds, 0.0), 1), 3600)  # round first: never "60.0s"
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours >= 1:
        parts.append(f"{int(hours)}h")
    if minutes >= 1:
        parts.append(f"{int(minutes)}m")
    parts.append(f"{secs:.1f}s")
    return " ".join(parts)


def format_cost(cost: Decimal) -> str:
    return "0.00" if cost == 0 else f"{cost:.6f}"


def analytics(stats: SessionStats, duration_seconds: float) -> dict[str, str | int]:
    """The AgentOps ``get_analytics()`` dict."""
    cost = stats.cost
    with stats._lock:
        return {
            "LLM calls": stats.llm_calls,
            "Tool calls": stats.tool_calls,
            "Actions": stats.actions,
            "Errors": stats.errors,
            "Duration": format_duration(duration_seconds),
            "Cost": format_cost(cost),
        }
