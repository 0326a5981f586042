"""Ingest worker processes: the Python work of each OTLP request, off the process that stores.

The collector is bound by one core (the GIL): decompressing, decoding, validating and enriching a
span costs about 22 µs of Python, and storing it about as much again. With worker processes the
receiving process only stores, so both halves run at once on a machine with two cores or more.
A worker that dies is replaced; meanwhile requests are prepared in the receiving process. gRPC
requests are handed over undecoded, the same way.

With no worker process (``--ingest-workers 0``) requests are prepared in one thread of the
receiving process: never on its event loop, which keeps answering REST and the dashboard between
two requests (and, a GIL switch interval apart, during one), and never in more than one thread at a
time, so a crowd of clients cannot make the receiving threads all decode at once.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from agentops_otel.collector.ingest import PreparedBatch, prepare_body

logger = logging.getLogger("agentops_otel.collector")


def _worker_init(parent_pid: int) -> None:
    # Ctrl-C reaches the whole process group: the collector handles it and shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:  # a killed collector (kill -9) must not leave its workers behind
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, name="agentops-watch-parent", daemon=True).start()


def _started() -> int:
    return os.getpid()


class IngestWorkers:
    """A pool of ``processes`` worker processes that turn OTLP request bodies into prepared batches
    (``processes`` 0: one thread of this process)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> Executor:
        if self.processes <= 0:
            return ThreadPoolExecutor(1, thread_name_prefix="agentops-ingest")
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a process that runs threads
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        for _ in range(self.processes):
            pool.submit(_started)  # start the processes now, not on the first request
        return pool

    async def prepare(
        self, body: bytes, kind: str, encoding: str | None, limit: int, project_id: str, keep_request: bool
    ) -> tuple[PreparedBatch, bytes | None]:
        """:func:`~agentops_otel.collector.ingest.prepare_body` in a worker; its errors are raised here."""
        args = (body, kind, encoding, limit, project_id, keep_request)
        pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(prepare_body, *args))
        except BrokenProcessPool:
            self._worker_died(pool)
            return await asyncio.get_running_loop().run_in_executor(None, prepare_body, *args)

    def prepare_blocking(
        self, body: bytes, kind: str, encoding: str | None, limit: int, project_id: str, keep_request: bool
    ) -> tuple[PreparedBatch, bytes | None]:
        """The same for a caller in a thread (the gRPC receiver's)."""
        args = (body, kind, encoding, limit, project_id, keep_request)
        pool = self._pool
        try:
            return pool.submit(prepare_body, *args).result()
        except BrokenProcessPool:
            self._worker_died(pool)
            return prepare_body(*args)

    def _worker_died(self, pool: Executor) -> None:
        logger.warning("agentops-otel collector: an ingest worker died; this request is prepared in process")
        self._replace(pool)

    def _replace(self, broken: Executor) -> None:
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
