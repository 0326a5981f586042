"""Contract-following sessions built as real OpenTelemetry SDK spans, shipped over real OTLP/HTTP.

The dashboard tests fill a real collector with these: a varied "showcase" project (tags, end
states, models, captured messages, errors with stack traces, a video link, a running session,
an inactive one, the ``<script>`` prompt) and a "bulk" project (10,000 sessions, one 5,000-span session).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentops_otel import semconv as sc
from agentops_otel.session import root_span_id

SCRIPT_PROMPT = (
    '<script>window.__pwned = true; document.title = "pwned"</script><img src=x onerror="window.__pwned=true">'
)
MS = 1_000_000  # ns

PROVIDERS = {
    "gpt-4o": sc.PROVIDER_OPENAI,
    "gpt-4o-mini": sc.PROVIDER_OPENAI,
    "o3-mini": sc.PROVIDER_OPENAI,
    "claude-sonnet-4-20250514": sc.PROVIDER_ANTHROPIC,
    "claude-3-5-haiku-20241022": sc.PROVIDER_ANTHROPIC,
}
HOST_ENV = {
    sc.SERVICE_NAME: "support-agent",
    sc.HOST_NAME: "agent-worker-3",
    sc.HOST_ARCH: "amd64",
    sc.OS_TYPE: "linux",
    sc.OS_DESCRIPTION: "Debian GNU/Linux 12 (bookworm)",
    sc.PROCESS_RUNTIME_NAME: "cpython",
    sc.PROCESS_RUNTIME_VERSION: "3.11.2",
    sc.SDK_VERSION: "0.1.0",
    sc.HOST_CPU_COUNT: 8,
    sc.HOST_MEMORY_TOTAL: 34_359_738_368,
}


class _SessionIds(IdGenerator):
    """Trace id = session id, and the root span id derived from it (as the SDK does)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self.next_trace_id: int | None = None
        self.next_span_id: int | None = None

    def generate_trace_id(self) -> int:
        value, self.next_trace_id = self.next_trace_id, None
        return value if value is not None else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        value, self.next_span_id = self.next_span_id, None
        return value if value is not None else self._random.generate_span_id()


@dataclass
class Clock:
    """Explicit span times (ns) so sessions can sit anywhere in the past."""

    now_ns: int

    def advance(self, ms: float) -> int:
        self.now_ns += int(ms * MS)
        return self.now_ns


def gen_ai_messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


@dataclass
class SessionBuilder:
    """Adds event spans under one session's root span."""

    sender: OtlpSessions
    session_id: str
    root: trace.Span
    clock: Clock
    counts: dict[str, int] = field(default_factory=dict)

    def _context(self, parent: trace.Span | None):
        return trace.set_span_in_context(parent or self.root)

    @contextmanager
    def span(
        self, name: str, kind: str, parent: trace.Span | None = None, ms: float = 5, **attrs
    ) -> Iterator[trace.Span]:
        start = self.clock.advance(1)
        span = self.sender.tracer.start_span(
            name,
            context=self._context(parent),
            kind=SpanKind.INTERNAL,
            start_time=start,
            attributes={sc.SPAN_KIND: kind, **attrs},
        )
        try:
            yield span
        finally:
            self.clock.advance(ms)
            span.end(end_time=self.clock.now_ns)
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def llm(
        self,
        model: str,
        *,
        parent: trace.Span | None = None,
        ms: float = 800,
        input_tokens: int = 1200,
        output_tokens: int = 300,
        cache_read: int = 0,
        cache_creation: int = 0,
        reasoning: int = 0,
        prompt: str | None = None,
        completion: str | None = None,
        system: str | None = None,
    ) -> None:
        provider = PROVIDERS[model]
        attrs = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.GEN_AI_RESPONSE_MODEL: model,
            sc.GEN_AI_RESPONSE_ID: f"resp_{uuid.uuid4().hex[:20]}",
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
            sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
            sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        }
        if cache_read:
            attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
        if cache_creation:
            attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_creation
        if reasoning:
            attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
        if system is not None:
            attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps([{"type": "text", "content": system}])
        if prompt is not None:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = gen_ai_messages("user", prompt)
        if completion is not None:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": completion}], "finish_reason": "stop"}]
            )
        start = self.clock.advance(1)
        span = self.sender.tracer.start_span(
            f"{sc.OP_CHAT} {model}",
            context=self._context(parent),
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes={sc.SPAN_KIND: sc.KIND_LLM, **attrs},
        )
        self.clock.advance(ms)
        span.end(end_time=self.clock.now_ns)
        self.counts[sc.KIND_LLM] = self.counts.get(sc.KIND_LLM, 0) + 1

    def tool(self, name: str, *, parent: trace.Span | None = None, ms: float = 40, fail: str | None = None) -> None:
        start = self.clock.advance(1)
        span = self.sender.tracer.start_span(
            f"{sc.OP_EXECUTE_TOOL} {name}",
            context=self._context(parent),
            kind=SpanKind.INTERNAL,
            start_time=start,
            attributes={
                sc.SPAN_KIND: sc.KIND_TOOL,
                sc.GEN_AI_TOOL_NAME: name,
                sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            },
        )
        self.clock.advance(ms)
        if fail:
            self.error_on(span, TimeoutError(fail))
        span.end(end_time=self.clock.now_ns)
        self.counts[sc.KIND_TOOL] = self.counts.get(sc.KIND_TOOL, 0) + 1

    def end(self, end_state: str, *, reason: str | None = None, video: str | None = None) -> None:
        """End the root span with the contract's end-state attributes and span status."""
        self.root.set_attribute(sc.SESSION_END_STATE, end_state)
        if reason:
            self.root.set_attribute(sc.SESSION_END_STATE_REASON, reason)
        if video:
            self.root.set_attribute(sc.SESSION_VIDEO, video)
        code = {"Success": StatusCode.OK, "Failure": StatusCode.ERROR}.get(end_state, StatusCode.UNSET)
        self.root.set_status(Status(code, reason if code is StatusCode.ERROR else None))
        self.root.end(end_time=self.clock.advance(2))

    def error_on(self, span: trace.Span, exc: BaseException) -> None:
        """Status ERROR, error.type and an `exception` event with a real stack trace."""
        try:
            raise exc
        except BaseException as raised:  # a real traceback for exception.stacktrace
            span.record_exception(raised, timestamp=self.clock.now_ns)
        span.set_attribute(sc.ERROR_TYPE, type(exc).__qualname__)
        span.set_status(Status(StatusCode.ERROR, str(exc)))


class OtlpSessions:
    """Builds sessions with the OTel SDK and exports them over OTLP/HTTP to a collector."""

    def __init__(self, base_url: str, api_key: str, resource: dict | None = None) -> None:
        self.ids = _SessionIds()
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create(resource or HOST_ENV), id_generator=self.ids)
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("tests.dashboard")
        self.exporter = OTLPSpanExporter(
            endpoint=f"{base_url}/v1/traces", headers={"X-Agentops-Api-Key": api_key}, timeout=60
        )

    def start(self, start_ns: int, *, tags: Sequence[str] = (), session_id: str | None = None) -> SessionBuilder:
        """A running session: its root span is open (so not sent) until :meth:`SessionBuilder.end`."""
        session_id = session_id or str(uuid.uuid4())
        self.ids.next_trace_id = uuid.UUID(session_id).int
        self.ids.next_span_id = root_span_id(session_id)
        attrs = {
            sc.SPAN_KIND: sc.KIND_SESSION,
            sc.SESSION_ID: session_id,
            sc.SESSION_ID_GENERIC: session_id,
            sc.SESSION_TAGS: list(tags),
        }
        root = self.tracer.start_span(
            "session",
            kind=SpanKind.INTERNAL,
            start_time=start_ns,
            attributes=attrs,
            context=trace.set_span_in_context(trace.INVALID_SPAN),
        )
        return SessionBuilder(self, session_id, root, Clock(start_ns))

    @contextmanager
    def session(
        self,
        start_ns: int,
        *,
        tags: Sequence[str] = (),
        end_state: str | None = "Success",
        reason: str | None = None,
        video: str | None = None,
        session_id: str | None = None,
    ) -> Iterator[SessionBuilder]:
        """A session ended on leaving the block; `end_state=None` leaves it running."""
        builder = self.start(start_ns, tags=tags, session_id=session_id)
        yield builder
        if end_state is not None:
            builder.end(end_state, reason=reason, video=video)

    def flush(self, chunk: int = 2000) -> int:
        """Export every finished span; returns how many were sent."""
        spans = list(self.memory.get_finished_spans())
        self.memory.clear()
        for i in range(0, len(spans), chunk):
            result = self.exporter.export(spans[i : i + chunk])
            if result is not SpanExportResult.SUCCESS:
                raise RuntimeError(f"OTLP export of {len(spans[i : i + chunk])} spans failed")
        return len(spans)

    def close(self) -> None:
        self.exporter.shutdown()
        self.provider.shutdown()

    def __enter__(self) -> OtlpSessions:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- the data sets ---------------------------------------------------------------------------

TAG_POOL = ["prod", "staging", "checkout-agent", "research", "support-bot", "nightly", "eval", "customer:acme"]
MODELS = list(PROVIDERS)
PROMPTS = [
    "Summarise the customer's last three tickets and propose a next step.",
    "Find the cheapest flight from Lisbon to Berlin next Friday.",
    "Draft a polite reply explaining the refund policy.",
    "Which of these SQL queries is slowest, and why?",
]


@dataclass
class Showcase:
    """Ids of the showcase sessions the tests look at."""

    script_session: str
    error_session: str
    running_session: str
    video_session: str
    tagged: dict[str, int]  # tag -> number of sessions carrying it
    total: int
    inactive_session: str
    # session id -> its state as the list shows it: Success, Failure, Indeterminate (ended), or
    # Running / Inactive (no root span yet; a span within the last hour or not)
    states: dict[str, str]
    now_ns: int  # the reference time the sessions were placed before (the tests pin the browser's clock to it)
    empty_day_ns: int  # start of the UTC day, three days before now_ns's, that holds no session


# Day buckets need a day without sessions whatever the hour: the showcase leaves this one empty.
EMPTY_DAYS_BACK = 3
DAY_NS = 86_400_000 * MS


def send_showcase(sender: OtlpSessions, now_ns: int, seed: int = 7) -> Showcase:
    """About 40 varied sessions over the 7 days before `now_ns`, plus the special cases; none on the UTC
    day EMPTY_DAYS_BACK days before `now_ns`'s."""
    rng = random.Random(seed)
    tagged: dict[str, int] = {}
    states: dict[str, str] = {}
    empty_day_ns = (now_ns // DAY_NS - EMPTY_DAYS_BACK) * DAY_NS
    total = 0
    for _ in range(36):
        start = now_ns - int(rng.uniform(0.02, 6.9) * DAY_NS)
        if start // DAY_NS * DAY_NS == empty_day_ns:
            start += DAY_NS  # onto the next day, still a whole day before now_ns's
        tags = sorted(rng.sample(TAG_POOL, rng.randint(1, 3)))
        state = rng.choices(["Success", "Failure", "Indeterminate"], weights=[7, 2, 1])[0]
        reason = {"Success": "Task completed", "Failure": "Agent gave up after 3 retries", "Indeterminate": None}[state]
        with sender.session(start, tags=tags, end_state=state, reason=reason) as s:
            for step in range(rng.randint(1, 4)):
                with s.span(f"agent step {step + 1}", sc.KIND_AGENT, ms=20, **{sc.AGENT_NAME: "planner"}) as agent:
                    model = rng.choice(MODELS)
                    s.llm(
                        model,
                        parent=agent,
                        ms=rng.uniform(300, 2500),
                        input_tokens=rng.randint(400, 9000),
                        output_tokens=rng.randint(50, 1500),
                        cache_read=rng.choice([0, 0, 256, 1024]),
                        reasoning=rng.randint(100, 600) if model == "o3-mini" else 0,
                        prompt=rng.choice(PROMPTS),
                        completion="Here is what I found: ...",
                    )
                    s.tool(
                        rng.choice(["search_docs", "lookup_order", "send_email"]), parent=agent, ms=rng.uniform(20, 400)
                    )
            if state == "Failure":
                with s.span("handle refund", sc.KIND_ACTION, ms=30) as action:
                    s.error_on(action, RuntimeError("payment gateway returned 502"))
        for tag in tags:
            tagged[tag] = tagged.get(tag, 0) + 1
        states[s.session_id] = state
        total += 1

    # The untrusted-content case: a prompt, a completion and a tag that are HTML.
    script_id = str(uuid.uuid4())
    with sender.session(
        now_ns - 3600_000 * MS, tags=["xss-check", "<b>bold</b>"], session_id=script_id, reason="done"
    ) as s:
        s.llm(
            "gpt-4o-mini",
            prompt=SCRIPT_PROMPT,
            completion="<script>alert(1)</script> I will not run.",
            system="You are <i>helpful</i>.",
        )
    total += 1
    tagged["xss-check"] = 1
    states[script_id] = "Success"

    # A failing session with a stack trace and a video.
    error_id = str(uuid.uuid4())
    with (
        sender.session(
            now_ns - 2 * 3600_000 * MS,
            tags=["prod", "checkout-agent"],
            end_state="Failure",
            reason="Unhandled TimeoutError in lookup_order",
            video="https://videos.example.com/sessions/checkout-42.mp4",
            session_id=error_id,
        ) as s,
        s.span("checkout flow", sc.KIND_AGENT, ms=15, **{sc.AGENT_NAME: "checkout"}) as agent,
    ):
        s.llm(
            "claude-sonnet-4-20250514",
            parent=agent,
            ms=1800,
            input_tokens=5200,
            output_tokens=640,
            cache_read=4096,
            cache_creation=512,
            prompt="Look up order #4411 and confirm the shipping address.",
            completion="I'll look up the order now.",
            system="You are the checkout assistant.",
        )
        s.tool("lookup_order", parent=agent, ms=5000, fail="order service did not answer within 5 s")
        s.llm(
            "o3-mini",
            parent=agent,
            ms=2600,
            input_tokens=2100,
            output_tokens=900,
            reasoning=640,
            prompt="The order service timed out. What should I tell the customer?",
            completion="Apologise and offer to retry in a few minutes.",
        )
    for tag in ("prod", "checkout-agent"):
        tagged[tag] = tagged.get(tag, 0) + 1
    states[error_id] = "Failure"
    total += 1

    # A session still running: no root span yet, spans keep arriving.
    running_id = str(uuid.uuid4())
    with sender.session(now_ns - 30_000 * MS, tags=["nightly"], end_state=None, session_id=running_id) as s:
        s.llm("gpt-4o", ms=900, prompt="Plan tonight's data migration.")
        s.tool("run_migration", ms=1200)
    states[running_id] = "Running"
    total += 1

    # A session whose process died 3 hours ago: spans, but no root span and nothing since.
    inactive_id = str(uuid.uuid4())
    with sender.session(now_ns - 3 * 3600_000 * MS, end_state=None, session_id=inactive_id) as s:
        s.llm("gpt-4o-mini", ms=700, prompt="Reconcile yesterday's invoices.")
        s.tool("fetch_invoices", ms=300, fail="worker killed")
    states[inactive_id] = "Inactive"
    total += 1
    sender.flush()
    return Showcase(script_id, error_id, running_id, error_id, tagged, total, inactive_id, states, now_ns, empty_day_ns)


def send_bulk(sender: OtlpSessions, now_ns: int, sessions: int = 10_000, big_spans: int = 5_000, seed: int = 11) -> str:
    """`sessions` small sessions over 30 days, one of which has `big_spans` spans; returns its id."""
    rng = random.Random(seed)
    day = 86_400_000 * MS
    big_id = str(uuid.uuid4())
    with sender.session(now_ns - 600_000 * MS, tags=["bulk", "big"], session_id=big_id, reason="5k spans") as s:
        made = 1  # the root
        step = 0
        while made < big_spans:
            step += 1
            with s.span(f"agent step {step}", sc.KIND_AGENT, ms=2) as agent:
                made += 1
                for _ in range(min(98, big_spans - made)):
                    kind = rng.random()
                    if kind < 0.4:
                        s.llm(
                            rng.choice(MODELS),
                            parent=agent,
                            ms=rng.uniform(5, 60),
                            input_tokens=rng.randint(100, 2000),
                            output_tokens=rng.randint(10, 400),
                        )
                    elif kind < 0.8:
                        s.tool(rng.choice(["search", "fetch", "parse"]), parent=agent, ms=rng.uniform(1, 20))
                    else:
                        with s.span("record action", sc.KIND_ACTION, parent=agent, ms=rng.uniform(1, 5)):
                            pass
                    made += 1
    for i in range(sessions - 1):
        start = now_ns - int(rng.uniform(0.001, 30) * day)
        with sender.session(
            start,
            tags=[f"batch-{i % 20}", "bulk"],
            end_state=rng.choice(["Success", "Success", "Failure", "Indeterminate"]),
        ) as s:
            s.llm(
                rng.choice(MODELS),
                ms=rng.uniform(100, 2000),
                input_tokens=rng.randint(100, 5000),
                output_tokens=rng.randint(10, 800),
            )
        if i % 2000 == 1999:
            sender.flush()
    sender.flush()
    return big_id
