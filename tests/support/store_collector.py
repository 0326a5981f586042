"""The real collector app (OTLP/HTTP, OTLP/gRPC, REST, dashboard) in this process, on any store.

chDB runs one engine path per process, so the ClickHouse store under test lives in this process:
one chDB directory per test run (:func:`chdb_path`), a fresh database per collector, dropped
after. The collector is the same app ``agentops-otel collector`` serves, on free 127.0.0.1 ports.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from agentops_otel.collector.app import create_app
from agentops_otel.collector.auth import KeyRing, load_keys
from agentops_otel.collector.core import Collector
from agentops_otel.collector.process import CollectorProcess
from agentops_otel.collector.receiver_grpc import start_grpc

MAX_BODY_BYTES = 16 * 2**20


class InProcessCollector:
    """A collector served from threads of this process; answers like :class:`CollectorProcess`."""

    get = CollectorProcess.get

    def __init__(self, store: Any, data_dir: Path, keys: str | None = None) -> None:
        self.store = store
        self.data_dir = data_dir
        self.log_path = data_dir / "collector.log"
        self.collector = Collector(store, KeyRing(load_keys(None, keys)))
        self._grpc, self.grpc_port = start_grpc(self.collector, "127.0.0.1", 0, MAX_BODY_BYTES)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self._sock = sock
        self.http_port = sock.getsockname()[1]
        app = create_app(self.collector, max_body_bytes=MAX_BODY_BYTES)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="in-process-collector", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the in-process collector did not start")
            self._thread.join(0.01)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def db_path(self) -> Path:
        raise AttributeError("an in-process collector on ClickHouse has no SQLite file")

    def log(self) -> str:
        return ""

    def stop(self) -> int:
        self._server.should_exit = True
        self._thread.join(30)
        self._grpc.stop(grace=1).wait(5)
        self.collector.workers.close()
        self.store.close()
        self._sock.close()
        return 0


def new_database() -> str:
    return f"test_{uuid.uuid4().hex[:16]}"


def drop_database(chdb_dir: Path, database: str) -> None:
    import clickhouse_connect

    client = clickhouse_connect.get_client(interface="chdb", path=str(chdb_dir))
    try:
        client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    finally:
        client.close()


@contextmanager
def chdb_store(chdb_dir: Path, **options: Any) -> Iterator[Any]:
    """A ClickHouseStore on a fresh database of the run's chDB directory, dropped after."""
    from agentops_otel.collector.store.clickhouse import ClickHouseStore

    database = new_database()
    store = ClickHouseStore.from_url(f"chdb://{chdb_dir}?database={database}", **options)
    try:
        yield store
    finally:
        store.close()
        drop_database(chdb_dir, database)


@contextmanager
def chdb_collector(chdb_dir: Path, data_dir: Path, keys: str | None = None) -> Iterator[InProcessCollector]:
    from agentops_otel.collector.store.clickhouse import ClickHouseStore

    database = new_database()
    data_dir.mkdir(parents=True, exist_ok=True)
    store = ClickHouseStore.from_url(f"chdb://{chdb_dir}?database={database}")
    try:
        collector = InProcessCollector(store, data_dir, keys)
    except BaseException:
        store.close()
        drop_database(chdb_dir, database)
        raise
    try:
        yield collector
    finally:
        collector.stop()
        drop_database(chdb_dir, database)
