"""Collector settings: command-line flags, with environment variables as defaults (one place).

| flag                | environment variable                  | default             |
|---------------------|---------------------------------------|---------------------|
| --host              | AGENTOPS_COLLECTOR_HOST               | 127.0.0.1           |
| --http-port         | AGENTOPS_COLLECTOR_HTTP_PORT          | 4318                |
| --grpc-port         | AGENTOPS_COLLECTOR_GRPC_PORT          | 4317 (0 = any free) |
| --no-grpc           | AGENTOPS_COLLECTOR_GRPC=false         | gRPC on             |
| --data-dir          | AGENTOPS_COLLECTOR_DATA_DIR           | ~/.agentops-otel    |
| --keys-file         | AGENTOPS_COLLECTOR_KEYS_FILE          | none                |
| (env only)          | AGENTOPS_COLLECTOR_KEYS               | none                |
| --forward URL       | AGENTOPS_COLLECTOR_FORWARD (comma-separated) | none         |
| --forward-header    | AGENTOPS_COLLECTOR_FORWARD_HEADERS (k=v,k=v) | none         |
| --forward-retries   | AGENTOPS_COLLECTOR_FORWARD_RETRIES    | 5                   |
| --forward-queue     | AGENTOPS_COLLECTOR_FORWARD_QUEUE      | 1024 requests       |
| --forward-queue-bytes | AGENTOPS_COLLECTOR_FORWARD_QUEUE_BYTES | 64 MiB            |
| --max-body-bytes    | AGENTOPS_COLLECTOR_MAX_BODY_BYTES     | 20 MiB              |
| --max-body-memory   | AGENTOPS_COLLECTOR_MAX_BODY_MEMORY    | 128 MiB             |
| --max-requests      | AGENTOPS_COLLECTOR_MAX_REQUESTS       | 64                  |
| --sync              | AGENTOPS_COLLECTOR_SYNC               | normal              |
| --ingest-workers    | AGENTOPS_COLLECTOR_INGEST_WORKERS     | 1 (0 on one core)   |
| --ready-file        | (none)                                | none                |
| --log-level         | AGENTOPS_COLLECTOR_LOG_LEVEL          | info                |
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentops_otel.collector.admission import DEFAULT_MAX_BODY_MEMORY, DEFAULT_MAX_REQUESTS
from agentops_otel.collector.forward import DEFAULT_MAX_QUEUE, DEFAULT_MAX_QUEUE_BYTES
from agentops_otel.collector.otlp import DEFAULT_MAX_BODY

ENV_PREFIX = "AGENTOPS_COLLECTOR_"
DB_FILENAME = "agentops.sqlite3"


def default_ingest_workers() -> int:
    """One worker process when there is a second core for it; none (prepare in process) on one core."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


@dataclass
class CollectorSettings:
    host: str = "127.0.0.1"
    http_port: int = 4318
    grpc_port: int = 4317
    grpc: bool = True
    data_dir: Path = field(default_factory=lambda: Path.home() / ".agentops-otel")
    keys_file: Path | None = None
    keys: str | None = None  # comma-separated keys entries (see auth.py)
    forward: list[str] = field(default_factory=list)
    forward_headers: dict[str, str] = field(default_factory=dict)
    forward_retries: int = 5
    forward_queue: int = DEFAULT_MAX_QUEUE
    forward_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES  # per target: a dead backend holds at most this much memory
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_body_memory: int = DEFAULT_MAX_BODY_MEMORY  # bytes of OTLP request bodies held at once, over all requests
    max_requests: int = DEFAULT_MAX_REQUESTS  # OTLP requests handled at once; more are refused (503 + Retry-After)
    sync: str = "normal"  # SQLite synchronous: normal survives kill -9, full also power loss
    ingest_workers: int = field(default_factory=default_ingest_workers)  # processes preparing OTLP requests
    ready_file: Path | None = None
    log_level: str = "info"

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _headers(text: str) -> dict[str, str]:
    headers = {}
    for number, item in enumerate(filter(None, (part.strip() for part in text.split(","))), 1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"forward header {number} must be NAME=VALUE (not shown: it may hold a secret)")
        headers[name.strip()] = value.strip()
    return headers


def add_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str] | None = None) -> None:
    """Flags of ``agentops-otel collector``; their defaults come from the environment."""
    env = os.environ if env is None else env

    def get(name: str, default: str | None = None) -> str | None:
        return env.get(ENV_PREFIX + name, default)

    parser.add_argument("--host", default=get("HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)")
    parser.add_argument("--http-port", type=int, default=int(get("HTTP_PORT", "4318")), help="OTLP/HTTP + REST port")
    parser.add_argument("--grpc-port", type=int, default=int(get("GRPC_PORT", "4317")), help="OTLP/gRPC port")
    parser.add_argument(
        "--no-grpc",
        dest="grpc",
        action="store_false",
        default=(get("GRPC", "true") or "true").lower() not in ("0", "false", "no", "off"),
        help="do not start the OTLP/gRPC receiver",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(get("DATA_DIR") or Path.home() / ".agentops-otel").expanduser(),
        help="where the SQLite database lives (default ~/.agentops-otel)",
    )
    parser.add_argument(
        "--keys-file",
        type=Path,
        default=get("KEYS_FILE"),
        help="registered API keys, one 'project_id:key' or 'project_id:sha256:<hex>' per line",
    )
    parser.add_argument(
        "--forward",
        action="append",
        default=[u.strip() for u in (get("FORWARD") or "").split(",") if u.strip()],
        metavar="URL",
        help="also send enriched spans to this OTLP/HTTP endpoint (repeatable)",
    )
    parser.add_argument(
        "--forward-header",
        action="append",
        default=[get("FORWARD_HEADERS")] if get("FORWARD_HEADERS") else [],
        metavar="NAME=VALUE",
        help="header sent with forwarded spans (repeatable)",
    )
    parser.add_argument(
        "--forward-retries",
        type=int,
        default=int(get("FORWARD_RETRIES", "5")),
        help="retries of a failed forward before its spans are dropped (default 5)",
    )
    parser.add_argument(
        "--forward-queue",
        type=int,
        default=int(get("FORWARD_QUEUE", str(DEFAULT_MAX_QUEUE))),
        help="requests waiting to be forwarded, per target, before new ones are dropped (default 1024)",
    )
    parser.add_argument(
        "--forward-queue-bytes",
        type=int,
        default=int(get("FORWARD_QUEUE_BYTES", str(DEFAULT_MAX_QUEUE_BYTES))),
        help="bytes of requests waiting to be forwarded, per target, before new ones are dropped (default 64 MiB)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(get("MAX_BODY_BYTES", str(DEFAULT_MAX_BODY))),
        help="largest accepted request body, after decompression (default 20 MiB)",
    )
    parser.add_argument(
        "--max-body-memory",
        type=int,
        default=int(get("MAX_BODY_MEMORY", str(DEFAULT_MAX_BODY_MEMORY))),
        metavar="BYTES",
        help="bytes of OTLP request bodies held at once (decompressed, once decoded), over all requests;"
        " a request that would pass it is refused with 503 and Retry-After before its body is read (default 128 MiB)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=int(get("MAX_REQUESTS", str(DEFAULT_MAX_REQUESTS))),
        metavar="N",
        help="OTLP requests (HTTP and gRPC) handled at once, fewer while the oldest has waited over 2 s; more are"
        " refused at once with 503 and Retry-After (gRPC: RESOURCE_EXHAUSTED with RetryInfo), which OTLP exporters"
        " retry (default 64)",
    )
    parser.add_argument(
        "--sync",
        choices=("normal", "full"),
        default=(get("SYNC", "normal") or "normal").lower(),
        help="SQLite durability: normal survives a killed collector, full also a power cut (slower)",
    )
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=int(get("INGEST_WORKERS") or default_ingest_workers()),
        metavar="N",
        help="processes that decode and enrich OTLP requests while this one stores them"
        " (default 1 with two cores or more; 0 = all in this process)",
    )
    parser.add_argument("--ready-file", type=Path, help="write the bound ports here as JSON once serving")
    parser.add_argument("--log-level", default=get("LOG_LEVEL", "info"), help="debug, info, warning, error")


def from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> CollectorSettings:
    env = os.environ if env is None else env
    headers: dict[str, str] = {}
    for text in args.forward_header or []:
        headers.update(_headers(text))
    return CollectorSettings(
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        grpc=args.grpc,
        data_dir=Path(args.data_dir),
        keys_file=Path(args.keys_file) if args.keys_file else None,
        keys=env.get(ENV_PREFIX + "KEYS") or None,
        forward=list(args.forward or []),
        forward_headers=headers,
        forward_retries=args.forward_retries,
        forward_queue=args.forward_queue,
        forward_queue_bytes=args.forward_queue_bytes,
        max_body_bytes=args.max_body_bytes,
        max_body_memory=max(1, args.max_body_memory),
        max_requests=max(1, args.max_requests),
        sync=args.sync,
        ingest_workers=max(0, args.ingest_workers),
        ready_file=args.ready_file,
        log_level=args.log_level,
    )
