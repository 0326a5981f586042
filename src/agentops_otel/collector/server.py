"""Run the collector: SQLite store, OTLP/gRPC, and one HTTP server for OTLP/HTTP + REST + dashboard."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys

import uvicorn

from agentops_otel.collector.admission import Admission
from agentops_otel.collector.app import create_app
from agentops_otel.collector.auth import KeyRing, load_keys
from agentops_otel.collector.core import Collector
from agentops_otel.collector.forward import Forwarder
from agentops_otel.collector.receiver_grpc import start_grpc
from agentops_otel.collector.settings import CollectorSettings
from agentops_otel.collector.store import Store, StoreURLError, open_store, redact_url, scheme_of
from agentops_otel.collector.store.sqlite import StoreLocked
from agentops_otel.collector.workers import IngestWorkers
from agentops_otel.host import sdk_version

logger = logging.getLogger("agentops_otel.collector")
GIL_SWITCH_INTERVAL_S = 0.0005


class StartupError(Exception):
    """The collector refuses to start (bad keys file, unsafe bind, port taken...)."""


def _keyring(settings: CollectorSettings) -> KeyRing:
    try:
        keyring = KeyRing(load_keys(settings.keys_file, settings.keys))
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot load API keys: {exc}") from None
    if keyring.open and not settings.loopback:
        raise StartupError(
            f"refusing to listen on {settings.host} without registered API keys: anyone could write and read "
            "sessions. Register keys with --keys-file or AGENTOPS_COLLECTOR_KEYS, or bind to 127.0.0.1."
        )
    return keyring


def _http_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets of such a socket, and
    # without it every response waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen for OTLP/HTTP on {host}:{port}: {exc}") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _open_store(settings: CollectorSettings) -> Store:
    url = settings.store_url
    if settings.retention_days is not None and scheme_of(url) == "sqlite":
        logger.warning("--retention-days applies to ClickHouse stores; the SQLite store keeps every session")
    try:
        return open_store(url, synchronous=settings.sync, retention_days=settings.retention_days)
    except StoreLocked as exc:
        raise StartupError(f"{exc}; stop it or choose another --data-dir or --store") from None
    except StoreURLError as exc:
        raise StartupError(str(exc)) from None
    except Exception as exc:  # unreachable server, refused login, bad option: said without the password
        raise StartupError(f"cannot open the store {redact_url(url)}: {redact_url(str(exc))}") from None


async def _serve(settings: CollectorSettings) -> None:
    keyring = _keyring(settings)
    forwarder = None
    if settings.forward:
        try:
            forwarder = Forwarder(
                settings.forward,
                settings.forward_headers,
                retries=settings.forward_retries,
                max_queue=settings.forward_queue,
                max_queue_bytes=settings.forward_queue_bytes,
            )
        except ValueError as exc:
            raise StartupError(str(exc)) from None
    store = _open_store(settings)
    try:
        sock = _http_socket(settings.host, settings.http_port)
    except StartupError:
        store.close()
        raise
    workers = IngestWorkers(settings.ingest_workers)
    admission = Admission(settings.max_requests, settings.max_body_memory)
    collector = Collector(store, keyring, forwarder, workers, admission)
    grpc_server = None
    try:
        grpc_port = None
        if settings.grpc:
            try:
                grpc_server, grpc_port = start_grpc(
                    collector, settings.host, settings.grpc_port, settings.max_body_bytes
                )
            except (OSError, RuntimeError) as exc:
                raise StartupError(
                    f"cannot listen for OTLP/gRPC on {settings.host}:{settings.grpc_port}: {exc}"
                ) from None
        app = create_app(collector, max_body_bytes=settings.max_body_bytes, version=sdk_version())
        config = uvicorn.Config(
            app, log_level=settings.log_level.lower(), access_log=False, lifespan="off", timeout_keep_alive=30
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        http_port = sock.getsockname()[1]
        _announce(settings, http_port, grpc_port)
        await task
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait(5)
        workers.close()
        store.close()  # commits whatever was already queued
        if forwarder is not None:
            forwarder.close()
        sock.close()


def _announce(settings: CollectorSettings, http_port: int, grpc_port: int | None) -> None:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    base = f"http://{host}:{http_port}"
    ready = {
        "http_port": http_port,
        "grpc_port": grpc_port,
        "host": settings.host,
        "url": base,
        "db": str(settings.db_path) if settings.store is None else None,
        "store": redact_url(settings.store_url),
        "pid": os.getpid(),
    }
    lines = [
        f"agentops-otel collector ready (pid {os.getpid()})",
        f"  OTLP/HTTP  {base}/v1/traces",
        f"  OTLP/gRPC  {host}:{grpc_port}" if grpc_port else "  OTLP/gRPC  off",
        f"  dashboard  {base}/",
        f"  REST API   {base}/v2/sessions   (docs: {base}/docs)",
        f"  store      {redact_url(settings.store_url)}",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
    if settings.ready_file is not None:
        tmp = settings.ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ready))
        tmp.replace(settings.ready_file)  # atomic: readers never see half a file


def run(settings: CollectorSettings) -> int:
    # The event loop gives the GIL up at every socket call and then waits for the threads that
    # prepare and store requests to hand it back: 5 ms each time by default, which under load
    # stretches every request and REST call on the loop by seconds (the convoy effect).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(settings))
    except StartupError as exc:
        print(f"agentops-otel collector: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
