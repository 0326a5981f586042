"""The OpenAPI document of the collector's HTTP API, and a self-contained page rendering it.

``/docs`` is rendered here from the same document (no CDN: the collector must work offline).
"""

from __future__ import annotations

import html
import json
from typing import Any

from agentops_otel import __name__ as _package
from agentops_otel.collector.api import FIRST_YEAR, LAST_YEAR, LEAN_OMITS, MAX_LIMIT, MAX_TAGS
from agentops_otel.collector.store.base import END_STATE_FILTERS, SORT_KEYS
from agentops_otel.host import sdk_version
from agentops_otel.meaning import BUCKETS_NS

_INT = {"type": "integer"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_MONEY = {"type": "string", "description": "USD, exact decimal", "example": "0.000123"}
_END_STATE = {"type": "string", "enum": ["Success", "Failure", "Indeterminate"]}
_NEND_STATE = {"type": ["string", "null"], "enum": ["Success", "Failure", "Indeterminate", None]}
_STORED = "stored (partial_success counts spans rejected for invalid ids, or start / end times unset or past 2**63 ns)"
_ERROR = {"type": "object", "properties": {"error": _STR}, "required": ["error"]}
_ATTRIBUTES = {
    "type": "object",
    "description": "OTLP attributes by key; bytes are base64, and a double that is NaN or ±Infinity is the "
    'string "NaN", "Infinity" or "-Infinity" (JSON has no such numbers; as protobuf\'s JSON mapping writes them)',
}


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SESSION_SUMMARY = _obj(
    {
        "session_id": {"type": "string", "format": "uuid"},
        "project_id": {**_STR, "description": "whose session it is (a parent key reads several projects)"},
        "init_timestamp": _TIME,
        "end_timestamp": _NTIME,
        "last_activity_timestamp": {**_TIME, "description": "end of the latest span received"},
        "duration_s": {"type": "number"},
        "state": {
            "type": "string",
            "enum": list(END_STATE_FILTERS),
            "description": "Running, Inactive (no span for over an hour), or the end state once ended",
        },
        "end_state": {**_NEND_STATE, "description": "null until the session ended"},
        "end_state_reason": _NSTR,
        "in_progress": {
            "type": "boolean",
            "description": "not ended: no session root span, nor for a trace without one its local root, yet",
        },
        "tags": {"type": "array", "items": _STR},
        "llm_calls": _INT,
        "tool_calls": _INT,
        "actions": _INT,
        "errors": _INT,
        "events": {"type": "integer", "description": "spans other than the root"},
        "prompt_tokens": _INT,
        "completion_tokens": _INT,
        "cache_read_tokens": _INT,
        "cache_creation_tokens": _INT,
        "reasoning_tokens": _INT,
        "unpriced_llm_calls": {"type": "integer", "description": "LLM calls without a known cost"},
        "cost": _MONEY,
        "cost_partial": {"type": "boolean", "description": "unpriced_llm_calls > 0: the cost leaves them out"},
        "models": {"type": "array", "items": _STR},
    }
)
SPAN = _obj(
    {
        "trace_id": _STR,
        "span_id": _STR,
        "parent_span_id": _NSTR,
        "name": _STR,
        "kind": {
            "type": ["string", "null"],
            "description": "llm, tool, action, agent, error, session or null, whatever instrumentation sent it",
        },
        "span_kind": {
            "type": "string",
            "anyOf": [
                {"enum": ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]},
                {"pattern": "^-?[0-9]+$"},
            ],
            "description": "OTLP's span kind; a kind outside its enum as its number, as sent",
        },
        "start_time": _TIME,
        "end_time": _TIME,
        "duration_ms": {"type": "number"},
        "status_code": {
            "type": "string",
            "anyOf": [{"enum": ["UNSET", "OK", "ERROR"]}, {"pattern": "^[0-9]+$"}],
            "description": "UNSET, OK or ERROR; a code outside OTLP's enum as its number, as sent",
        },
        "status_message": _STR,
        "attributes": _ATTRIBUTES,
        "events": {
            "type": "array",
            "items": _obj({"name": _STR, "timestamp": _TIME, "attributes": _ATTRIBUTES}),
        },
        "resource": _ATTRIBUTES,
        "service_name": _NSTR,
        "cost": {"type": ["string", "null"], "description": "USD, exact decimal; null for an unpriced LLM call"},
        "cost_source": {"type": ["string", "null"], "description": "agentops.cost.source of an LLM span"},
        "logs": {
            "type": "array",
            "description": "log records sent for this span (OTLP logs with its trace and span id)",
            "items": _obj(
                {"name": _NSTR, "timestamp": _NTIME, "severity": _NSTR, "body": {}, "attributes": {"type": "object"}}
            ),
        },
    }
)
SESSION_META = _obj(
    {
        "session_id": _STR,
        "project_id": _STR,
        "init_timestamp": _TIME,
        "end_timestamp": _NTIME,
        "state": {"type": "string", "enum": list(END_STATE_FILTERS)},
        "end_state": _NEND_STATE,
        "end_state_reason": _NSTR,
        "tags": {"type": "array", "items": _STR},
        "host_env": {**_ATTRIBUTES, "description": "resource attributes (as span attributes are written)"},
        "video": _NSTR,
    }
)
EXPORT = _obj(
    {
        "session": SESSION_META,
        "stats": _ref("SessionSummary"),
        **{
            group: {"type": "array", "items": _ref("Span")}
            for group in ("actions", "llms", "tools", "agents", "errors", "spans")
        },
    }
)
SESSION_SPAN = {
    **_obj({k: v for k, v in SPAN["properties"].items() if k not in LEAN_OMITS}),
    "description": "a Span without trace_id (the session id) and resource (see session.host_env)",
}
SESSION_SPANS = _obj(
    {
        "session": SESSION_META,
        "stats": _ref("SessionSummary"),
        "spans": {
            "type": "array",
            "items": _ref("SessionSpan"),
            "description": "every span of the session once, root included, ordered by start time",
        },
    }
)
OVERVIEW = _obj(
    {
        "totals": _obj(
            {
                "sessions": _INT,
                "llm_calls": _INT,
                "errors": _INT,
                "cost": _MONEY,
                "prompt_tokens": _INT,
                "completion_tokens": _INT,
                "failed_sessions": {"type": "integer", "description": "sessions ending Failure or with errors"},
            }
        ),
        "error_rate": {"type": "number", "description": "failed_sessions / sessions"},
        "bucket": {"type": "string", "enum": list(BUCKETS_NS)},
        "buckets": {
            "type": "array",
            "items": _obj(
                {
                    "start": _TIME,
                    "sessions": _INT,
                    "cost": _MONEY,
                    "prompt_tokens": _INT,
                    "completion_tokens": _INT,
                    "errors": {"type": "integer", "description": "error spans"},
                    "failed_sessions": _INT,
                    "error_rate": {"type": "number", "description": "failed_sessions / sessions of the bucket"},
                }
            ),
            "description": "sessions by their start time, the bucket wide",
        },
        "cost_by_model": {
            "type": "array",
            "description": "the LLM calls of the same sessions (by session start): costs add up to totals.cost",
            "items": _obj(
                {"model": _STR, "calls": _INT, "cost": _MONEY, "prompt_tokens": _INT, "completion_tokens": _INT}
            ),
        },
        "top_sessions": {"type": "array", "items": _ref("SessionSummary")},
    }
)


STATUS = _obj(
    {
        "project_id": {
            "type": ["string", "null"],
            "description": "the key's own project; null for a parent key without one (it only reads)",
        },
        "projects": {
            "type": "array",
            "description": "every project the key reads: its own first, then those of the keys whose keys "
            "entry names it as their parent (parent=...)",
            "items": _STR,
        },
        "keys_registered": {
            "type": "boolean",
            "description": "false: no key is registered (loopback only) and every key is its own project",
        },
        "projects_with_spans": {
            "type": "array",
            "description": "when no key is registered (else empty): each key that stored spans since the "
            "collector started, by a hint (first four and last two characters), so a mistyped key can be spotted",
            "items": _obj({"key_hint": _STR, "spans_stored": _INT}),
        },
        "ingest": _obj(
            {
                "requests": {"type": "integer", "description": "OTLP requests stored"},
                "spans_stored": {"type": "integer", "description": "spans stored for the first time"},
                "spans_duplicate": {"type": "integer", "description": "re-sent spans, already stored (kept once)"},
                "spans_rejected": {"type": "integer", "description": "invalid spans, reported in partial success"},
                "requests_refused": {
                    "type": "integer",
                    "description": "refused under load (503 + Retry-After, gRPC RESOURCE_EXHAUSTED), to retry",
                },
            }
        ),
        "forward": {
            "type": "array",
            "items": _obj(
                {
                    "url": {"type": "string", "description": "the target, without user info or query"},
                    "sent_spans": _INT,
                    "dropped_spans": _INT,
                    "failed_requests": _INT,
                }
            ),
        },
    }
)


def _param(name: str, where: str, description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _responses(ok: dict, description: str, *errors: int) -> dict:
    out: dict[str, Any] = {"200": {"description": description, "content": {"application/json": {"schema": ok}}}}
    texts = {400: "bad parameter or malformed session id", 401: "missing or unknown API key", 404: "no such session"}
    for code in errors:
        out[str(code)] = {"description": texts[code], "content": {"application/json": {"schema": _ERROR}}}
    return out


_SESSION_ID = _param(
    "session_id",
    "path",
    "the session id = the trace id: a UUID (dashes optional), not all zeros; anything else is a 400",
    {"type": "string", "format": "uuid"},
    required=True,
)
# Years FIRST_YEAR to LAST_YEAR (what the store's nanosecond times hold), as a pattern on the text.
_YEARS = "^(19[7-9][0-9]|2[01][0-9]{2}|22[0-5][0-9]|226[01])-"
_TIME_PARAM = {"type": "string", "format": "date-time", "pattern": _YEARS}
_RANGE = [
    _param(
        "start_after",
        "query",
        f"sessions started at or after this ISO 8601 time (years {FIRST_YEAR} to {LAST_YEAR}; naive means UTC)",
        _TIME_PARAM,
    ),
    _param(
        "start_before",
        "query",
        f"sessions started before this ISO 8601 time (years {FIRST_YEAR} to {LAST_YEAR}; naive means UTC)",
        _TIME_PARAM,
    ),
]


def document(version: str | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "agentops-otel collector",
            "version": version or sdk_version(),
            "description": "Sessions of LLM agents received over OTLP, with cost and tokens. "
            "Authenticate every call with `X-Agentops-Api-Key: <key>` or `Authorization: Bearer <key>`. "
            "A project's key reads its project; a parent key (named by `parent=` in the collector's keys "
            "entries) reads the projects of its child keys too, as one list, one overview.",
        },
        "components": {
            "schemas": {
                "SessionSummary": SESSION_SUMMARY,
                "Span": SPAN,
                "Export": EXPORT,
                "SessionSpan": SESSION_SPAN,
                "SessionSpans": SESSION_SPANS,
                "Overview": OVERVIEW,
                "Status": STATUS,
            },
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Agentops-Api-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": {
            "/v2/sessions": {
                "get": {
                    "summary": "List sessions, newest first",
                    "parameters": [
                        _param(
                            "limit",
                            "query",
                            f"page size, 1-{MAX_LIMIT} (default 50)",
                            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
                        ),
                        _param("cursor", "query", "next_cursor of the previous page (opaque; anything else is a 400)"),
                        _param(
                            "tags",
                            "query",
                            f"comma-separated: sessions having all these tags (at most {MAX_TAGS})",
                            {"type": "string", "pattern": f"^[^,]*(,[^,]*){{0,{MAX_TAGS - 1}}}$"},
                        ),
                        _param(
                            "end_state",
                            "query",
                            "ended sessions by end state: Success, Failure (alias Fail) or Indeterminate; sessions "
                            "not ended yet: Running (a span within the last hour) or Inactive (none for longer)",
                            {"enum": [*END_STATE_FILTERS, "Fail"]},
                        ),
                        *_RANGE,
                        _param("sort", "query", "sort key (default init_timestamp)", {"enum": list(SORT_KEYS)}),
                        _param("order", "query", "desc (default) or asc", {"enum": ["desc", "asc"]}),
                    ],
                    "responses": _responses(
                        _obj({"sessions": {"type": "array", "items": _ref("SessionSummary")}, "next_cursor": _NSTR}),
                        "a page of sessions",
                        400,
                        401,
                    ),
                }
            },
            "/v2/sessions/{session_id}/stats": {
                "get": {
                    "summary": "Statistics of one session (AgentOps keys included)",
                    "parameters": [_SESSION_ID],
                    "responses": _responses(_ref("SessionSummary"), "the session's rollup", 400, 401, 404),
                }
            },
            "/v2/sessions/{session_id}/export": {
                "get": {
                    "summary": "Everything about one session: metadata, stats, events by kind, all spans",
                    "parameters": [_SESSION_ID],
                    "responses": _responses(_ref("Export"), "the session export", 400, 401, 404),
                }
            },
            "/v2/sessions/{session_id}/spans": {
                "get": {
                    "summary": "One session for display: metadata, stats and every span once, without the "
                    "per-span resource (the dashboard's detail page; about a quarter of the export's size)",
                    "parameters": [_SESSION_ID],
                    "responses": _responses(_ref("SessionSpans"), "the session and its spans", 400, 401, 404),
                }
            },
            "/v2/overview": {
                "get": {
                    "summary": "Totals, cost and tokens over time, cost by model, top sessions",
                    "parameters": [
                        *_RANGE,
                        _param("bucket", "query", "hour or day (default by range)", {"enum": list(BUCKETS_NS)}),
                    ],
                    "responses": _responses(_ref("Overview"), "the overview", 400, 401),
                }
            },
            "/v2/status": {
                "get": {
                    "summary": "This key's project's ingest counters since the collector started, what became "
                    "of its spans at each forward target, and the projects the key reads",
                    "responses": _responses(_ref("Status"), "the project's counters", 401),
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness (no key needed, nothing about any project)",
                    "security": [],
                    "responses": {"200": {"description": 'serving: {"status": "ok"}'}},
                }
            },
            "/v1/traces": {
                "post": {
                    "summary": "OTLP/HTTP trace export (protobuf or JSON, gzip or deflate)",
                    "requestBody": {
                        "content": {"application/x-protobuf": {}, "application/json": {}},
                        "required": True,
                    },
                    "responses": {
                        "200": {"description": _STORED},
                        "400": {"description": "malformed body"},
                        "401": {"description": "missing or unknown API key"},
                        "413": {"description": "body over the size limit"},
                        "415": {"description": "unsupported content type or encoding"},
                        "503": {"description": "busy or storage failed: retry"},
                    },
                }
            },
        },
    }


def docs_page(doc: dict[str, Any]) -> str:
    """A readable, dependency-free HTML rendering of ``doc`` (all text escaped)."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>agentops-otel collector API</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#1d2433}"
        "h2{margin-top:2rem;font-family:ui-monospace,monospace}"
        ".m{display:inline-block;padding:0 .5rem;border-radius:4px;background:#2563eb;color:#fff;margin-right:.5rem}"
        "table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}"
        "pre{background:#f6f8fa;padding:1rem;overflow:auto;font-size:13px}</style></head><body>",
        f"<h1>{esc(doc['info']['title'])} <small>{esc(doc['info']['version'])}</small></h1>",
        f"<p>{esc(doc['info']['description'])}</p><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>",
    ]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(f"<h2><span class='m'>{esc(method.upper())}</span>{esc(path)}</h2><p>{esc(op['summary'])}</p>")
            if op.get("parameters"):
                parts.append("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>")
                for p in op["parameters"]:
                    parts.append(
                        f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p['in'])}</td>"
                        f"<td>{esc(p['description'])}</td></tr>"
                    )
                parts.append("</table>")
            parts.append("<table><tr><th>status</th><th>meaning</th></tr>")
            for code, response in op["responses"].items():
                parts.append(f"<tr><td>{esc(code)}</td><td>{esc(response['description'])}</td></tr>")
            parts.append("</table>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in doc["components"]["schemas"].items():
        parts.append(f"<h3>{esc(name)}</h3><pre>{esc(json.dumps(schema, indent=2))}</pre>")
    parts.append(f"<footer><small>{esc(_package)}</small></footer></body></html>")
    return "".join(parts)
