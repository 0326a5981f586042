"""REST export API (``/v2/...``), shaped as agreed in the REST contract with the dashboard.

Every call needs an API key: a project's key reads its project, a parent key (auth.py) the projects
of its child keys too. A session of a project the key may not read is a 404 like a missing one, so
ids never leak across projects. Store reads, and the JSON encoding of what they return,
run in a worker thread, off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentops_otel.collector.auth import key_from_headers
from agentops_otel.collector.core import Collector
from agentops_otel.collector.format import parse_iso, parse_session_id
from agentops_otel.collector.store.base import END_STATE_FILTERS, SORT_KEYS, ListQuery, ProjectScope
from agentops_otel.meaning import BUCKETS_NS, END_STATE_NAMES

MAX_LIMIT = 500
MAX_TAGS = 20  # tags a list may filter by (all of them); each is one more index lookup per row
# Times a filter may name: years 1970 to 2261, in any UTC offset (the store holds nanoseconds since
# 1970 in a signed 64-bit integer, up to 2262-04-11). One day either side of that is an offset's room.
FIRST_YEAR, LAST_YEAR = 1970, 2261
_DAY_NS = 86_400 * 10**9
_FIRST_NS, _AFTER_LAST_NS = -_DAY_NS, parse_iso(f"{LAST_YEAR + 1}-01-01T00:00:00Z") + _DAY_NS
# Left out of each span by ``/spans``: the trace id is the session id, and the resource is the
# session's host environment (sent once) for nearly every span; repeating them tripled the payload.
LEAN_OMITS = frozenset({"trace_id", "resource"})


class BadParameter(ValueError):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _time(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        ns = parse_iso(text)
    except (ValueError, OverflowError):
        raise BadParameter(f"{name} must be an ISO 8601 timestamp, got {text!r}") from None
    if not _FIRST_NS <= ns < _AFTER_LAST_NS:
        raise BadParameter(f"{name} must be a time in the years {FIRST_YEAR} to {LAST_YEAR}, got {text!r}")
    return max(ns, 0)  # 1970-01-01T00:30+01:00: no session starts before 1970 either


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = request.query_params.get(name) or default
    if value is not None and value not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _list_query(request: Request) -> ListQuery:
    params = request.query_params
    try:
        limit = int(params.get("limit") or 50)
    except ValueError:
        raise BadParameter(f"limit must be an integer, got {params.get('limit')!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParameter(f"limit must be between 1 and {MAX_LIMIT}")
    tags = tuple(dict.fromkeys(t.strip() for value in params.getlist("tags") for t in value.split(",") if t.strip()))
    if len(tags) > MAX_TAGS:
        raise BadParameter(f"tags: at most {MAX_TAGS} tags, got {len(tags)}")
    end_state = params.get("end_state") or None
    if end_state is not None:
        end_state = END_STATE_NAMES.get(end_state, end_state)  # the AgentOps alias Fail
        if end_state not in END_STATE_FILTERS:
            raise BadParameter(f"end_state must be one of {', '.join(END_STATE_FILTERS)}, got {end_state!r}")
    return ListQuery(
        limit=limit,
        cursor=params.get("cursor") or None,
        tags=tags,
        end_state=end_state,
        start_after_ns=_time(request, "start_after"),
        start_before_ns=_time(request, "start_before"),
        sort=_choice(request, "sort", SORT_KEYS, "init_timestamp"),
        descending=_choice(request, "order", ("desc", "asc"), "desc") == "desc",
    )


@dataclass(frozen=True)
class Caller:
    project_id: str | None  # the key's own project (None: a parent key that only reads)
    scope: ProjectScope  # every project it may read, its own first


def _authorised(collector: Collector, handler: Callable[[Request, Caller], Any]):
    """Wrap a handler: resolve the projects the key reads, map bad parameters to 400."""

    async def endpoint(request: Request) -> Response:
        key = key_from_headers(request.headers)
        scope = collector.scope_for(key)
        if not scope:
            return _error(401, "missing or unknown API key (send X-Agentops-Api-Key or Authorization: Bearer)")
        try:
            return await handler(request, Caller(collector.keyring.project_for(key), scope))
        except BadParameter as exc:
            return _error(400, str(exc))

    return endpoint


def _session_id(request: Request) -> bytes:
    text = request.path_params["session_id"]
    try:
        return parse_session_id(text)
    except ValueError:
        raise BadParameter(f"malformed session id {text!r}: expected a UUID") from None


def session_spans(export: dict[str, Any]) -> dict[str, Any]:
    """The detail page's view of a session export: metadata, stats and every span once, lean."""
    return {
        "session": export["session"],
        "stats": export["stats"],
        "spans": [{k: v for k, v in span.items() if k not in LEAN_OMITS} for span in export["spans"]],
    }


async def _json_or_404(read: Callable[[], Any], shape: Callable[[Any], Any] = lambda found: found) -> Response:
    """Run ``read`` and encode its result in a worker thread; a None result is a 404."""

    def respond() -> Response:
        found = read()
        if found is None:
            return _error(404, "no such session")
        return JSONResponse(shape(found))

    return await run_in_threadpool(respond)


def routes(collector: Collector) -> list[Route]:
    store = collector.store

    async def list_sessions(request: Request, caller: Caller) -> Response:
        query = _list_query(request)
        try:
            found = await run_in_threadpool(store.list_sessions, caller.scope, query)
        except ValueError as exc:  # a cursor that is not ours
            raise BadParameter(str(exc)) from None
        return JSONResponse(found)

    async def stats(request: Request, caller: Caller) -> Response:
        trace_id = _session_id(request)
        return await _json_or_404(lambda: store.session(caller.scope, trace_id))

    async def export(request: Request, caller: Caller) -> Response:
        trace_id = _session_id(request)
        return await _json_or_404(lambda: store.export(caller.scope, trace_id))

    async def spans(request: Request, caller: Caller) -> Response:
        trace_id = _session_id(request)
        return await _json_or_404(lambda: store.export(caller.scope, trace_id), session_spans)

    async def overview(request: Request, caller: Caller) -> Response:
        bucket = _choice(request, "bucket", tuple(BUCKETS_NS), None)
        found = await run_in_threadpool(
            store.overview, caller.scope, _time(request, "start_after"), _time(request, "start_before"), bucket
        )
        return JSONResponse(found)

    async def status(request: Request, caller: Caller) -> Response:
        return JSONResponse(collector.status(caller.project_id, caller.scope))

    return [
        Route("/v2/status", _authorised(collector, status), methods=["GET"]),
        Route("/v2/sessions", _authorised(collector, list_sessions), methods=["GET"]),
        Route("/v2/sessions/{session_id}/stats", _authorised(collector, stats), methods=["GET"]),
        Route("/v2/sessions/{session_id}/export", _authorised(collector, export), methods=["GET"]),
        Route("/v2/sessions/{session_id}/spans", _authorised(collector, spans), methods=["GET"]),
        Route("/v2/overview", _authorised(collector, overview), methods=["GET"]),
    ]
