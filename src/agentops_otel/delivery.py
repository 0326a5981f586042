"""Export that survives collector outages: send what can be sent, spool the rest, re-send it later.

:class:`SpoolingExporter` is each pipeline's exporter. ``export()`` only serializes the batch to an
OTLP request (:mod:`~agentops_otel.span_encoding`) and queues the bytes (the batch processor's
worker never waits on the network); its own thread sends them in order. When a send fails in a
way worth retrying (connection refused or reset, timeout, 408, 429, 5xx, gRPC UNAVAILABLE and the
like) the request and everything queued behind it go to the :mod:`spool`, and so do later batches
until the target answers again.

:class:`Delivery`, one per process, owns the spool and one thread that empties it, oldest first,
per target, with exponential backoff (``Retry-After`` and gRPC ``RetryInfo`` honoured) for as
long as a target is away; when a target's last spooled request is delivered, its exporters send
directly again. It also delivers what other processes left in the same spool (a program that
exited while the collector was down, or was killed). A request refused for good (400, 401, 413,
...) is dropped, counted, with one warning.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentops_otel.auth_warning import key_refused
from agentops_otel.config import COMPRESSION_GZIP, PROTOCOL_GRPC, Configuration
from agentops_otel.spool import DiskSpool, MemorySpool, Spool, Target, Unreadable, open_spool

logger = logging.getLogger("agentops_otel")

REQUEST_TIMEOUT_S = 10.0  # one send; the OTLP exporters' default
GZIP_LEVEL = 6  # as the OTLP exporters compress
BACKOFF_START_S = 0.5
RESCAN_S = 30.0  # idle: look again for requests other processes left in the spool
RETRY_AFTER_MAX_S = 600.0
OUTBOX_MAX_BYTES = 32 << 20  # requests waiting for this process's sender; beyond it, they wait in the spool


@dataclass
class Outcome:
    ok: bool
    retry: bool = False  # a failure worth trying again later
    retry_after: float | None = None  # seconds the target asked us to wait
    reason: str = ""


@dataclass(frozen=True)
class Transport:
    """How a sender connects: TLS files (paths, read when connecting), compression, timeout.

    Kept out of :class:`~agentops_otel.spool.Target` on purpose: a spooled request names where it
    goes, and whoever delivers it connects with its own configuration's transport."""

    certificate: str | None = None  # CA bundle to trust; None: the system's
    client_certificate: str | None = None
    client_key: str | None = None
    gzip: bool = False
    timeout_s: float = REQUEST_TIMEOUT_S
    insecure: bool | None = None  # gRPC: None lets the endpoint's scheme decide

    @classmethod
    def of(cls, config: Configuration) -> Transport:
        return cls(
            config.exporter_certificate,
            config.exporter_client_certificate,
            config.exporter_client_key,
            config.exporter_compression == COMPRESSION_GZIP,
            config.exporter_timeout / 1000,
            config.exporter_insecure,
        )


class Sender(Protocol):
    def send(self, data: bytes) -> Outcome: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), capped; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


class HttpSender:
    """POSTs request bytes to an OTLP/HTTP traces URL."""

    def __init__(self, target: Target, transport: Transport | None = None) -> None:
        import requests

        transport = transport or Transport()
        self._requests = requests
        self._session = requests.Session()
        self._url = target.url
        self._headers = {"Content-Type": "application/x-protobuf", **dict(target.headers)}
        self._gzip = transport.gzip
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._timeout = transport.timeout_s
        # requests reads the files at each new connection; True: the system's bundle (or REQUESTS_CA_BUNDLE)
        self._verify: bool | str = transport.certificate or True
        self._cert: str | tuple[str, str] | None = None
        if transport.client_certificate:
            key = transport.client_key
            self._cert = (transport.client_certificate, key) if key else transport.client_certificate
        # requests looks at the environment (proxies, REQUESTS_CA_BUNDLE, ~/.netrc) again at every
        # request, a scan of os.environ costing more than the rest of a small export: it is read
        # once, here, through requests' own functions, and applied to every send.
        session = self._session
        settings = session.merge_environment_settings(self._url, {}, None, self._verify, self._cert)
        session.proxies, self._verify = settings["proxies"], settings["verify"]
        session.auth = requests.utils.get_netrc_auth(self._url)
        session.trust_env = False
        # Every request is the same but for its body: prepared once (headers, auth), copied per send.
        self._prepared = session.prepare_request(requests.Request("POST", self._url, headers=self._headers))
        self._send_options = {"timeout": self._timeout, "verify": self._verify, "cert": self._cert}
        self._send_options.update(proxies=session.proxies, stream=False, allow_redirects=True)

    def send(self, data: bytes) -> Outcome:
        body = gzip.compress(data, compresslevel=GZIP_LEVEL) if self._gzip else data
        try:
            request = self._prepared.copy()
            request.prepare_body(body, None)
            if self._session.cookies:  # what the collector (or a load balancer before it) set
                request.prepare_cookies(self._session.cookies)
            response = self._session.send(request, **self._send_options)
        except self._requests.RequestException as error:  # refused, reset, timed out, TLS refused
            return Outcome(False, retry=True, reason=_error_reason(error))
        except OSError as error:  # a TLS file that is gone or unreadable: kept until it is fixed
            return Outcome(False, retry=True, reason=f"TLS files unusable: {error}")
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return Outcome(True)
        retry = status in (408, 429) or status >= 500
        return Outcome(False, retry, parse_retry_after(response.headers.get("Retry-After")), f"HTTP {status}")


_UNTRUSTED = (
    "its TLS certificate is not trusted: set OTEL_EXPORTER_OTLP_CERTIFICATE (or the exporter_certificate "
    "argument) to the CA file that signed it"
)


def _error_reason(error: BaseException) -> str:
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return _UNTRUSTED
    for known in ("Connection refused", "timed out", "Connection reset", "Name or service not known"):
        if known in text:
            return known.lower()
    return type(error).__name__


class GrpcSender:
    """Calls the OTLP/gRPC trace service with request bytes (no re-encoding)."""

    METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

    def __init__(self, target: Target, transport: Transport | None = None) -> None:
        import grpc

        transport = self._transport = transport or Transport()
        self._grpc = grpc
        parts = urlsplit(target.url)
        self._address = parts.netloc or parts.path
        # https: always TLS; http: plaintext unless OTEL_EXPORTER_OTLP_INSECURE=false asks for TLS
        self._secure = parts.scheme == "https" or transport.insecure is False
        self._call: Callable[..., object] | None = None
        self._metadata = tuple((k.lower(), v) for k, v in target.headers)  # gRPC metadata keys are lower case
        self._timeout = transport.timeout_s
        self._compression = grpc.Compression.Gzip if transport.gzip else grpc.Compression.NoCompression
        c = grpc.StatusCode
        self._retryable = {
            c.CANCELLED,
            c.DEADLINE_EXCEEDED,
            c.RESOURCE_EXHAUSTED,
            c.ABORTED,
            c.OUT_OF_RANGE,
            c.UNAVAILABLE,
            c.DATA_LOSS,
        }

    def credentials(self) -> object:
        """TLS credentials from the transport's files, read now (a renewed certificate is used on
        the next connection)."""
        t = self._transport

        def read(path: str | None) -> bytes | None:
            if not path:
                return None
            with open(path, "rb") as file:
                return file.read()

        return self._grpc.ssl_channel_credentials(
            root_certificates=read(t.certificate),
            private_key=read(t.client_key) if t.client_certificate else None,
            certificate_chain=read(t.client_certificate),
        )

    def _connect(self) -> Callable[..., object]:
        grpc = self._grpc
        if self._secure:
            channel = grpc.secure_channel(self._address, self.credentials(), compression=self._compression)
        else:
            channel = grpc.insecure_channel(self._address, compression=self._compression)
        self._channel = channel
        return channel.unary_unary(self.METHOD)  # no serializers: bytes in, bytes out

    def send(self, data: bytes) -> Outcome:
        if self._call is None:
            try:
                self._call = self._connect()
            except OSError as error:  # a TLS file that is gone or unreadable: kept until it is fixed
                return Outcome(False, retry=True, reason=f"TLS files unusable: {error}")
        try:
            self._call(data, metadata=self._metadata, timeout=self._timeout)
        except self._grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            if code == self._grpc.StatusCode.UNAVAILABLE:
                # A new channel connects at once; the old one would wait out gRPC's own reconnect
                # backoff (up to minutes) after the collector is back. Our backoff paces retries.
                self._channel.close()
                self._call = None
            reason = f"gRPC {getattr(code, 'name', code)}"
            details = str(error.details() if hasattr(error, "details") else "")
            if "CERTIFICATE_VERIFY_FAILED" in details.upper():
                reason = f"{reason}: {_UNTRUSTED}"
            return Outcome(False, code in self._retryable, _grpc_retry_after(error), reason)
        return Outcome(True)


def _grpc_retry_after(error: object) -> float | None:
    """The RetryInfo delay in a gRPC error's status details, if any."""
    try:
        from google.rpc import error_details_pb2, status_pb2

        for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
            if key == "grpc-status-details-bin":
                for detail in status_pb2.Status.FromString(value).details:
                    info = error_details_pb2.RetryInfo()
                    if detail.Unpack(info):
                        return min(info.retry_delay.ToTimedelta().total_seconds(), RETRY_AFTER_MAX_S)
    except Exception:
        return None
    return None


def make_sender(target: Target, transport: Transport | None = None) -> Sender:
    if target.protocol == PROTOCOL_GRPC:
        return GrpcSender(target, transport)
    return HttpSender(target, transport)


def target_of(config: Configuration) -> Target:
    return Target(config.traces_endpoint, config.exporter_protocol, tuple(sorted(config.export_headers.items())))


# --- the process's spool and its delivery thread ----------------------------------------------------
class Delivery:
    """The spool of this process and the thread that delivers it."""

    def __init__(
        self,
        spool: Spool,
        max_backoff_s: float,
        sender_factory: Callable[[Target, Transport], Sender] = make_sender,
        transport: Transport | None = None,
    ) -> None:
        self.spool = spool
        self.max_backoff_s = max_backoff_s
        self._make_sender = sender_factory
        # How spooled requests are sent: the transport of this process's exporter to the same
        # target, else this one (the configuration that opened the spool).
        self.transport = transport or Transport()
        self._senders: dict[str, Sender] = {}
        self._backoff: dict[str, tuple[float, float]] = {}  # target key -> (retry at, last delay)
        self._outage: dict[str, str] = {}  # target key -> URL, for targets reported down
        self._exporters: weakref.WeakSet[SpoolingExporter] = weakref.WeakSet()
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._passes = 0  # passes started
        self._quiet_pass = -1  # the last pass that found nothing it could deliver
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.delivered_spans = 0
        self._left_reported = False

    @classmethod
    def open(cls, config: Configuration) -> Delivery:
        from agentops_otel.spool import default_spool_dir

        location = config.spool_dir or default_spool_dir()
        spool = open_spool(location, config.spool_max_bytes, config.spool_max_age)
        return cls(spool, config.spool_max_backoff / 1000, transport=Transport.of(config))

    def start(self) -> Delivery:
        with self._lock:
            if self._pid != os.getpid() and not self._stopped:  # first start, or a forked child
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="agentops-spool", daemon=True)
                self._thread.start()
        return self

    def register(self, exporter: SpoolingExporter) -> None:
        self._exporters.add(exporter)

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def close(self) -> None:
        """Stop delivering; one warning for dropped spans, and one for what is left undelivered."""
        with self._lock:
            self._stopped = True
        self._wake.set()
        self.report()

    def report(self) -> None:
        self.spool.report_drops()
        if isinstance(self.spool, MemorySpool):
            left = self.spool.undelivered_spans()
            if left and not self._left_reported:
                self._left_reported = True
                logger.warning(
                    "agentops-otel: %d spans could not be delivered and are lost with this process "
                    "(the spool is in memory only)",
                    left,
                )
            return
        left = sum(e.spans for e in self.spool.entries())
        if left and self._outage and not self._left_reported:
            self._left_reported = True
            logger.warning(
                "agentops-otel: %d spans wait in the spool at %s; the next process using it, or "
                "`agentops-otel spool flush`, delivers them",
                left,
                self.spool.location,
            )

    # --- called by exporters ------------------------------------------------------------------
    def spool_request(self, target: Target, data: bytes, spans: int) -> str | None:
        name = self.spool.put(target, data, spans)
        self.wake()
        return name

    def failed(self, target: Target, outcome: Outcome) -> None:
        """A send to ``target`` failed in a way worth retrying: back off, and say so once per outage."""
        key = target.key
        with self._lock:
            _, last = self._backoff.get(key, (0.0, 0.0))
            delay = min(self.max_backoff_s, max(BACKOFF_START_S, last * 2))
            wait = outcome.retry_after if outcome.retry_after is not None else delay * random.uniform(0.75, 1.0)
            self._backoff[key] = (time.monotonic() + wait, delay)
            first = key not in self._outage
            self._outage[key] = target.describe()
        if first:
            logger.warning(
                "agentops-otel: cannot deliver spans to %s (%s); keeping them in the spool (%s) "
                "and re-sending them until it answers",
                target.describe(),
                outcome.reason,
                self.spool.location,
            )
        self.wake()

    def wait_idle(self, timeout_s: float) -> bool:
        """Try every target once more now (backoff or not), and wait until a pass that started after
        this call finds nothing it could deliver."""
        with self._lock:
            self._backoff = {key: (0.0, last) for key, (_, last) in self._backoff.items()}
            after = self._passes
        self.wake()
        with self._lock:
            return self._lock.wait_for(lambda: self._quiet_pass > after or self._stopped, max(timeout_s, 0.0))

    # --- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()
            try:
                sleep = self.deliver_once()
            except Exception:
                logger.exception("agentops-otel: spool delivery failed; retrying")
                sleep = self.max_backoff_s
            self._wake.wait(sleep)

    def deliver_once(self, stop_on_failure: bool = False) -> float:
        """One pass over the spool, oldest first; returns how long until the next is worth it."""
        with self._lock:
            self._passes += 1
            number = self._passes
        failed: set[str] = set()
        delivered = False
        for entry in self.spool.entries():
            if self._stopped:
                break
            key = entry.target_key
            if key in failed or self._retry_at(key) > time.monotonic():
                continue
            claim = self.spool.claim(entry)
            if claim is None:
                continue
            try:
                request = claim.read()
            except Unreadable as error:
                if isinstance(self.spool, DiskSpool):
                    self.spool.quarantine(claim, str(error))  # type: ignore[arg-type]
                else:
                    claim.release()
                continue
            except OSError:
                claim.release()
                continue
            try:
                outcome = self._sender(request.target).send(request.data)
            except Exception as error:  # a sender bug must not lose the request
                outcome = Outcome(False, retry=True, reason=repr(error))
            if outcome.ok:
                claim.done()
                delivered = True
                self._recovered(request.target, request.spans)
            elif outcome.retry:
                claim.release()
                failed.add(key)
                self.failed(request.target, outcome)
                if stop_on_failure:
                    break
            else:
                claim.done()
                key_refused(request.target, outcome.reason)  # said once, with the key and what to check
                self.spool._dropped(request.spans, f"refused by {request.target.describe()} ({outcome.reason})")
                self.spool.report_drops()
        remaining = self.spool.entries()
        waiting = {e.target_key for e in remaining}
        for exporter in list(self._exporters):
            if exporter.target.key not in waiting:
                exporter.resume()
        with self._lock:
            now = time.monotonic()
            due = [self._retry_at(k) - now for k in waiting]
            if not delivered and all(d > 0 for d in due):
                self._quiet_pass = number
                self._lock.notify_all()
        if delivered:
            return 0.0
        return min([RESCAN_S, *[d for d in due if d > 0]])

    def _retry_at(self, key: str) -> float:
        return self._backoff.get(key, (0.0, 0.0))[0]

    def _sender(self, target: Target) -> Sender:
        sender = self._senders.get(target.key)
        if sender is None:
            transport = next((e.transport for e in list(self._exporters) if e.target == target), self.transport)
            sender = self._senders[target.key] = self._make_sender(target, transport)
        return sender

    def _recovered(self, target: Target, spans: int) -> None:
        with self._lock:
            self.delivered_spans += spans
            self._backoff.pop(target.key, None)
            url = self._outage.pop(target.key, None)
        if url is not None:
            logger.warning("agentops-otel: %s answers again; delivering the spooled spans", url)
            self.spool.report_drops()


# --- the pipeline's exporter ------------------------------------------------------------------------
def span_encoder() -> Callable[[Sequence[ReadableSpan]], bytes]:
    """Spans to OTLP request bytes: :class:`~agentops_otel.span_encoding.SpanEncoder` (the official
    encoder's bytes, cheaper), or the official encoder itself if the internals it builds on moved."""
    try:
        from agentops_otel.span_encoding import SpanEncoder
    except ImportError:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        return lambda spans: encode_spans(spans).SerializeToString()
    return SpanEncoder().encode


@dataclass(eq=False)
class _Request:
    data: bytes
    spans: int
    spooled: str | None = None  # the spool entry holding a copy (the flush gave up waiting for its send)


class SpoolingExporter(SpanExporter):
    """Serializes each batch once and sends it from its own thread; what cannot be sent is spooled."""

    def __init__(
        self, target: Target, delivery: Delivery, sender: Sender | None = None, transport: Transport | None = None
    ) -> None:
        self.target = target
        self.transport = transport or delivery.transport
        self._delivery = delivery
        self._sender = sender or make_sender(target, self.transport)
        self._outbox: deque[_Request] = deque()
        self._outbox_bytes = 0
        self._sending: _Request | None = None
        self._cond = threading.Condition()
        self._down = False  # the target failed: new requests go to the spool until it is drained
        self._stopped = False
        self._pid = 0
        self._encode: Callable[[Sequence[ReadableSpan]], bytes] | None = None  # at the first export
        delivery.register(self)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopped:
            return SpanExportResult.FAILURE
        try:
            if self._encode is None:
                self._encode = span_encoder()
            request = _Request(self._encode(spans), len(spans))
        except Exception:
            logger.exception("agentops-otel: could not encode %d spans", len(spans))
            return SpanExportResult.FAILURE
        with self._cond:
            if self._pid != os.getpid():
                self._start()
            if not self._down:
                self._outbox.append(request)
                self._outbox_bytes += len(request.data)
                self._cond.notify_all()
                if self._outbox_bytes <= OUTBOX_MAX_BYTES:
                    return SpanExportResult.SUCCESS
                request = self._outbox.popleft()  # too much waiting: the oldest waits in the spool
                self._outbox_bytes -= len(request.data)
            self._spool(request)
        return SpanExportResult.SUCCESS

    def _start(self) -> None:
        if self._pid:  # a forked child: the parent's queue is the parent's to send
            self._outbox.clear()
            self._outbox_bytes = 0
            self._sending = None
            self._cond = threading.Condition()
        self._pid = os.getpid()
        threading.Thread(target=self._run, name="agentops-export", daemon=True).start()
        self._delivery.start()

    def _spool(self, request: _Request) -> None:
        request.spooled = self._delivery.spool_request(self.target, request.data, request.spans) or ""

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._outbox and not self._stopped:
                    cond.wait()
                if self._stopped:
                    return
                request = self._sending = self._outbox[0]
            try:
                outcome = self._sender.send(request.data)
            except Exception as error:
                outcome = Outcome(False, retry=True, reason=repr(error))
            with cond:
                self._sending = None
                if request.spooled is None and self._outbox and self._outbox[0] is request:
                    if outcome.ok or not outcome.retry:
                        self._outbox.popleft()
                        self._outbox_bytes -= len(request.data)
                    else:
                        self._down = True
                        self._delivery.failed(self.target, outcome)  # warns before a flush waiting on it returns
                        self._spill_locked()
                cond.notify_all()
            if request.spooled and outcome.ok:
                self._delivery.spool.discard(request.spooled)  # sent after all: its spooled copy is not needed
            if not outcome.ok and not outcome.retry:
                self._delivery.spool._dropped(request.spans, f"refused by {self.target.describe()} ({outcome.reason})")
                if not key_refused(self.target, outcome.reason):  # a refused key is said once, not per batch
                    self._delivery.spool.report_drops()

    def _spill_locked(self) -> None:
        while self._outbox:
            request = self._outbox.popleft()
            self._spool(request)
        self._outbox_bytes = 0

    def spill(self) -> None:
        """Hand everything not yet sent to the spool (a request in flight too: sent twice at worst)."""
        with self._cond:
            if self._outbox:
                self._down = True
                self._spill_locked()
                self._cond.notify_all()
        if self._down:
            self._delivery.failed(self.target, Outcome(False, True, None, "no answer in time"))

    def resume(self) -> None:
        """The spool holds nothing more for this target: send directly again."""
        with self._cond:
            self._down = False

    def wait_sent(self, timeout_s: float) -> bool:
        """Wait until every request handed over is sent or spooled."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._outbox and self._sending is None, max(timeout_s, 0.0))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.wait_sent(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.spill()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
