"""One clear warning when the collector refuses the API key (HTTP 401/403, gRPC UNAUTHENTICATED /
PERMISSION_DENIED), in place of the OTLP exporter's generic "Failed to export" line.

A logging filter on the OTLP exporters' loggers: their refusal records are dropped and replaced by
one warning per key that names the key as logs may show it (masked) and what to check. Other
records of those loggers (connection errors, retries) pass unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agentops_otel.collector.auth import masked_key  # the collector's own form: the two logs match

logger = logging.getLogger("agentops_otel")

EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)
_REFUSED_HTTP = {401: "401 Unauthorized", 403: "403 Forbidden"}
_REFUSED_GRPC = ("UNAUTHENTICATED", "PERMISSION_DENIED")


def refusal(record: logging.LogRecord) -> str | None:
    """What the collector answered, if ``record`` is an exporter's report of a refused key."""
    if not isinstance(record.msg, str) or not record.msg.startswith("Failed to export"):
        return None
    for arg in record.args if isinstance(record.args, tuple) else ():
        if isinstance(arg, int) and not isinstance(arg, bool) and arg in _REFUSED_HTTP:
            return _REFUSED_HTTP[arg]
        text = str(arg)
        for code in _REFUSED_GRPC:
            if text.endswith(code):
                return code
    return None


class KeyRefusedFilter(logging.Filter):
    """Replaces refused-key export errors by one warning per key; ``keys()`` gives the keys in use."""

    def __init__(self, keys: Callable[[], list[str | None]]) -> None:
        super().__init__("agentops_otel.auth")
        self._keys = keys
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        answer = refusal(record)
        if answer is None:
            return True
        try:
            shown = sorted({masked_key(key) if key else "(none)" for key in self._keys()})
        except Exception:
            shown = []
        with self._lock:
            fresh = [key for key in (shown or ["(none)"]) if key not in self._warned]
            self._warned.update(fresh)
        if fresh:
            logger.warning(
                "agentops-otel: the collector refused the spans (%s) sent with API key %s. Check that "
                "AGENTOPS_API_KEY (or init(api_key=...)) is a key listed in the collector's keys file "
                "(--keys-file / AGENTOPS_COLLECTOR_KEYS) and that the endpoint is your collector; "
                "spans sent with this key are dropped",
                answer,
                ", ".join(fresh),
            )
        return False


def install(keys: Callable[[], list[str | None]]) -> KeyRefusedFilter:
    refused = KeyRefusedFilter(keys)
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).addFilter(refused)
    return refused


def uninstall(refused: KeyRefusedFilter) -> None:
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).removeFilter(refused)
