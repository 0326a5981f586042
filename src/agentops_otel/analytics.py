"""A session's analytics, computed locally from its ended spans (no network).

The rules are the collector's, from :mod:`agentops_otel.meaning` (which spans are LLM calls, tool
calls, actions, errors, whatever instrumentation made them) and :func:`agentops_otel.usage.span_price`
(the cost; an LLM call whose cost cannot be known counts as unpriced): ``get_analytics()`` and
``end_session()`` give the counts and cost the collector gives for the same session.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from opentelemetry.sdk.trace import ReadableSpan

from agentops_otel.meaning import KIND_LLM, MONEY_CONTEXT, SessionTotals, classify, span_attributes, usage_tuple
from agentops_otel.usage import normalised_usage, span_price


def clean_cost(cost: Decimal) -> Decimal:
    """``Decimal('0')`` for any zero (not ``0E-9``), else without trailing zeros: the number the
    collector's ``cost`` string spells."""
    return Decimal(0) if cost.is_zero() else cost.normalize(MONEY_CONTEXT)


class SessionStats:
    """Counters of one session in this process; ``add`` is called for every ended span of its trace.

    Counting happens at once. Pricing an LLM span (about fifteen attribute reads and Decimal
    arithmetic) is kept off the application's call path: ended LLM spans wait in a list that the
    export pipeline's worker thread prices (:meth:`price_pending`), and reading :attr:`cost` prices
    whatever is still waiting, so the cost read is always complete.
    """

    __slots__ = ("_lock", "_pricing", "_waiting", "totals")

    # Past this many waiting spans (an exporter stuck on a dead backend stops the worker's pricing),
    # the application's thread prices them, so the list never grows without bound.
    MAX_UNPRICED = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()  # counters and the waiting list; held for microseconds
        self._pricing = threading.Lock()  # one pricer at a time; a cost read waits for a running one
        self._waiting: list[ReadableSpan] = []
        self.totals = SessionTotals()

    def add(self, span: ReadableSpan) -> None:
        """Count an ended span of the session (not its root)."""
        kind = classify(span_attributes(span))
        status = span.status.status_code.value  # OTLP numbering: 2 is ERROR
        with self._lock:
            self.totals.count(kind, status)
            if kind != KIND_LLM:
                return
            self._waiting.append(span)
            backlog = len(self._waiting) >= self.MAX_UNPRICED
        if backlog:
            self.price_pending()

    def price_pending(self) -> None:
        """Price the LLM spans waiting since the last call (any thread)."""
        with self._pricing:
            with self._lock:
                waiting, self._waiting = self._waiting, []
            if not waiting:
                return
            priced = []
            for span in waiting:
                try:
                    attrs = span_attributes(span)  # pricing looks up about fifteen keys
                    counts = normalised_usage(attrs)
                    priced.append((usage_tuple(counts), span_price(attrs, counts).total))
                except Exception:  # a price lookup must never break the application or lose the rest
                    priced.append(((0, 0, 0, 0, 0), None))
            with self._lock:
                for usage, cost in priced:
                    self.totals.price(usage, cost)

    @property
    def cost(self) -> Decimal:
        """Total cost in USD of the session's priced LLM calls ended so far (unpriced ones: 0)."""
        self.price_pending()
        with self._lock:
            return clean_cost(self.totals.cost)

    def snapshot(self) -> SessionTotals:
        """A copy of the totals, every waiting LLM span priced."""
        self.price_pending()
        copy = SessionTotals()
        with self._lock:
            for name in SessionTotals.__slots__:
                setattr(copy, name, getattr(self.totals, name))
        copy.cost = clean_cost(copy.cost)
        return copy

    # The AgentOps names of the counters
    @property
    def llm_calls(self) -> int:
        return self.totals.llm_calls

    @property
    def tool_calls(self) -> int:
        return self.totals.tool_calls

    @property
    def actions(self) -> int:
        return self.totals.actions

    @property
    def errors(self) -> int:
        return self.totals.errors


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
    """The AgentOps ``get_analytics()`` dict, plus "Unpriced LLM calls": LLM calls whose cost could
    not be known (no usage reported, or a model without a price), so "Cost" is partial when not 0."""
    totals = stats.snapshot()
    return {
        "LLM calls": totals.llm_calls,
        "Tool calls": totals.tool_calls,
        "Actions": totals.actions,
        "Errors": totals.errors,
        "Duration": format_duration(duration_seconds),
        "Cost": format_cost(totals.cost),
        "Unpriced LLM calls": totals.unpriced_llm_calls,
    }
