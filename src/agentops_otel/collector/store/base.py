"""The interface every session store implements (SQLite now; ClickHouse could follow).

Reads return plain JSON-ready dicts shaped by :mod:`agentops_otel.meaning` (``summary_json``,
``export_json``), as the REST API documents them, so the HTTP layer never knows which store it
talks to; what a span counts as and a session's state are :mod:`agentops_otel.meaning`'s rules too.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from agentops_otel.collector.ingest import PreparedBatch
from agentops_otel.meaning import STATES

SORT_KEYS = ("init_timestamp", "cost", "duration", "tokens", "errors")
# What the end_state filter may ask for: a session's state (meaning.session_state), the words of
# REST's ``state`` field and of the dashboard. Indeterminate is an ended session's state only.
END_STATE_FILTERS = STATES


@dataclass(frozen=True)
class WriteResult:
    accepted: int  # spans of the batch now stored (re-sent ones included)
    new: int  # spans stored for the first time


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

    def session(self, project_id: str, trace_id: bytes) -> dict[str, Any] | None:
        """A SessionSummary, or None when the project has no such session."""

    def export(self, project_id: str, trace_id: bytes) -> dict[str, Any] | None: ...

    def list_sessions(self, project_id: str, query: ListQuery) -> dict[str, Any]: ...

    def overview(
        self, project_id: str, start_after_ns: int | None, start_before_ns: int | None, bucket: str | None
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...
