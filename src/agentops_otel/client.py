"""The Client: TracerProvider wiring, the session registry, session lookup and exit handling.

One Client per process (``get_client()``); the module-level API in ``agentops_otel`` delegates to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing.util
import os
import signal
import threading
import time
import uuid
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from agentops_otel import context_threads
from agentops_otel import semconv as sc
from agentops_otel.config import INHERITED_SESSION_ENV, Configuration, normalise_tags
from agentops_otel.events import AnyEvent, ErrorEvent
from agentops_otel.exit_handlers import ExitHandlers
from agentops_otel.export import Pipelines, SessionSpanProcessor, run_bounded
from agentops_otel.host import host_attributes, host_env, sdk_version
from agentops_otel.instrumentation._settings import RunTarget
from agentops_otel.session import ROOT_SPAN_NAME, EndState, Session, SessionWiring, parse_session_id

logger = logging.getLogger("agentops_otel")
LOG_FILE = "agentops.log"  # AgentOps 0.3's file (AGENTOPS_LOGGING_TO_FILE), in the working directory
_log_file_opened = False  # this process has written LOG_FILE: later opens append to it

TRACER_NAME = "agentops_otel"
EXIT_REASON = "Process exited without calling end_session()"
_MAX_ENDED_SESSIONS = 10_000  # ended sessions still routed (late spans), oldest forgotten first


class MultipleSessionsError(RuntimeError):
    """A module-level call with several sessions running and none in the current context."""


class SessionIdGenerator(IdGenerator):
    """Random ids, except for a root span being started with the ids derived from its session."""

    def __init__(self, inner: IdGenerator) -> None:
        self._inner = inner
        self._forced = threading.local()

    @contextlib.contextmanager
    def forced(self, trace_id: int, span_id: int) -> Iterator[None]:
        self._forced.ids = (trace_id, span_id)
        try:
            yield
        finally:
            self._forced.ids = None

    def generate_trace_id(self) -> int:
        ids = getattr(self._forced, "ids", None)
        return ids[0] if ids else self._inner.generate_trace_id()

    def generate_span_id(self) -> int:
        ids = getattr(self._forced, "ids", None)
        return ids[1] if ids else self._inner.generate_span_id()

    def is_trace_id_random(self) -> bool:
        return self._inner.is_trace_id_random()


class Client:
    def __init__(self) -> None:
        self.config: Configuration | None = None
        self.tracer: trace.Tracer = trace.NoOpTracer()
        self.recording = False  # False until init(), and with OTEL_SDK_DISABLED
        self.host_data_in_resource = False  # our provider's resource carries the host environment
        self.provider: TracerProvider | None = None
        self._owns_provider = False
        self._ids: SessionIdGenerator | None = None
        self._pipelines = Pipelines()
        self._processor: SessionSpanProcessor | None = None
        self._exit_handlers: ExitHandlers | None = None
        self._log_handlers: list[logging.Handler] = []
        self._instrumented = False
        self._fork_hooks = False
        self._started_any = False  # a session was started or joined here (the inherited id is used once)
        self._active: dict[int, Session] = {}  # running sessions by trace id
        self._known: dict[int, Session] = {}  # every session whose spans we route, by trace id
        self._ended: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.RLock()
        self._env_before: str | None = None
        self._attached: dict[int, Context] = {}  # module-level sessions: context to restore at end
        self._warned_unrouted = False  # an LLM call was left out of every session for want of session=
        self._pending: dict[str, Any] = {}  # configure() before init(): applied by init()

    @property
    def initialized(self) -> bool:
        return self.config is not None

    @property
    def injected_exporter(self) -> SpanExporter | None:
        """The exporter given to init() in place of OTLP, if any."""
        return self._pipelines.injected

    # --- init -------------------------------------------------------------------------------
    def init(
        self,
        config: Configuration,
        tracer_provider: trace.TracerProvider | None = None,
        exporter: SpanExporter | None = None,
    ) -> Session | None:
        with self._lock:
            if self.initialized:
                logger.debug("agentops-otel: init() called again; keeping the existing setup")
                return self._only_active()
            level_before = logger.level
            self._env_before = os.environ.get(INHERITED_SESSION_ENV)
            try:
                return self._init(config, tracer_provider, exporter)
            except BaseException:
                # All or nothing: a failed init() leaves no half-set-up client, so a later init() works.
                self.shutdown()
                logger.setLevel(level_before)
                raise

    def _init(
        self, config: Configuration, tracer_provider: trace.TracerProvider | None, exporter: SpanExporter | None
    ) -> Session | None:
        if config.inherited_session_id is not None:
            try:  # init() checked its argument: this one is from the environment, and must not stop the program
                parse_session_id(config.inherited_session_id)
            except ValueError as error:
                logger.warning("agentops-otel: ignoring the inherited session id in the environment: %s", error)
                config.inherited_session_id = None
        self.config = config
        if config.log_level is not None:
            level = config.log_level
            logger.setLevel(level.strip().upper() if isinstance(level, str) else level)
        if config.log_to_file:
            self._log_to_file()
        if not config.sdk_disabled:
            self._setup_tracing(config, tracer_provider, exporter)
            if exporter is None and not config.api_key:  # OTLP to a collector: it will refuse them
                logger.warning(
                    "agentops-otel: no API key: set AGENTOPS_API_KEY or pass init(api_key=...); "
                    "a collector with keys refuses spans sent without one"
                )
            context_threads.install(self.env_for_child)
            if config.exit_handlers:
                self._exit_handlers = ExitHandlers(self._on_exit, self._on_exception, self._on_signal)
                self._exit_handlers.install()
            self._register_fork_hooks()
        if config.instrument_llm_calls and self.recording:
            self._instrument(config)
        if config.auto_start_session:
            return self.start_session(inherited_session_id=config.inherited_session_id)
        return None

    def _log_to_file(self) -> None:
        """The SDK's log records also go to ``./agentops.log``, as AgentOps 0.3 wrote them (a file that
        cannot be opened is a warning). Warnings still reach stderr as before."""
        global _log_file_opened
        if self._log_handlers:
            return
        try:
            handler = logging.FileHandler(LOG_FILE, mode="a" if _log_file_opened else "w", encoding="utf-8")
        except OSError as error:
            logger.warning("agentops-otel: AGENTOPS_LOGGING_TO_FILE: cannot write %s: %s", LOG_FILE, error)
            return
        _log_file_opened = True
        handler.setFormatter(logging.Formatter("%(asctime)s - %(levelname)s - %(message)s"))
        if not logger.hasHandlers():  # Python's last-resort handler printed our warnings: keep printing them
            stderr = logging.StreamHandler()
            stderr.setLevel(logging.WARNING)
            self._log_handlers.append(stderr)
        self._log_handlers.append(handler)
        for added in self._log_handlers:
            logger.addHandler(added)

    def _register_fork_hooks(self) -> None:
        if self._fork_hooks or not hasattr(os, "register_at_fork"):
            return  # once per client: they cannot be unregistered, and a later init() reuses them
        self._fork_hooks = True
        after_fork = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: (method := after_fork()) and method())
        # runs in a multiprocessing child once its finalizer registry has been reset
        multiprocessing.util.register_after_fork(self, Client._register_exit_flush)

    def _setup_tracing(
        self, config: Configuration, provider: trace.TracerProvider | None, exporter: SpanExporter | None
    ) -> None:
        current = provider if provider is not None else trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            sdk_provider = current  # the application's: add our processing, keep theirs
        else:
            sdk_provider = TracerProvider(resource=self._resource(config), shutdown_on_exit=False)
            self._owns_provider = True
            self.host_data_in_resource = not config.env_data_opt_out
            if provider is None and type(current).__name__ == "ProxyTracerProvider":
                trace.set_tracer_provider(sdk_provider)
            else:
                logger.warning(
                    "agentops-otel: the global TracerProvider is not an SDK TracerProvider (%s); "
                    "using a separate one for sessions",
                    type(current).__name__,
                )
        self._pipelines = Pipelines(exporter, spool_config=config)
        self._processor = SessionSpanProcessor(self._known.get, self._pipelines, config.max_wait_time / 1000)
        sdk_provider.add_span_processor(self._processor)
        tracer = sdk_provider.get_tracer(TRACER_NAME, sdk_version())
        if not isinstance(tracer, SdkTracer):  # the provider itself is disabled
            return
        # Our tracer gets its own id generator (the application's tracers are untouched).
        self._ids = SessionIdGenerator(tracer.id_generator)
        tracer.id_generator = self._ids
        self.provider = sdk_provider
        self.tracer = tracer
        self.recording = True

    @staticmethod
    def _resource(config: Configuration) -> Resource:
        attrs: dict[str, Any] = {} if config.env_data_opt_out else dict(host_attributes())
        attrs[sc.SERVICE_NAME] = config.service_name or "agentops-otel"
        attrs.update(config.resource_attributes)
        if config.service_name:
            attrs[sc.SERVICE_NAME] = config.service_name
        return Resource.create(attrs)

    def _instrument(self, config: Configuration) -> None:
        try:
            from agentops_otel.instrumentation import instrument
        except ImportError as error:
            logger.debug("agentops-otel: LLM instrumentation unavailable: %s", error)
            return
        try:
            instrument(
                tracer_provider=self.provider,
                config=config,
                orphan_parent=self.lone_session_context,
                run_target=self.run_target,
            )
            self._instrumented = True
        except Exception:
            logger.exception("agentops-otel: could not instrument LLM clients; continuing without")

    # --- sessions ---------------------------------------------------------------------------
    def pipeline_for(self, config: Configuration) -> BatchSpanProcessor | None:
        return self._pipelines.for_config(config) if self.recording else None

    def _start_root_span(self, trace_id: int, span_id: int, attributes: dict[str, Any], start_ns: int) -> trace.Span:
        assert self._ids is not None
        with self._ids.forced(trace_id, span_id):
            return self.tracer.start_span(ROOT_SPAN_NAME, context=Context(), attributes=attributes, start_time=start_ns)

    def _flush_pipeline(self, pipeline: Any, timeout_s: float) -> bool:
        return self._pipelines.flush([pipeline], timeout_s)

    def _wiring(self, config: Configuration) -> SessionWiring:
        """What a session of ``config`` needs from this client's tracing set-up."""
        return SessionWiring(
            tracer=self.tracer,
            recording=self.recording,
            host_data_in_resource=self.host_data_in_resource,
            pipeline=self.pipeline_for(config),
            start_root=self._start_root_span,
            ended=self.session_ended,
            flush=self._flush_pipeline,
        )

    def start_session(
        self,
        tags: list[str] | str | None = None,
        inherited_session_id: str | uuid.UUID | None = None,
        config: Configuration | None = None,
        attach: bool = True,
    ) -> Session:
        if config is not None and not isinstance(config, Configuration):
            raise TypeError(f"config must be an agentops_otel.Configuration, got {type(config).__name__}")
        if not self.initialized:
            self.init(Configuration.from_env(auto_start_session=False))
        assert self.config is not None
        session_config = config or self.config
        if config is not None and config.env_data_opt_out and self.host_data_in_resource:
            # One resource per TracerProvider, so per process: it cannot drop host data for one session.
            logger.warning(
                "agentops-otel: env_data_opt_out=True in a session's Configuration cannot remove the host "
                "environment from the resource, which is per process; set env_data_opt_out in init() "
                "(this session gets no host_env)"
            )
        if inherited_session_id is None and not self._started_any:
            # The first session of a process started by a session's process joins that one (the
            # inherited id of init() or the environment), also with init(auto_start_session=False).
            inherited_session_id = self.config.inherited_session_id
        inherited = inherited_session_id is not None
        session_id = parse_session_id(inherited_session_id, "inherited_session_id") if inherited else uuid.uuid4()
        with self._lock:
            self._started_any = True
            existing = self._active.get(session_id.int)
            if existing is not None:
                return existing
            session = Session(self._wiring(session_config), session_config, normalise_tags(tags), session_id, inherited)
            self._known[session.trace_id] = session
            self._active[session.trace_id] = session
            self._ended.pop(session.trace_id, None)
            if session_config.propagate_to_children:
                os.environ[INHERITED_SESSION_ENV] = session.session_id
        if attach:
            self._attached[session.trace_id] = otel_context.get_current()
            otel_context.attach(trace.set_span_in_context(session._root))
        logger.debug("agentops-otel: session %s started (inherited=%s)", session.session_id, inherited)
        return session

    def session_ended(self, session: Session) -> None:
        """Bookkeeping after a session's root span ended."""
        with self._lock:
            self._active.pop(session.trace_id, None)
            self._ended[session.trace_id] = None
            while len(self._ended) > _MAX_ENDED_SESSIONS:
                old, _ = self._ended.popitem(last=False)
                self._known.pop(old, None)
            if os.environ.get(INHERITED_SESSION_ENV) == session.session_id:
                newest = next(reversed(self._active.values()), None)
                _set_env(INHERITED_SESSION_ENV, newest.session_id if newest else self._env_before)
            previous = self._attached.pop(session.trace_id, None)
        if previous is not None and trace.get_current_span().get_span_context().trace_id == session.trace_id:
            otel_context.attach(previous)  # leave the session's context in the caller that started it

    def env_for_child(self, env: Mapping[Any, Any] | None) -> Mapping[Any, Any] | None:
        """The environment for a child process started here: the inherited session id is that of
        the session current in this context, not the process-wide newest one. An ``env`` the caller
        built without the id stays as it is."""
        session = self._active.get(trace.get_current_span().get_span_context().trace_id)
        if session is None or not session.config.propagate_to_children:
            return env
        process_wide = os.environ.get(INHERITED_SESSION_ENV)
        if process_wide == session.session_id:
            return env
        if env is None:  # the child would inherit os.environ
            return {**os.environ, INHERITED_SESSION_ENV: session.session_id}
        if process_wide is not None and env.get(INHERITED_SESSION_ENV) == process_wide:  # a copy of os.environ
            return {**env, INHERITED_SESSION_ENV: session.session_id}
        return env

    def active_sessions(self) -> list[Session]:
        with self._lock:
            return list(self._active.values())

    def _only_active(self) -> Session | None:
        active = self.active_sessions()
        return active[0] if len(active) == 1 else None

    def lone_session_context(self) -> Context | None:
        """Where an LLM call made outside any span goes: the root of the only running session.
        With several running it belongs to none of them (it is not guessed): said once."""
        active = self.active_sessions()
        if len(active) == 1:
            return active[0].root_context
        if active:
            self._warn_unrouted(len(active))
        return None

    def _warn_unrouted(self, running: int) -> None:
        if self._warned_unrouted:
            return
        self._warned_unrouted = True
        logger.warning(
            "agentops-otel: a call was made with %d sessions running and none current; it is recorded "
            "in no session. Pass session=<Session> to the call (LLM calls and decorated functions take "
            "it), call it through session.patch(fn), or make it inside the session (said once)",
            running,
        )

    def run_target(self, framework: str) -> RunTarget:
        """Where an agent framework's run records: the current session (under its current span, else
        its root); with none running here, a session of its own tagged ``framework``, which the
        run ends (``RunTarget.end``)."""
        try:
            session = self.current_session()
        except MultipleSessionsError:
            session = None  # several running, none current: the run is a session of its own
        if session is not None:
            return RunTarget(session.parent_context())
        if not self.recording:
            return RunTarget(None)
        own = self.start_session(tags=[framework], attach=False)
        return RunTarget(own.root_context, own.end_run)

    def running_session(self, session_id: str | uuid.UUID) -> Session | None:
        """The session ``session_id`` if it is running in this process (a bad id is a ValueError)."""
        return self._active.get(parse_session_id(session_id, "session_id").int)

    def current_session(self, call: str = "record(...)") -> Session | None:
        """The session of the current context, else the only running one; None if none is running."""
        trace_id = trace.get_current_span().get_span_context().trace_id
        session = self._active.get(trace_id)
        if session is not None:
            return session
        active = self.active_sessions()
        if len(active) > 1:
            raise MultipleSessionsError(
                f"{len(active)} sessions are running and none is current here; "
                f"call session.{call} on the Session returned by start_session() instead"
            )
        return active[0] if active else None

    def event_parent(self) -> tuple[Session, Context | None] | None:
        """For decorators: (session, parent context) of the current session, never raising."""
        try:
            session = self.current_session()
        except MultipleSessionsError:
            self._warn_unrouted(len(self.active_sessions()))
            return None
        return (session, session.parent_context()) if session is not None else None

    # --- AgentOps 0.3's Client ----------------------------------------------------------------
    def configure(
        self,
        api_key: str | None = None,
        parent_key: str | None = None,
        endpoint: str | None = None,
        max_wait_time: int | None = None,
        max_queue_size: int | None = None,
        default_tags: list[str] | None = None,
        instrument_llm_calls: bool | None = None,
        auto_start_session: bool | None = None,
        skip_auto_end_session: bool | None = None,
        env_data_opt_out: bool | None = None,
        **changes: Any,
    ) -> None:
        """Change settings (``None`` values ignored; AgentOps 0.3's arguments in its order, then any
        other ``Configuration`` field by name): before ``init()``, what it will use (its own arguments
        win); after, for sessions started later. Locked while sessions run, as in AgentOps."""
        changes.update(
            api_key=api_key,
            parent_key=parent_key,
            endpoint=endpoint,
            max_wait_time=max_wait_time,
            max_queue_size=max_queue_size,
            default_tags=default_tags,
            instrument_llm_calls=instrument_llm_calls,
            auto_start_session=auto_start_session,
            skip_auto_end_session=skip_auto_end_session,
            env_data_opt_out=env_data_opt_out,
        )
        unknown = set(changes) - {f.name for f in dataclasses.fields(Configuration)}
        if unknown:
            raise TypeError(f"configure() got unexpected arguments {sorted(unknown)}")
        changes = {k: v for k, v in changes.items() if v is not None}
        with self._lock:
            if not self.initialized:
                Configuration.from_env(**{**self._pending, **changes})  # a bad value is an error now
                self._pending.update(changes)
                return
            running = len(self._active)
            if running:
                logger.warning(
                    "agentops-otel: configure() ignored: %d session(s) running; configuration is locked "
                    "until they end (start_session(config=...) gives one session its own)",
                    running,
                )
                return
            assert self.config is not None
            self.config.configure(**changes)

    def take_pending(self) -> dict[str, Any]:
        """What configure() set before init(), for init() to apply (once)."""
        pending, self._pending = self._pending, {}
        return pending

    @property
    def is_initialized(self) -> bool:
        return self.initialized

    @property
    def has_sessions(self) -> bool:
        return bool(self._active)

    @property
    def is_multi_session(self) -> bool:
        return len(self._active) > 1

    @property
    def session_count(self) -> int:
        return len(self._active)

    @property
    def current_session_ids(self) -> list[str]:
        return [s.session_id for s in self.active_sessions()]

    def _setting(self, name: str) -> Any:
        if self.config is not None:
            return getattr(self.config, name)
        return self._pending.get(name, getattr(Configuration.from_env(), name))

    @property
    def api_key(self) -> str | None:
        return self._setting("api_key")

    @property
    def parent_key(self) -> str | None:
        return self._setting("parent_key")

    def add_default_tags(self, tags: list[str] | str) -> None:
        """Tags for sessions started from now on."""
        current = self.config.default_tags if self.config else self._pending.get("default_tags", [])
        merged = normalise_tags([*current, *normalise_tags(tags)])
        if self.config is not None:
            self.config.default_tags = merged
        else:
            self._pending["default_tags"] = merged

    def get_default_tags(self) -> list[str]:
        return list(self._setting("default_tags"))

    def stop_instrumenting(self) -> None:
        """Stop recording LLM calls (the patched methods are restored); sessions go on."""
        with self._lock:
            if not self._instrumented:
                return
            try:
                from agentops_otel.instrumentation import uninstrument

                uninstrument()
            except Exception:
                logger.exception("agentops-otel: uninstrument failed")
            self._instrumented = False

    def get_session(self, session_id: str | uuid.UUID) -> Session | None:
        """The running session ``session_id`` (None if it is not running here, or not a session id)."""
        try:
            return self.running_session(session_id)
        except ValueError:
            return None

    def initialize(self) -> Session | None:
        """``init()`` with the settings given to ``configure()`` (and the environment)."""
        if self.initialized:
            return self._only_active()
        return self.init(Configuration.from_env(**self.take_pending()))

    def record(self, event: AnyEvent) -> None:
        """Record ``event`` in the current session (warning when none runs)."""
        session = self.current_session("record(...)")
        if session is None:
            logger.warning("agentops-otel: record() called but no session is running")
            return
        session.record(event)

    def add_tags(self, tags: list[str] | str) -> None:
        session = self.current_session("add_tags(...)")
        if session is None:
            logger.warning("agentops-otel: add_tags() called but no session is running")
            return
        session.add_tags(tags)

    def set_tags(self, tags: list[str] | str) -> None:
        session = self.current_session("set_tags(...)")
        if session is None:
            logger.warning("agentops-otel: set_tags() called but no session is running")
            return
        session.set_tags(tags)

    def end_session(
        self,
        end_state: str | EndState,
        end_state_reason: str | None = None,
        video: str | None = None,
        is_auto_end: bool | None = None,
    ) -> Decimal | None:
        """End the current session (see ``Session.end_session``); ``is_auto_end``: a framework
        ending it, skipped with ``skip_auto_end_session``."""
        try:
            EndState.parse(end_state)
        except ValueError as error:
            logger.warning("agentops-otel: end_session() ignored: %s", error)
            return None
        session = self.current_session("end_session(...)")
        if session is None:
            logger.warning("agentops-otel: end_session() called but no session is running")
            return None
        if is_auto_end and session.config.skip_auto_end_session:
            return None
        return session.end_session(end_state, end_state_reason, video)

    def create_agent(self, name: str, agent_id: str | None = None, session: Session | None = None) -> str | None:
        """Register an agent in ``session`` (default: the current one); returns its id."""
        session = session if session is not None else self.current_session("create_agent(...)")
        if session is None:
            logger.warning("agentops-otel: create_agent() called but no session is running")
            return None
        return session.create_agent(name, agent_id)

    def add_pre_init_warning(self, message: str) -> None:
        logger.warning("agentops-otel: %s", message)

    def unsuppress_logs(self) -> None:
        """AgentOps re-applied its log level here; the level is set once, by ``init()``."""

    @property
    def host_env(self) -> dict[str, Any] | None:
        return None if self._setting("env_data_opt_out") else host_env()

    def end_all_sessions(self) -> None:
        """End every running session as Indeterminate."""
        for session in self.active_sessions():
            session.end_session(EndState.INDETERMINATE)

    # --- exit handling ----------------------------------------------------------------------
    def _auto_end(self, state: EndState, reason: str) -> None:
        for session in self.active_sessions():
            if session.config.skip_auto_end_session:
                continue
            # An inherited session belongs to the process that started it: only our spans leave.
            if session._close(state, reason, None, emit_root=False):
                self.session_ended(session)

    def _wait_s(self) -> float:
        waits = [s.config.max_wait_time for s in self.active_sessions()]
        waits.append(self.config.max_wait_time if self.config else 0)
        return max(waits) / 1000

    def flush_all(self, timeout_s: float | None = None) -> bool:
        timeout_s = self._wait_s() if timeout_s is None else timeout_s
        return self._pipelines.flush(self._pipelines.all(), timeout_s)

    def _on_exit(self) -> None:
        wait = self._wait_s()
        deadline = time.monotonic() + wait
        self._auto_end(EndState.INDETERMINATE, EXIT_REASON)
        if self._pipelines.last_flush_timed_out:
            # end_session already waited max_wait_time for this backend: never make the exit wait twice.
            logger.warning("agentops-otel: the last flush timed out; exiting without waiting for the exporter")
            self._pipelines.flush(self._pipelines.all(), wait, deliver=False)  # what is left goes to the spool
            self._pipelines.drain_spool(0)
            return
        flushed = self.flush_all(wait)
        self._pipelines.drain_spool(max(0.0, deadline - time.monotonic()))
        if self._owns_provider and flushed:  # after a timed-out flush, exit without waiting again
            self._pipelines.shutdown(max(0.0, deadline - time.monotonic()))

    def _on_exception(self, exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt):
            self._auto_end(EndState.INDETERMINATE, "Interrupted by KeyboardInterrupt")
            return
        reason = f"{type(exc).__qualname__}: {exc}"
        for session in self.active_sessions():
            session.record(ErrorEvent(exception=exc, logs=None))
        self._auto_end(EndState.FAILURE, reason)

    def _on_signal(self, signum: int, dying: bool) -> None:
        reason = f"Process received {signal.Signals(signum).name}"
        wait = self._wait_s()
        deadline = time.monotonic() + wait
        # In a thread: the interrupted main thread may hold locks that ending a session takes.
        if self.active_sessions():
            run_bounded(lambda: self._auto_end(EndState.INDETERMINATE, reason), wait, "end-sessions")
        if dying:  # the previous behaviour kills the process without atexit: flush now
            self.flush_all(max(0.0, deadline - time.monotonic()))

    def _after_fork_in_child(self) -> None:
        # A forked child shares its parent's sessions: it joins them, it does not own them.
        with self._lock:
            for session in self._active.values():
                session.is_inherited = True

    def _register_exit_flush(self) -> None:
        """multiprocessing children leave through os._exit (no atexit): flush from its finalizers."""
        import multiprocessing.util

        multiprocessing.util.Finalize(self, self.flush_all, exitpriority=100)

    # --- teardown ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Undo init(): uninstrument, remove hooks, flush and stop export (bounded by max_wait_time)."""
        with self._lock:
            if not self.initialized:
                return
            wait = self._wait_s()
            if self._instrumented:
                try:
                    from agentops_otel.instrumentation import uninstrument

                    uninstrument()
                except Exception:
                    logger.exception("agentops-otel: uninstrument failed")
                self._instrumented = False
            if self._exit_handlers is not None:
                self._exit_handlers.uninstall()
            context_threads.uninstall()
            if self._processor is not None:
                self.flush_all(wait)
                self._processor.enabled = False
                self._pipelines.shutdown(wait)
            _set_env(INHERITED_SESSION_ENV, self._env_before)
            for handler in self._log_handlers:
                logger.removeHandler(handler)
                handler.close()
            self._log_handlers = []
            self.config = None
            self.recording = False
            self.tracer = trace.NoOpTracer()


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


_client = Client()
_client_lock = threading.Lock()


def get_client() -> Client:
    return _client


def set_client(client: Client) -> Client:
    """Replace the process's client (tests, or embedding); returns the previous one."""
    global _client
    with _client_lock:
        previous, _client = _client, client
    return previous


def warn_deprecated(message: str) -> None:
    warnings.warn(message, DeprecationWarning, stacklevel=3)
