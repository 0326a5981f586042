"""The interface every session store implements (SQLite now; ClickHouse could follow).

Reads return plain JSON-ready dicts shaped by :mod:`agentops_otel.meaning` (``summary_json``,
``export_json``), as the REST API documents them, so the HTTP layer never knows which store it
talks to; what a span counts as and a session's state are :mod:`agentops_otel.meaning`'s rules too.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from agentops_otel.collector.ingest import PreparedBatch
from agentops_otel.collector.span_logs import LogBatch
from agentops_otel.meaning import STATES

# The projects a caller may read (auth.KeyRing.scope_for), in order of precedence: the caller's own
# project first when it has one, then the projects of its child keys. Every read is over all of them
# at once (one list, one cursor, one overview); a session id stored under several of them is the one
# of the earliest project in the scope. An empty scope reads nothing.
ProjectScope = tuple[str, ...]

SORT_KEYS = ("init_timestamp", "cost", "duration", "tokens", "errors")
# What the end_state filter may ask for: a session's state (meaning.session_state), the words of
# REST's ``state`` field and of the dashboard. Indeterminate is an ended session's state only.
END_STATE_FILTERS = STATES


@dataclass(frozen=True)
class WriteResult:
    accepted: int  # spans of the batch now stored (re-sent ones included)
    new: int  # spans stored for the first time


@dataclass(frozen=True)
class StoredCounts:
    """What a store holds for one project (``agentops-otel migrate`` checks them on both sides)."""

    spans: int
    sessions: int
    logs: int  # log records attached to spans


@dataclass(frozen=True)
class ListQuery:
    limit: int = 50
    cursor: str | None = None
    tags: tuple[str, ...] = ()
    end_state: str | None = None  # one of END_STATE_FILTERS: sessions in that state
    start_after_ns: int | None = None  # inclusive
    start_before_ns: int | None = None  # exclusive
    sort: str = "init_timestamp"
    descending: bool = True


class Store(Protocol):
    def write(self, batch: PreparedBatch) -> Future[WriteResult]:
        """Queue a batch; the future resolves once it is durably committed."""

    def session(self, projects: ProjectScope, trace_id: bytes) -> dict[str, Any] | None:
        """A SessionSummary (its ``project_id`` says whose), or None when no project in scope has it."""

    def export(self, projects: ProjectScope, trace_id: bytes) -> dict[str, Any] | None: ...

    def list_sessions(self, projects: ProjectScope, query: ListQuery) -> dict[str, Any]:
        """Sessions of every project in scope, in one order; ties broken by session id, then project."""

    def overview(
        self, projects: ProjectScope, start_after_ns: int | None, start_before_ns: int | None, bucket: str | None
    ) -> dict[str, Any]:
        """Totals, buckets, cost by model and top sessions over every project in scope together."""

    def write_logs(self, batch: LogBatch) -> Future[WriteResult]:
        """Queue log records of spans (a record stored already is stored once)."""

    # --- reading everything back, for ``agentops-otel migrate`` ---------------------------

    def projects(self) -> list[str]:
        """Every project with stored spans or logs."""

    def counts(self, project_id: str) -> StoredCounts: ...

    def read_spans(self, after: str | None, max_spans: int) -> Iterator[tuple[PreparedBatch, str]]:
        """Every stored span, as batches another store's :meth:`write` takes (one project each, at most
        ``max_spans`` spans, with their resources), in an order of the store's choosing; each with the
        position after it, an opaque string: ``after`` = that position resumes past it."""

    def read_logs(self, after: str | None, max_logs: int) -> Iterator[tuple[LogBatch, str]]:
        """Every stored log record, as :meth:`read_spans` does spans."""

    def close(self) -> None: ...


STOP_WRITER = object()  # put on a store's queue to end its writer thread
GROUP_SPANS = 50_000  # a group commit takes queued batches up to about this many spans


def run_group_writer(pending: queue.Queue, commit: Callable[[list], None]) -> None:
    """A store's writer thread: commit the queued ``(batch, future)`` items in groups (whatever else
    is already waiting joins the first, up to :data:`GROUP_SPANS`), until :data:`STOP_WRITER`."""
    while True:
        item = pending.get()
        if item is STOP_WRITER:
            return
        items, stop = [item], False
        spans = len(getattr(item[0], "spans", ()))
        while spans < GROUP_SPANS:
            try:
                more = pending.get_nowait()
            except queue.Empty:
                break
            if more is STOP_WRITER:
                stop = True
                break
            items.append(more)
            spans += len(getattr(more[0], "spans", ()))
        commit(items)
        if stop:
            return
