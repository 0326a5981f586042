"""The ClickHouse store read back whole, for ``agentops-otel migrate`` (the :class:`Store` methods
``projects``, ``counts``, ``read_spans``, ``read_logs``): a mixin of
:class:`~agentops_otel.collector.store.clickhouse.ClickHouseStore`, kept apart from its ingest and
REST reads.

Spans come back as ingest recorded them, from the columns meaning.py filled at ingest (kind, root,
model, cost, tokens), de-duplicated (``FINAL``), in key order (project, trace id, span id). A
position is the last row's key; the keyset conditions are written as comparisons on the key's
columns so the primary index serves them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from agentops_otel.collector.ingest import PreparedBatch, SpanRecord
from agentops_otel.collector.span_logs import LogBatch, SpanLog
from agentops_otel.collector.store.base import StoredCounts
from agentops_otel.meaning import KIND_LLM, TOKEN_FIELDS, RootInfo, money

_AFTER_SPAN = (
    "(project > {project:String} OR (project = {project:String} AND (trace_id > {trace:FixedString(16)}"
    " OR (trace_id = {trace:FixedString(16)} AND span_id > {span:FixedString(8)}))))"
)
_AFTER_LOG = (
    "(project > {project:String} OR (project = {project:String} AND (trace_id > {trace:FixedString(16)}"
    " OR (trace_id = {trace:FixedString(16)} AND (span_id > {span:FixedString(8)}"
    " OR (span_id = {span:FixedString(8)} AND digest > {digest:FixedString(16)}))))))"
)
_SPAN_COLUMNS = (
    "project, trace_id, span_id, kind, start_ns, end_ns, status_code, root_rank, end_state, end_state_reason,"
    " tags, video, model, if(cost IS NULL, NULL, toString(cost)), " + ", ".join(TOKEN_FIELDS) + ", resource_key, body"
)


def _position(text: str | None, parts: int) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        found = json.loads(text)
        if not isinstance(found, list) or len(found) != parts or not isinstance(found[0], str):
            raise ValueError(text)
        keys = ("project", "trace", "span", "digest")[:parts]
        return dict(zip(keys, [found[0], *(bytes.fromhex(part) for part in found[1:])], strict=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a position in a ClickHouse store: {text!r}") from exc


class ClickHouseCopy:
    """Needs the store's ``_query(sql, **parameters)``."""

    _query: Any

    def projects(self) -> list[str]:
        found = {row[0] for row in self._query("SELECT DISTINCT project FROM {db}.spans")}
        found |= {row[0] for row in self._query("SELECT DISTINCT project FROM {db}.span_logs")}
        return sorted(found)

    def counts(self, project_id: str) -> StoredCounts:
        def count(table: str) -> int:
            return self._query(f"SELECT count() FROM {{db}}.{table} FINAL WHERE project = {{p:String}}", p=project_id)[
                0
            ][0]

        return StoredCounts(spans=count("spans"), sessions=count("sessions"), logs=count("span_logs"))

    def read_spans(self, after: str | None, max_spans: int) -> Iterator[tuple[PreparedBatch, str]]:
        from agentops_otel.collector.store.clickhouse import LOCAL_ROOT, NOT_ROOT, OUR_ROOT, UNKNOWN_MODEL

        position = _position(after, 3)
        while True:
            where = f"WHERE {_AFTER_SPAN}" if position else ""
            rows = self._query(
                f"SELECT {_SPAN_COLUMNS} FROM {{db}}.spans FINAL {where}"
                f" ORDER BY project, trace_id, span_id LIMIT {int(max_spans)}",
                **(position or {}),
            )
            if not rows:
                return
            start = 0
            for end in range(1, len(rows) + 1):  # one batch per project
                if end < len(rows) and rows[end][0] == rows[start][0]:
                    continue
                batch = PreparedBatch(rows[start][0])
                for row in rows[start:end]:
                    (_, trace_id, span_id, kind, start_ns, end_ns, status, rank, state, reason, tags, video, model) = (
                        row[:13]
                    )
                    cost = row[13]
                    usage = tuple(row[14 : 14 + len(TOKEN_FIELDS)])
                    root = None
                    if rank in (LOCAL_ROOT, OUR_ROOT):
                        root = RootInfo(state, reason, list(tags), video, rank == OUR_ROOT)
                    cost_text = None if cost is None else money(Decimal(cost))
                    batch.spans.append(
                        SpanRecord(
                            trace_id,
                            span_id,
                            kind or None,
                            start_ns,
                            end_ns,
                            status,
                            row[-2],
                            row[-1],
                            kind == KIND_LLM,
                            None if cost_text is None else Decimal(cost_text),
                            cost_text,
                            None if model in ("", UNKNOWN_MODEL) else model,
                            usage,  # type: ignore[arg-type]
                            root if rank != NOT_ROOT else None,
                        )
                    )
                keys = sorted({r.resource_key for r in batch.spans})
                batch.resources = dict(
                    self._query(
                        "SELECT key, any(body) AS body FROM {db}.resources"
                        " WHERE key IN {keys:Array(FixedString(16))} GROUP BY key",
                        keys=keys,
                    )
                )
                last = rows[end - 1]
                position = {"project": last[0], "trace": last[1], "span": last[2]}
                yield batch, json.dumps([last[0], last[1].hex(), last[2].hex()])
                start = end

    def read_logs(self, after: str | None, max_logs: int) -> Iterator[tuple[LogBatch, str]]:
        position = _position(after, 4)
        while True:
            where = f"WHERE {_AFTER_LOG}" if position else ""
            rows = self._query(
                "SELECT project, trace_id, span_id, digest, time_ns, body FROM {db}.span_logs FINAL"
                f" {where} ORDER BY project, trace_id, span_id, digest LIMIT {int(max_logs)}",
                **(position or {}),
            )
            if not rows:
                return
            start = 0
            for end in range(1, len(rows) + 1):
                if end < len(rows) and rows[end][0] == rows[start][0]:
                    continue
                batch = LogBatch(rows[start][0])
                batch.logs.extend(SpanLog(r[1], r[2], r[4], r[5]) for r in rows[start:end])
                last = rows[end - 1]
                position = {"project": last[0], "trace": last[1], "span": last[2], "digest": last[3]}
                yield batch, json.dumps([last[0], last[1].hex(), last[2].hex(), last[3].hex()])
                start = end
