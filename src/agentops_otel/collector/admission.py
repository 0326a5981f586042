"""Load shedding: how much OTLP work the collector holds at once, over both receivers.

A request is admitted before its body is read, holding a place among ``max_requests`` and the
bytes of its body among ``max_bytes`` (the declared ``Content-Length``, or each chunk as it comes;
after preparing, the size of what was decoded if that is larger: a gzip body inflates). A request
that does not fit is refused at once with a retry delay (HTTP 503 + ``Retry-After``, gRPC
RESOURCE_EXHAUSTED + ``RetryInfo``) instead of waiting in a queue while its client gives up, so
what is admitted is answered in time and throughput stays at capacity however many clients send.

How many requests the collector answers in time depends on the machine and on what else runs on
it, so beyond ``min_requests`` a request is also refused while the oldest request being worked on
has been at it for longer than ``target_s``: requests then wait about that long at most, and the
number in flight follows what the collector achieves (Little's law), with no tuning.
"""

from __future__ import annotations

import random
import threading
import time

DEFAULT_MAX_REQUESTS = 64
MIN_REQUESTS = 4  # always admitted, however long others take (one huge body must not stall the rest)
TARGET_S = 2.0  # how long a request may wait: well within the 10 s OTLP exporters wait by default
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

    def __init__(
        self,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        max_bytes: int = DEFAULT_MAX_BODY_MEMORY,
        *,
        min_requests: int = MIN_REQUESTS,
        target_s: float = TARGET_S,
    ) -> None:
        self.max_requests = max(1, max_requests)
        self.max_bytes = max(1, max_bytes)
        self.min_requests = min_requests
        self.target_s = target_s
        self.requests = 0
        self.bytes = 0
        self._started: dict[Ticket, float] = {}  # requests at work, oldest first: when each began
        self._lock = threading.Lock()

    def enter(self, size: int) -> Ticket:
        """Admit a request whose body holds ``size`` bytes (0 if not known yet); raises :class:`Busy`."""
        with self._lock:
            if self.requests >= self.max_requests:
                raise Busy(f"the collector is handling {self.requests} requests, its limit; retry later")
            if self.requests >= self.min_requests and self._started:
                waited = time.monotonic() - next(iter(self._started.values()))
                if waited > self.target_s:
                    raise Busy(f"the collector's requests wait {waited:.1f} s to be stored; retry later")
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

    def begin(self, ticket: Ticket) -> None:
        """The request's work begins (its body is read): from now on its age counts."""
        started = time.monotonic()
        with self._lock:
            if not ticket.left:
                self._started[ticket] = started

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.left:
                return
            ticket.left = True
            self.requests -= 1
            self.bytes -= ticket.held
            self._started.pop(ticket, None)
