"""Collector settings: one table (:data:`SETTINGS`) of flag, environment variable, default, parser
and help per setting. The ``agentops-otel collector`` flags, the variables read, ``--help`` and
README's table (``python -m agentops_otel.collector.settings`` prints it) are generated from it.

A flag wins over its variable, which wins over the default; an empty variable counts as unset. A
value that does not parse is an error naming the flag or the variable, never a traceback, and a
secret's value is never shown.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentops_otel.collector.admission import DEFAULT_MAX_BODY_MEMORY, DEFAULT_MAX_REQUESTS
from agentops_otel.collector.forward import DEFAULT_MAX_QUEUE, DEFAULT_MAX_QUEUE_BYTES
from agentops_otel.collector.otlp import DEFAULT_MAX_BODY

DB_FILENAME = "agentops.sqlite3"


class SettingError(ValueError):
    """A setting's value does not parse; the message names the flag or variable."""


def default_ingest_workers() -> int:
    """One worker process when there is a second core for it; none (prepare in process) on one core."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


# Parsers: the text of a flag or variable -> the value; a ValueError says what is expected.


def _text(text: str) -> str:
    return text.strip()


def _path(text: str) -> Path:
    return Path(text.strip()).expanduser()


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise ValueError(f"expected a whole number {bounds}")
        return value

    return parse


_port = _integer(0, 65535)
_UNITS = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def _size(text: str) -> int:
    """Bytes, as a number or with a binary unit: 1048576, 64MiB, 20 MiB."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", text, re.IGNORECASE)
    if not match or match[2].lower() not in _UNITS or int(match[1]) < 1:
        raise ValueError("expected a size in bytes of 1 or more, such as 1048576 or 64MiB")
    return int(match[1]) * _UNITS[match[2].lower()]


def _switch(text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return word

    return parse


def _store_url(text: str) -> str:
    from agentops_otel.collector.store import scheme_of  # the stores' modules only when a store is named

    scheme_of(text.strip())  # a StoreURLError (a ValueError) names the schemes, never the URL's password
    return text.strip()


def _urls(text: str) -> list[str]:
    return [url.strip() for url in text.split(",") if url.strip()]


def _headers(text: str) -> dict[str, str]:
    headers = {}
    for number, item in enumerate(filter(None, (part.strip() for part in text.split(","))), 1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"forward header {number} must be NAME=VALUE (not shown: it may hold a secret)")
        headers[name.strip()] = value.strip()
    return headers


@dataclass(frozen=True)
class Setting:
    name: str  # the CollectorSettings field
    flag: str | None  # None: environment only
    env: str | None  # None: flag only
    default: Any  # the value, or a function computing it when settings are made
    parse: Callable[[str], Any]
    help: str
    shown: str | None = None  # the default as --help and README state it, when not str(default)
    metavar: str | None = None
    switch: Any = None  # a flag without a value, setting this
    repeatable: bool = False  # a flag given several times adds up; its variable holds the items comma-separated
    secret: bool = False  # a value that does not parse is not echoed

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    @property
    def shown_default(self) -> str:
        return self.shown if self.shown is not None else str(self.default)


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "--host", "AGENTOPS_COLLECTOR_HOST", "127.0.0.1", _text, "address to listen on", metavar="ADDRESS"),
    Setting(
        "http_port",
        "--http-port",
        "AGENTOPS_COLLECTOR_HTTP_PORT",
        4318,
        _port,
        "OTLP/HTTP, REST API and dashboard port",
        metavar="PORT",
    ),
    Setting(
        "grpc_port",
        "--grpc-port",
        "AGENTOPS_COLLECTOR_GRPC_PORT",
        4317,
        _port,
        "OTLP/gRPC port (0 = any free port)",
        metavar="PORT",
    ),
    Setting(
        "grpc",
        "--no-grpc",
        "AGENTOPS_COLLECTOR_GRPC",
        True,
        _switch,
        "do not start the OTLP/gRPC receiver (AGENTOPS_COLLECTOR_GRPC=false does the same)",
        shown="gRPC on",
        switch=False,
    ),
    Setting(
        "data_dir",
        "--data-dir",
        "AGENTOPS_COLLECTOR_DATA_DIR",
        lambda: Path.home() / ".agentops-otel",
        _path,
        "where the SQLite database lives",
        shown="~/.agentops-otel",
        metavar="DIR",
    ),
    Setting(
        "store",
        "--store",
        "AGENTOPS_COLLECTOR_STORE",
        None,
        _store_url,
        "where sessions are stored: sqlite:///path/file.sqlite3, chdb:///path/dir (ClickHouse in-process),"
        " clickhouse://user:password@host:8123/database or clickhouses://... (HTTPS); ClickHouse needs the"
        " clickhouse extra",
        shown="sqlite in the data directory",
        metavar="URL",
        secret=True,
    ),
    Setting(
        "retention_days",
        "--retention-days",
        "AGENTOPS_COLLECTOR_RETENTION_DAYS",
        None,
        _integer(1),
        "ClickHouse stores: drop spans, sessions and logs older than this many days (a TTL); SQLite keeps all",
        shown="keep all",
        metavar="DAYS",
    ),
    Setting(
        "keys_file",
        "--keys-file",
        "AGENTOPS_COLLECTOR_KEYS_FILE",
        None,
        _path,
        "registered API keys, one 'project_id:key' or 'project_id:sha256:<hex>' per line, each optionally"
        " ending ' parent=sha256:<hex>': that parent key reads the project too",
        shown="none",
        metavar="PATH",
    ),
    Setting(
        "keys",
        None,
        "AGENTOPS_COLLECTOR_KEYS",
        None,
        _text,
        "registered API keys as in a keys file, comma-separated",
        shown="none",
        secret=True,
    ),
    Setting(
        "forward",
        "--forward",
        "AGENTOPS_COLLECTOR_FORWARD",
        list,
        _urls,
        "also send enriched spans to this OTLP/HTTP endpoint",
        shown="none",
        metavar="URL",
        repeatable=True,
    ),
    Setting(
        "forward_headers",
        "--forward-header",
        "AGENTOPS_COLLECTOR_FORWARD_HEADERS",
        dict,
        _headers,
        "header sent with forwarded spans",
        shown="none",
        metavar="NAME=VALUE",
        repeatable=True,
        secret=True,
    ),
    Setting(
        "forward_retries",
        "--forward-retries",
        "AGENTOPS_COLLECTOR_FORWARD_RETRIES",
        5,
        _integer(0),
        "retries of a failed forward before its spans are dropped",
        metavar="N",
    ),
    Setting(
        "forward_queue",
        "--forward-queue",
        "AGENTOPS_COLLECTOR_FORWARD_QUEUE",
        DEFAULT_MAX_QUEUE,
        _integer(1),
        "requests waiting to be forwarded, per target, before new ones are dropped",
        metavar="N",
    ),
    Setting(
        "forward_queue_bytes",
        "--forward-queue-bytes",
        "AGENTOPS_COLLECTOR_FORWARD_QUEUE_BYTES",
        DEFAULT_MAX_QUEUE_BYTES,
        _size,
        "bytes of requests waiting to be forwarded, per target; a request that would pass it is dropped and counted",
        shown="64MiB",
        metavar="BYTES",
    ),
    Setting(
        "max_body_bytes",
        "--max-body-bytes",
        "AGENTOPS_COLLECTOR_MAX_BODY_BYTES",
        DEFAULT_MAX_BODY,
        _size,
        "largest accepted request body, after decompression",
        shown="20MiB",
        metavar="BYTES",
    ),
    Setting(
        "max_body_memory",
        "--max-body-memory",
        "AGENTOPS_COLLECTOR_MAX_BODY_MEMORY",
        DEFAULT_MAX_BODY_MEMORY,
        _size,
        "bytes of OTLP request bodies held at once (decompressed, once decoded), over all requests; a request"
        " that would pass it is refused with 503 and Retry-After before its body is read",
        shown="128MiB",
        metavar="BYTES",
    ),
    Setting(
        "max_requests",
        "--max-requests",
        "AGENTOPS_COLLECTOR_MAX_REQUESTS",
        DEFAULT_MAX_REQUESTS,
        _integer(1),
        "OTLP requests (HTTP and gRPC) handled at once, fewer while the oldest has waited over 2 s; more are"
        " refused at once with 503 and Retry-After (gRPC: RESOURCE_EXHAUSTED with RetryInfo), which OTLP"
        " exporters retry",
        metavar="N",
    ),
    Setting(
        "sync",
        "--sync",
        "AGENTOPS_COLLECTOR_SYNC",
        "normal",
        _choice("normal", "full"),
        "SQLite durability: normal survives a killed collector, full also a power cut (slower)",
        metavar="{normal,full}",
    ),
    Setting(
        "ingest_workers",
        "--ingest-workers",
        "AGENTOPS_COLLECTOR_INGEST_WORKERS",
        default_ingest_workers,
        _integer(0),
        "processes that decode and enrich OTLP requests while this one stores them (0 = all in this process)",
        shown="1 with two cores or more, else 0",
        metavar="N",
    ),
    Setting(
        "ready_file",
        "--ready-file",
        None,
        None,
        _path,
        "write the bound ports here as JSON once serving",
        shown="none",
        metavar="PATH",
    ),
    Setting(
        "log_level",
        "--log-level",
        "AGENTOPS_COLLECTOR_LOG_LEVEL",
        "info",
        _choice("debug", "info", "warning", "error", "critical"),
        "what the collector logs",
        metavar="{debug,info,warning,error,critical}",
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def _default(name: str) -> Callable[[], Any]:
    return lambda: BY_NAME[name].default_value()


@dataclass
class CollectorSettings:
    """What the collector runs with; defaults from :data:`SETTINGS`."""

    host: str = field(default_factory=_default("host"))
    http_port: int = field(default_factory=_default("http_port"))
    grpc_port: int = field(default_factory=_default("grpc_port"))
    grpc: bool = field(default_factory=_default("grpc"))
    data_dir: Path = field(default_factory=_default("data_dir"))
    store: str | None = field(default_factory=_default("store"))
    retention_days: int | None = field(default_factory=_default("retention_days"))
    keys_file: Path | None = field(default_factory=_default("keys_file"))
    keys: str | None = field(default_factory=_default("keys"))
    forward: list[str] = field(default_factory=_default("forward"))
    forward_headers: dict[str, str] = field(default_factory=_default("forward_headers"))
    forward_retries: int = field(default_factory=_default("forward_retries"))
    forward_queue: int = field(default_factory=_default("forward_queue"))
    forward_queue_bytes: int = field(default_factory=_default("forward_queue_bytes"))
    max_body_bytes: int = field(default_factory=_default("max_body_bytes"))
    max_body_memory: int = field(default_factory=_default("max_body_memory"))
    max_requests: int = field(default_factory=_default("max_requests"))
    sync: str = field(default_factory=_default("sync"))
    ingest_workers: int = field(default_factory=_default("ingest_workers"))
    ready_file: Path | None = field(default_factory=_default("ready_file"))
    log_level: str = field(default_factory=_default("log_level"))

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def store_url(self) -> str:
        """The store's URL: ``--store``, else the SQLite database in the data directory."""
        from agentops_otel.collector.store import sqlite_url

        return self.store or sqlite_url(self.db_path)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _help(setting: Setting) -> str:
    where = f"; {setting.env}" if setting.env else ""
    if setting.repeatable:
        where += " (comma-separated)" if setting.env else ""
        where = "; repeatable" + where
    return f"{setting.help} (default {setting.shown_default}{where})".replace("%", "%%")


def _flag_parser(setting: Setting) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return setting.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``agentops-otel collector``. The environment is read by :func:`from_args`, so a bad
    variable never stops ``--help``."""
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        if setting.switch is not None:
            parser.add_argument(
                setting.flag, dest=setting.name, action="store_const", const=setting.switch, help=_help(setting)
            )
            continue
        parser.add_argument(
            setting.flag,
            dest=setting.name,
            type=_flag_parser(setting),
            action="append" if setting.repeatable else "store",
            metavar=setting.metavar,
            help=_help(setting),
        )


def _combined(values: list[Any]) -> Any:
    """A repeatable flag's values (each a list or a dict) as one."""
    combined = type(values[0])()
    for value in values:
        if isinstance(combined, dict):
            combined.update(value)
        else:
            combined.extend(value)
    return combined


def _from_environment(setting: Setting, env: Mapping[str, str]) -> Any:
    """The setting's variable parsed, or :data:`_UNSET` when it is unset or empty."""
    text = env.get(setting.env, "") if setting.env else ""
    if not text.strip():
        return _UNSET
    try:
        return setting.parse(text)
    except ValueError as exc:
        shown = "" if setting.secret else f"={text!r}"
        raise SettingError(f"{setting.env}{shown}: {exc}") from None


_UNSET = object()


def value(name: str, env: Mapping[str, str] | None = None) -> Any:
    """One setting as ``agentops-otel collector`` run without flags has it: its variable, else its
    default. Raises :class:`SettingError` when the variable does not parse."""
    setting = BY_NAME[name]
    found = _from_environment(setting, os.environ if env is None else env)
    return setting.default_value() if found is _UNSET else found


def from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> CollectorSettings:
    """Each setting from its flag, else its variable in ``env``, else its default.

    Raises :class:`SettingError` naming the variable whose value does not parse."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        given = getattr(args, setting.name, None) if setting.flag else None
        if given is not None:
            values[setting.name] = _combined(given) if setting.repeatable else given
        elif (found := _from_environment(setting, env)) is not _UNSET:
            values[setting.name] = found
    return CollectorSettings(**values)


def markdown_table() -> str:
    """README's table of the collector's settings."""
    rows = ["| flag | environment variable | default | what it sets |", "|---|---|---|---|"]
    for setting in SETTINGS:
        flag = "none"
        if setting.flag:
            flag = f"`{setting.flag}{' ' + setting.metavar if setting.metavar else ''}`"
            flag += " (repeatable)" if setting.repeatable else ""
        env = f"`{setting.env}`" if setting.env else "none"
        env += " (comma-separated)" if setting.env and setting.repeatable else ""
        default = setting.shown_default
        default = default if " " in default or default == "none" else f"`{default}`"
        rows.append(f"| {flag} | {env} | {default} | {setting.help.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
