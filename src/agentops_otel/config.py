"""Configuration of agentops-otel, and the one place that reads environment variables.

Nothing is read at import: :meth:`Configuration.from_env` runs when ``init()`` does, and the
arguments given to ``init()`` win over the environment. Names follow the AgentOps SDK; the
``OTEL_*`` variables keep their OpenTelemetry meaning.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

logger = logging.getLogger("agentops_otel")

DEFAULT_ENDPOINT = "http://localhost:4318"  # OTLP/HTTP
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"  # OTLP/gRPC
TRACES_PATH = "/v1/traces"
PROTOCOL_HTTP = "http/protobuf"
PROTOCOL_GRPC = "grpc"
API_KEY_HEADER = "X-Agentops-Api-Key"
PARENT_KEY_HEADER = "X-Agentops-Parent-Key"
DASHBOARD_SESSION_PATH = "/#/sessions/"  # the collector's dashboard page of one session
# Set by a running session so that child processes join it (see session inheritance).
INHERITED_SESSION_ENV = "AGENTOPS_INHERITED_SESSION_ID"

# What a repr or a log line shows in place of a secret (the API key, a header value).
HIDDEN = "***"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# Smallest valid value of each integer field (the export pipeline refuses a 0 interval or queue).
_INT_MINIMUMS = {
    "max_wait_time": 0,
    "max_queue_size": 1,
    "max_export_batch_size": 1,
    "export_interval": 1,
    "spool_max_bytes": 1024,
    "spool_max_age": 1,
    "spool_max_backoff": 1,
    "exporter_timeout": 1,
}
COMPRESSION_GZIP = "gzip"
COMPRESSION_NONE = "none"


@dataclass
class Configuration:
    """Settings of the SDK. Field names match the AgentOps ``Configuration`` and ``init()`` arguments.

    ``max_wait_time`` is in milliseconds and bounds every synchronous flush (``end_session``, exit).
    ``max_queue_size`` is the number of finished spans the exporter can hold before dropping any.
    """

    api_key: str | None = None
    # AgentOps 0.3's organisation key: sent with every export; a collector whose keys file names it
    # as the parent of project keys lets it read those projects (REST and dashboard).
    parent_key: str | None = None
    endpoint: str | None = None  # None: the protocol's default (DEFAULT_ENDPOINT or DEFAULT_GRPC_ENDPOINT)
    max_wait_time: int = 5000
    max_queue_size: int = 100_000
    max_export_batch_size: int = 2048
    export_interval: int = 500  # ms between background exports
    default_tags: list[str] = field(default_factory=list)
    instrument_llm_calls: bool = True
    auto_start_session: bool = True
    skip_auto_end_session: bool = False
    env_data_opt_out: bool = False
    inherited_session_id: str | None = None
    # Export
    endpoint_is_traces_url: bool = False  # endpoint is the full traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    exporter_protocol: str = PROTOCOL_HTTP
    exporter_headers: dict[str, str] = field(default_factory=dict)
    # TLS and transport of the SDK's own exporter (the OTEL_EXPORTER_OTLP_* variables): file paths,
    # read when a connection is made, so spooled requests never hold key material.
    exporter_certificate: str | None = None  # CA bundle trusted for the collector; None: the system's
    exporter_client_certificate: str | None = None  # mTLS: the client's certificate (PEM)
    exporter_client_key: str | None = None  # mTLS: its private key (PEM)
    exporter_compression: str = COMPRESSION_NONE  # "gzip" or "none"
    exporter_timeout: int = 10_000  # ms per send
    exporter_insecure: bool | None = None  # gRPC: False asks for TLS on an http:// endpoint
    service_name: str | None = None
    dashboard_url: str | None = None  # where Session.session_url points; None: the collector at endpoint
    resource_attributes: dict[str, str] = field(default_factory=dict)
    # Behaviour
    sdk_disabled: bool = False
    log_level: str | int | None = None  # a logging level name or number; None leaves it unchanged
    log_to_file: bool = False  # AgentOps 0.3's AGENTOPS_LOGGING_TO_FILE: the SDK's log also goes to ./agentops.log
    exit_handlers: bool = True  # atexit, sys.excepthook and SIGINT/SIGTERM handlers
    propagate_to_children: bool = True  # export the session id to child processes
    # Read by the instrumentors
    capture_message_content: bool = False
    openai_stream_usage: bool = False
    # Spool of spans the collector could not take yet (per process: init()'s configuration)
    spool_dir: str | None = None  # None: the user's cache directory; ":memory:" keeps it in memory only
    spool_max_bytes: int = 256 << 20
    spool_max_age: int = 7 * 24 * 3600  # seconds
    spool_max_backoff: int = 30_000  # ms between retries of an unreachable collector, at most

    def __post_init__(self) -> None:
        self.default_tags = normalise_tags(self.default_tags, "default_tags")
        for name, minimum in _INT_MINIMUMS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if self.log_level is not None and not is_log_level(self.log_level):
            raise ValueError(f"log_level must be a logging level name like 'DEBUG' or 'INFO', got {self.log_level!r}")
        if self.exporter_protocol not in (PROTOCOL_HTTP, PROTOCOL_GRPC):
            raise ValueError(
                f"exporter_protocol must be {PROTOCOL_HTTP!r} or {PROTOCOL_GRPC!r}, got {self.exporter_protocol!r}"
            )
        if self.exporter_compression not in (COMPRESSION_GZIP, COMPRESSION_NONE):
            raise ValueError(
                f"exporter_compression must be {COMPRESSION_GZIP!r} or {COMPRESSION_NONE!r}, "
                f"got {self.exporter_compression!r}"
            )
        for name in ("exporter_certificate", "exporter_client_certificate", "exporter_client_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty str (a PEM file path), got {value!r}")
        if self.exporter_insecure is not None and not isinstance(self.exporter_insecure, bool):
            raise TypeError(f"exporter_insecure must be a bool, got {type(self.exporter_insecure).__name__}")
        if self.spool_dir is not None and (not isinstance(self.spool_dir, str) or not self.spool_dir.strip()):
            raise ValueError(f"spool_dir must be a non-empty str (a directory, or ':memory:'), got {self.spool_dir!r}")
        for name in ("api_key", "parent_key", "dashboard_url"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
        if self.endpoint is None:
            self.endpoint = default_endpoint(self.exporter_protocol)
        if not isinstance(self.endpoint, str) or not self.endpoint.strip():
            raise ValueError(f"endpoint must be a non-empty str, got {self.endpoint!r}")
        self.endpoint = with_scheme(self.endpoint.strip(), self.exporter_protocol, "endpoint")

    def __repr__(self) -> str:
        """Every field, the keys and header values hidden: a repr ends up in logs and tracebacks."""
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for secret in ("api_key", "parent_key"):
            if shown[secret] is not None:
                shown[secret] = HIDDEN
        headers = self.exporter_headers
        shown["exporter_headers"] = {n: HIDDEN for n in headers} if isinstance(headers, dict) else HIDDEN
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Configuration:
        """Defaults, then the environment, then ``overrides`` (arguments that are ``None`` are ignored)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        def put(name: str, value: Any) -> None:
            if value is not None:
                values[name] = value

        def put_bool(name: str, variable: str) -> None:
            put(name, _bool(env, variable, name))

        def put_int(name: str, variable: str) -> None:
            put(name, _int(env, variable, name))

        put("api_key", env.get("AGENTOPS_API_KEY") or None)
        put("parent_key", env.get("AGENTOPS_PARENT_KEY") or None)
        put("dashboard_url", env.get("AGENTOPS_DASHBOARD_URL") or None)
        protocol = _protocol_from_env(env)
        endpoint, is_traces_url = _endpoint_from_env(env, protocol or PROTOCOL_HTTP)
        put("endpoint", endpoint)
        values["endpoint_is_traces_url"] = is_traces_url
        put_int("max_wait_time", "AGENTOPS_MAX_WAIT_TIME")
        put_int("max_queue_size", "AGENTOPS_MAX_QUEUE_SIZE")
        put_int("max_export_batch_size", "AGENTOPS_MAX_EXPORT_BATCH_SIZE")
        put_int("export_interval", "AGENTOPS_EXPORT_INTERVAL")
        tags = env.get("AGENTOPS_DEFAULT_TAGS")
        if tags:
            values["default_tags"] = [t.strip() for t in tags.split(",") if t.strip()]
        put_bool("instrument_llm_calls", "AGENTOPS_INSTRUMENT_LLM_CALLS")
        put_bool("auto_start_session", "AGENTOPS_AUTO_START_SESSION")
        put_bool("skip_auto_end_session", "AGENTOPS_SKIP_AUTO_END_SESSION")
        put_bool("env_data_opt_out", "AGENTOPS_ENV_DATA_OPT_OUT")
        put("inherited_session_id", env.get(INHERITED_SESSION_ENV) or None)
        put("exporter_protocol", protocol)
        headers_name = _first_set(env, _HEADERS_ENV)
        if headers_name:
            values["exporter_headers"] = parse_key_values(env[headers_name], headers_name, secret=True)
        for name, variables in _TLS_FILE_ENV.items():
            put(name, _file_from_env(env, variables))
        put("exporter_compression", _compression_from_env(env))
        timeout_name = _first_set(env, _TIMEOUT_ENV)
        if timeout_name:
            put_int("exporter_timeout", timeout_name)
        insecure_name = _first_set(env, _INSECURE_ENV)
        if insecure_name:
            put_bool("exporter_insecure", insecure_name)
        put("service_name", env.get("OTEL_SERVICE_NAME") or None)
        resource = env.get("OTEL_RESOURCE_ATTRIBUTES")
        if resource:
            values["resource_attributes"] = parse_key_values(resource, "OTEL_RESOURCE_ATTRIBUTES")
        put_bool("sdk_disabled", "OTEL_SDK_DISABLED")
        put("log_level", _log_level_from_env(env))
        put_bool("log_to_file", "AGENTOPS_LOGGING_TO_FILE")
        put_bool("exit_handlers", "AGENTOPS_EXIT_HANDLERS")
        put_bool("propagate_to_children", "AGENTOPS_PROPAGATE_SESSION")
        put_bool("capture_message_content", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
        put_bool("openai_stream_usage", "AGENTOPS_OPENAI_STREAM_USAGE")
        put("spool_dir", env.get("AGENTOPS_SPOOL_DIR", "").strip() or None)
        put_int("spool_max_bytes", "AGENTOPS_SPOOL_MAX_BYTES")
        put_int("spool_max_age", "AGENTOPS_SPOOL_MAX_AGE")
        put_int("spool_max_backoff", "AGENTOPS_SPOOL_MAX_BACKOFF")
        if overrides.get("endpoint") is not None:
            values["endpoint_is_traces_url"] = False  # an endpoint argument is a base URL
        for name, value in overrides.items():
            put(name, value)
        if values.get("exporter_client_key") and not values.get("exporter_client_certificate"):
            logger.warning(
                "agentops-otel: ignoring the client key (OTEL_EXPORTER_OTLP_(TRACES_)CLIENT_KEY or "
                "exporter_client_key): no client certificate is set; connecting without one"
            )
            del values["exporter_client_key"]
        return cls(**values)

    def replace(self, **changes: Any) -> Configuration:
        """A copy with ``changes`` applied (``None`` values ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        protocol = changes.get("exporter_protocol", self.exporter_protocol)
        if "endpoint" not in changes and self.endpoint == default_endpoint(self.exporter_protocol):
            changes["endpoint"] = default_endpoint(protocol)  # the default follows the protocol
        return dataclasses.replace(self, **changes)

    def configure(self, **changes: Any) -> None:
        """Update fields in place, AgentOps style (``None`` values ignored); validates like the constructor."""
        updated = self.replace(**changes)
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(updated, f.name))

    @property
    def traces_endpoint(self) -> str:
        """Where spans go: ``{endpoint}/v1/traces`` for OTLP/HTTP, ``endpoint`` itself for gRPC."""
        endpoint = self.endpoint or default_endpoint(self.exporter_protocol)
        if self.exporter_protocol == PROTOCOL_GRPC or self.endpoint_is_traces_url:
            return endpoint
        url = endpoint.rstrip("/")
        return url if url.endswith(TRACES_PATH) else url + TRACES_PATH

    @property
    def export_headers(self) -> dict[str, str]:
        headers = dict(self.exporter_headers)
        if self.api_key:
            headers[API_KEY_HEADER] = self.api_key
        if self.parent_key:
            headers[PARENT_KEY_HEADER] = self.parent_key
        return headers

    @property
    def dashboard(self) -> str:
        """The dashboard's base URL: ``dashboard_url``, else the collector at ``endpoint`` (its
        OTLP/HTTP port serves the dashboard; for gRPC, the same host on the default HTTP port)."""
        if self.dashboard_url:
            return self.dashboard_url.rstrip("/")
        parts = urlsplit(self.traces_endpoint)
        netloc = parts.netloc
        if self.exporter_protocol == PROTOCOL_GRPC:
            netloc = f"{parts.hostname}:{urlsplit(DEFAULT_ENDPOINT).port}"
        path = parts.path
        path = path[: -len(TRACES_PATH)] if path.endswith(TRACES_PATH) else path
        return urlunsplit((parts.scheme, netloc, path.rstrip("/"), "", ""))

    def session_url(self, session_id: str) -> str:
        return f"{self.dashboard}{DASHBOARD_SESSION_PATH}{session_id}"

    @property
    def export_key(self) -> tuple[Any, ...]:
        """Sessions whose configurations share this key share one export pipeline."""
        return (
            self.traces_endpoint,
            self.exporter_protocol,
            tuple(sorted(self.export_headers.items())),
            self.max_queue_size,
            self.max_export_batch_size,
            self.export_interval,
            self.transport_key,
        )

    @property
    def transport_key(self) -> tuple[Any, ...]:
        """How the exporter connects (not where): TLS files, compression, timeout, gRPC security."""
        return (
            self.exporter_certificate,
            self.exporter_client_certificate,
            self.exporter_client_key,
            self.exporter_compression,
            self.exporter_timeout,
            self.exporter_insecure,
        )


def default_endpoint(protocol: str) -> str:
    """The OTLP default for ``protocol``: port 4317 for gRPC, 4318 for HTTP."""
    return DEFAULT_GRPC_ENDPOINT if protocol == PROTOCOL_GRPC else DEFAULT_ENDPOINT


def with_scheme(url: str, protocol: str, source: str) -> str:
    """``url``, with ``http://`` added when it has no scheme (``host:port``); a scheme other than
    http or https is a ValueError. Without this, OTLP/HTTP would fail every export, silently."""
    if "://" not in url:
        if protocol != PROTOCOL_GRPC:  # host:port is a usual gRPC form; for OTLP/HTTP most likely a slip
            logger.warning("agentops-otel: %s=%r has no scheme; using 'http://%s'", source, url, url)
        return "http://" + url
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"{source} must be an http:// or https:// URL, got {url!r}")
    return url


# Where spans go, first set wins: the newer names before AgentOps 0.3's AGENTOPS_API_ENDPOINT.
_ENDPOINT_ENV = (
    "AGENTOPS_EXPORTER_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "AGENTOPS_API_ENDPOINT",
)
_AGENTOPS_CLOUD_HOST = "agentops.ai"  # AgentOps' own service: it takes no OTLP


def _endpoint_from_env(env: Mapping[str, str], protocol: str) -> tuple[str | None, bool]:
    """(endpoint, is it the full traces URL). The AgentOps and generic OTLP names are base URLs;
    the traces-specific one is used as given, as the OTLP exporter specification says."""
    for name in _ENDPOINT_ENV:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        host = (urlsplit(raw if "://" in raw else "//" + raw).hostname or "").lower()
        if host == _AGENTOPS_CLOUD_HOST or host.endswith("." + _AGENTOPS_CLOUD_HOST):
            logger.warning(
                "agentops-otel: ignoring %s=%r: AgentOps' cloud service does not receive OpenTelemetry "
                "spans; set it to your agentops-otel collector (e.g. %s)",
                name,
                raw,
                default_endpoint(protocol),
            )
            continue
        try:
            return with_scheme(raw, protocol, name), name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        except ValueError:
            logger.warning(
                "agentops-otel: ignoring %s=%r (expected an http:// or https:// URL); "
                "using the next endpoint variable, else the default",
                name,
                raw,
            )
    return None, False


_HEADERS_ENV = ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
_PROTOCOL_ENV = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


_TIMEOUT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
_COMPRESSION_ENV = ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")
_INSECURE_ENV = ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE")
_TLS_FILE_ENV = {
    "exporter_certificate": ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"),
    "exporter_client_certificate": (
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    ),
    "exporter_client_key": ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
}
_TLS_FILE_DEFAULTS = {
    "exporter_certificate": "the system's CA bundle",
    "exporter_client_certificate": "no client certificate",
    "exporter_client_key": "no client key",
}


def _file_from_env(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """A PEM file path from the first of ``names`` set; one that is not a readable file is ignored
    with a warning (it names the path, never the file's content)."""
    name = _first_set(env, names)
    if name is None:
        return None
    path = env[name].strip()
    if path and os.path.isfile(path) and os.access(path, os.R_OK):
        return path
    field_name = next(f for f, variables in _TLS_FILE_ENV.items() if name in variables)
    logger.warning(
        "agentops-otel: ignoring %s=%r (not a readable file); using %s",
        name,
        path,
        _TLS_FILE_DEFAULTS[field_name],
    )
    return None


def _compression_from_env(env: Mapping[str, str]) -> str | None:
    name = _first_set(env, _COMPRESSION_ENV)
    if name is None:
        return None
    raw = env[name].strip().lower()
    if raw in (COMPRESSION_GZIP, COMPRESSION_NONE):
        return raw
    logger.warning(
        "agentops-otel: ignoring %s=%r (expected gzip or none); using the default %s", name, raw, COMPRESSION_NONE
    )
    return None


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` set (non-empty) in ``env``: the traces-specific variable wins."""
    return next((name for name in names if env.get(name)), None)


def _protocol_from_env(env: Mapping[str, str]) -> str | None:
    name = _first_set(env, _PROTOCOL_ENV)
    if name is None:
        return None
    raw = env[name].strip().lower()
    if raw in (PROTOCOL_HTTP, PROTOCOL_GRPC):
        return raw
    logger.warning(
        "agentops-otel: ignoring %s=%r (expected %s or %s); using the default %s",
        name,
        raw,
        PROTOCOL_HTTP,
        PROTOCOL_GRPC,
        PROTOCOL_HTTP,
    )
    return PROTOCOL_HTTP


def _bool(env: Mapping[str, str], name: str, field_name: str) -> bool | None:
    raw = env.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    default = str(_FIELD_DEFAULTS[field_name]).lower()
    logger.warning("agentops-otel: ignoring %s=%r (expected true or false); using the default %s", name, raw, default)
    return None


def _int(env: Mapping[str, str], name: str, field_name: str) -> int | None:
    raw = env.get(name)
    if not raw:
        return None
    minimum = _INT_MINIMUMS[field_name]
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        default = _FIELD_DEFAULTS[field_name]
        logger.warning(
            "agentops-otel: ignoring %s=%r (expected an integer >= %d); using the default %s",
            name,
            raw,
            minimum,
            default,
        )
        return None
    return value


def is_log_level(level: object) -> bool:
    """A level name (any case) or number that ``logging`` knows; custom levels included."""
    if isinstance(level, bool):
        return False
    if isinstance(level, int):
        return True
    return isinstance(level, str) and isinstance(logging.getLevelName(level.strip().upper()), int)


def _log_level_from_env(env: Mapping[str, str]) -> str | int | None:
    """``AGENTOPS_LOG_LEVEL``, else AgentOps 0.3's ``AGENTOPS_LOGGING_LEVEL``."""
    name = _first_set(env, ("AGENTOPS_LOG_LEVEL", "AGENTOPS_LOGGING_LEVEL")) or "AGENTOPS_LOG_LEVEL"
    raw = env.get(name, "").strip()
    if not raw:
        return None
    level: str | int = int(raw) if raw.isdigit() else raw
    if is_log_level(level):
        return level
    logger.warning(
        "agentops-otel: ignoring %s=%r (expected DEBUG, INFO, WARNING, ERROR or CRITICAL); "
        "leaving the log level unchanged",
        name,
        raw,
    )
    return None


_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Configuration)}


def parse_key_values(raw: str, source: str, secret: bool = False) -> dict[str, str]:
    """Parse the W3C-baggage-like ``key1=value1,key2=value2`` format of the ``OTEL_*`` variables.

    With ``secret`` (headers: ``Name:value`` is a common slip, and the value is often an API key)
    a malformed entry is logged by its position only."""
    result: dict[str, str] = {}
    for number, item in enumerate(raw.split(","), 1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            if secret:
                logger.warning(
                    "agentops-otel: ignoring malformed entry %d in %s (expected name=value; "
                    "the entry is not shown, it may hold a secret)",
                    number,
                    source,
                )
            else:
                logger.warning("agentops-otel: ignoring malformed entry %r in %s", item, source)
            continue
        result[unquote(key.strip())] = unquote(value.strip())
    return result


def normalise_tags(tags: Iterable[str] | str | None, what: str = "tags") -> list[str]:
    """Tags as a list of unique strings in first-seen order; a single string is one tag."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    try:
        items = list(tags)
    except TypeError:
        raise TypeError(f"{what} must be a list of str, got {type(tags).__name__}") from None
    result: list[str] = []
    for tag in items:
        if not isinstance(tag, str):
            raise TypeError(f"{what} must contain only str, got {tag!r}")
        if tag not in result:
            result.append(tag)
    return result
