"""One clear warning when the collector refuses the API key (HTTP 401/403, gRPC UNAUTHENTICATED /
PERMISSION_DENIED): which key (masked as the collector masks it, so the two logs match) and what to
check, once per key and target, instead of a drop notice for every refused batch.
"""

from __future__ import annotations

import logging
import threading

from agentops_otel.collector.auth import KEY_HEADER, masked_key
from agentops_otel.spool import Target

logger = logging.getLogger("agentops_otel")

REFUSED_KEY = {
    "HTTP 401": "401 Unauthorized",
    "HTTP 403": "403 Forbidden",
    "gRPC UNAUTHENTICATED": "UNAUTHENTICATED",
    "gRPC PERMISSION_DENIED": "PERMISSION_DENIED",
}

_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


def key_refused(target: Target, reason: str) -> bool:
    """True if ``reason`` (a failed send's) says the collector refused the key; warns once per key and target."""
    answer = REFUSED_KEY.get(reason)
    if answer is None:
        return False
    key = next((value for name, value in target.headers if name.lower() == KEY_HEADER), None)
    shown = masked_key(key) if key else "(none)"
    with _lock:
        if (target.url, shown) in _warned:
            return True
        _warned.add((target.url, shown))
    logger.warning(
        "agentops-otel: %s refused the spans sent with API key %s (%s); they are dropped. Check that "
        "AGENTOPS_API_KEY (or init(api_key=...)) is a key in the collector's keys file "
        "(--keys-file / AGENTOPS_COLLECTOR_KEYS) and that the endpoint is your collector",
        target.describe(),
        shown,
        answer,
    )
    return True
