"""Load shedding: how much OTLP work the collector holds at once, over both receivers.

A request is admitted before its body is read, holding a place among ``max_requests`` and the
bytes of its body among ``max_bytes`` (the declared ``Content-Length``, or each chunk as it comes;
after preparing, the size of what was decoded if that is larger: a gzip body inflates). A request
that does not fit is refused at once with a retry delay (HTTP 503 + ``Retry-After``, gRPC
RESOURCE_EXHAUSTED + ``RetryInfo``) instead of waiting in a queue while its client gives up, so
what is admitted is answered in time and throughput stays at capacity however many clients send.
"""

from __future__ import annotations

import random
import threading

DEFAULT_MAX_REQUESTS = 64
DEFAULT_MAX_BODY_MEMORY = 128 * 1024 * 1024
# Clients told to come back after the same delay would all come back at once.
RETRY_AFTER_S = (1, 3)


class Busy(Exception):
    """The collector is full: the client should retry later (HTTP 503 / gRPC RESOURCE_EXHAUSTED)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.retry_after = random.randint(*RETRY_AFTER_S)


class Ticket:
    """One admitted request: the bytes it holds until :meth:`Admission.leave`."""

    __slots__ = ("held", "left")

    def __init__(self, held: int) -> None:
        self.held = held
        self.left = False


class Admission:
    """At most ``max_requests`` OTLP requests and ``max_bytes`` of their bodies at once (thread-safe)."""

    def __init__(self, max_requests: int = DEFAULT_MAX_REQUESTS, max_bytes: int = DEFAULT_MAX_BODY_MEMORY) -> None:
        self.max_requests = max(1, max_requests)
        self.max_bytes = max(1, max_bytes)
        self.requests = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def enter(self, size: int) -> Ticket:
        """Admit a request whose body holds ``size`` bytes (0 if not known yet); raises :class:`Busy`."""
        with self._lock:
            if self.requests >= self.max_requests:
                raise Busy(f"the collector is handling {self.requests} requests, its limit; retry later")
            # alone, a request of any size (below the body limit) fits: it could never pass otherwise
            if self.requests and self.bytes + size > self.max_bytes:
                raise Busy("the collector holds as many request bytes as it may; retry later")
            self.requests += 1
            self.bytes += size
        return Ticket(size)

    def hold(self, ticket: Ticket, size: int) -> None:
        """The request now holds ``size`` bytes (a chunk more was read, or its body was decoded);
        raises :class:`Busy` when that passes the limit while other requests hold bytes too."""
        with self._lock:
            more = size - ticket.held
            if more <= 0 or ticket.left:
                return
            if self.bytes - ticket.held > 0 and self.bytes + more > self.max_bytes:
                raise Busy("the collector holds as many request bytes as it may; retry later")
            self.bytes += more
            ticket.held = size

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.left:
                return
            ticket.left = True
            self.requests -= 1
            self.bytes -= ticket.held
