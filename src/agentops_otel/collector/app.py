"""The collector's HTTP application: OTLP/HTTP in, REST API, OpenAPI docs, and the dashboard.

The dashboard lives in ``agentops_otel.collector.dashboard`` (its own package): when that package
exists and defines ``routes() -> list[starlette.routing.BaseRoute]``, its routes are added after
the API's (so ``/v1``, ``/v2``, ``/docs`` and ``/openapi.json`` always win). Without it, ``/``
points at the API docs.
"""

from __future__ import annotations

import importlib
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agentops_otel.collector import api, openapi, signals
from agentops_otel.collector.core import Collector
from agentops_otel.collector.receiver_http import traces_endpoint
from agentops_otel.host import sdk_version

logger = logging.getLogger(__name__)
DASHBOARD_MODULE = "agentops_otel.collector.dashboard"


def dashboard_routes() -> list[BaseRoute]:
    try:
        module = importlib.import_module(DASHBOARD_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and DASHBOARD_MODULE.startswith(exc.name):
            return []
        raise
    routes = getattr(module, "routes", None)
    return list(routes()) if callable(routes) else []


def create_app(collector: Collector, *, max_body_bytes: int, version: str | None = None) -> Starlette:
    doc = openapi.document(version or sdk_version())
    page = openapi.docs_page(doc)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(doc)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    async def health(request: Request) -> Response:  # liveness only: no key, so nothing about any project
        return JSONResponse({"status": "ok"})

    async def home(request: Request) -> Response:
        return RedirectResponse("/docs")

    routes: list[BaseRoute] = [
        Route("/v1/traces", traces_endpoint(collector, max_body_bytes), methods=["POST"]),
        *signals.routes(collector, max_body_bytes),
        *api.routes(collector),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    extra = dashboard_routes()
    routes += extra or [Route("/", home, methods=["GET"])]
    return Starlette(routes=routes)
