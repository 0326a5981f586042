"""The interface every session store implements (SQLite now; ClickHouse could follow).

Reads return plain JSON-ready dicts shaped as the REST contract (``/work/briefs/rest-api.md``)
says, so the HTTP layer never knows which store it talks to.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from agentops_otel.collector.ingest import PreparedBatch

SORT_KEYS = ("init_timestamp", "cost", "duration", "tokens", "errors")
# What a session's state filter may ask for: how it ended (its root span received), or, not ended
# yet, Running (a span within the last hour) or Inactive (silent for longer: its process most
# likely died), as the dashboard shows them. Indeterminate is an ended session's state only.
END_STATE_FILTERS = ("Success", "Failure", "Indeterminate", "Running", "Inactive")
INACTIVE_AFTER_NS = 3600 * 10**9


@dataclass(frozen=True)
class WriteResult:
    accepted: int  # spans of the batch now stored (re-sent ones included)
    new: int  # spans stored for the first time


@dataclass(frozen=True)
class ListQuery:
    limit: int = 50
    cursor: str | None = None
    tags: tuple[str, ...] = ()
    end_state: str | None = None  # one of END_STATE_FILTERS
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
