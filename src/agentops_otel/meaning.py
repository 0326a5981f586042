"""What a span means: its kind, its session's state, the session's totals and their JSON.

One pure module (no I/O, no OpenTelemetry SDK or protobuf types: plain attribute mappings and
small records) shared by the SDK's analytics, the collector's ingest and rollups, the REST shapes
and every store, so that a span counts the same wherever it is counted. A new store (ClickHouse,
...) keeps per session the columns of :class:`SessionRow`, adds spans with :class:`SessionTotals`
(or the same sums in SQL), and answers REST with :func:`summary_json`, :func:`export_json` and
:func:`overview_json` (its totals and buckets added up from hourly sums by :func:`overview_sums`).

**Kinds** (:func:`classify`), first rule that applies:

1. ``agentops.span.kind`` (ours): ``session``, ``llm``, ``action``, ``tool``, ``error``, ``agent``;
2. ``gen_ai.operation.name`` (OpenTelemetry GenAI conventions: the official instrumentations,
   OpenLIT, newer OpenLLMetry): ``chat``, ``text_completion``, ``embeddings``,
   ``generate_content`` → llm; ``execute_tool`` → tool; ``invoke_agent``, ``create_agent`` → agent;
3. ``openinference.span.kind``: ``LLM``, ``EMBEDDING`` → llm; ``TOOL`` → tool; ``AGENT`` → agent;
   ``CHAIN``, ``RETRIEVER``, ``RERANKER``, ``GUARDRAIL``, ``EVALUATOR``, ``PROMPT`` → other (a chain
   carrying its calls' token counts is not one more call);
4. ``traceloop.span.kind`` (OpenLLMetry decorators): ``task`` → action; ``tool`` → tool;
   ``agent`` → agent; ``workflow`` → other;
5. ``llm.request.type`` (older OpenLLMetry): ``chat``, ``completion``, ``embedding`` → llm;
6. a model name and a token count (any convention :mod:`agentops_otel.usage` reads) → llm;

else None ("other": HTTP spans, ...). A value a rule does not know (``rerank``) leaves the span to the next rule.

**Counting**: every span but our session root is an event; llm spans are LLM calls (with or
without usage), tool spans tool calls, action spans actions; errors are spans with status ERROR
other than our session root. An LLM call whose cost cannot be known
(:func:`agentops_otel.usage.span_price`: no usage, unknown model) counts as *unpriced*, and a
session holding one has a partial cost.

**States**: a session is *ended* when its root arrived: our session root span, or, for a trace
without one (zero-code, another instrumentation, another language), its local root (a span
without parent, or whose parent is remote: a caller that propagated its trace context, as OTLP's
span flags say; spans are sent when they end). Its end state is the root's
``agentops.session.end_state``, or for a local root its status: OK → Success, ERROR → Failure,
else Indeterminate. Not ended, a session is *Running* while a span ended within
:data:`INACTIVE_AFTER_NS`, else *Inactive* (its process most likely died). :data:`STATES` are the
words REST's ``state`` field, its ``end_state`` filter and the dashboard use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from functools import reduce
from typing import Any, NamedTuple

from agentops_otel import semconv as sc
from agentops_otel.usage import MAX_COUNT, MODEL_KEYS, TOKEN_ALIASES, llm_model

KIND_SESSION, KIND_LLM, KIND_ACTION, KIND_TOOL, KIND_ERROR, KIND_AGENT = (
    sc.KIND_SESSION,
    sc.KIND_LLM,
    sc.KIND_ACTION,
    sc.KIND_TOOL,
    sc.KIND_ERROR,
    sc.KIND_AGENT,
)
_BY_OPERATION = {
    sc.OP_CHAT: KIND_LLM,
    sc.OP_TEXT_COMPLETION: KIND_LLM,
    sc.OP_EMBEDDINGS: KIND_LLM,
    sc.OP_GENERATE_CONTENT: KIND_LLM,
    sc.OP_EXECUTE_TOOL: KIND_TOOL,
    sc.OP_INVOKE_AGENT: KIND_AGENT,
    sc.OP_CREATE_AGENT: KIND_AGENT,
}
OTHER = ""  # in a rule's table: the span is of a kind we do not count, whatever the later rules say
_BY_OPENINFERENCE = {
    "LLM": KIND_LLM,
    "EMBEDDING": KIND_LLM,
    "TOOL": KIND_TOOL,
    "AGENT": KIND_AGENT,
    **dict.fromkeys(("CHAIN", "RETRIEVER", "RERANKER", "GUARDRAIL", "EVALUATOR", "PROMPT"), OTHER),
}
_BY_TRACELOOP = {"task": KIND_ACTION, "tool": KIND_TOOL, "agent": KIND_AGENT, "workflow": OTHER}
_BY_REQUEST_TYPE = {"chat": KIND_LLM, "completion": KIND_LLM, "embedding": KIND_LLM}
_TOKEN_KEYS = frozenset(key for name, aliases in TOKEN_ALIASES.items() for key in (name, *aliases))
_MODEL_KEYS = frozenset(MODEL_KEYS)
# The rules after our own attribute, in order: attribute -> its values' kinds (other values: next rule)
KIND_RULES: tuple[tuple[str, Mapping[str, str]], ...] = (
    (sc.SPAN_KIND, {kind: kind for kind in sc.SPAN_KINDS}),
    (sc.GEN_AI_OPERATION_NAME, _BY_OPERATION),
    (sc.OPENINFERENCE_SPAN_KIND, _BY_OPENINFERENCE),
    (sc.TRACELOOP_SPAN_KIND, _BY_TRACELOOP),
    (sc.LEGACY_LLM_REQUEST_TYPE, _BY_REQUEST_TYPE),
)
# Every attribute classify() reads: a store may convert only these from its wire format.
CLASSIFY_KEYS: frozenset[str] = frozenset(k for k, _ in KIND_RULES) | _TOKEN_KEYS | _MODEL_KEYS


def span_attributes(span: Any) -> Mapping[str, Any]:
    """An SDK span's attributes, for reading (not to keep: a live span's may still change).
    ``span.attributes`` is a read-only view of the SDK's own mapping class, whose every read runs
    Python code (and raises inside for an absent key); the plain dict it keeps them in is read
    directly when there is one."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner
    return span.attributes or {}


def classify(attrs: Mapping[str, Any]) -> str | None:
    """The kind of a span from its attributes (see the module's rules), None for "other"."""
    for key, table in KIND_RULES:
        value = attrs.get(key)
        if isinstance(value, str):
            kind = table.get(value)
            if kind is not None:
                return kind or None
    if llm_model(attrs) is not None and not _TOKEN_KEYS.isdisjoint(attrs):
        return KIND_LLM
    return None


def is_llm_span(attrs: Mapping[str, Any]) -> bool:
    """Whether a span describes an LLM call (ours, or any GenAI / OpenInference / OpenLLMetry one)."""
    return classify(attrs) == KIND_LLM


# --- end states and session states -------------------------------------------------------------

SUCCESS, FAILURE, INDETERMINATE = "Success", "Failure", "Indeterminate"
RUNNING, INACTIVE = "Running", "Inactive"
END_STATES = (SUCCESS, FAILURE, INDETERMINATE)
STATES = (*END_STATES, RUNNING, INACTIVE)  # a session's state: its end state once ended
# Accepted on input (the AgentOps alias Fail too); anything else reads as Indeterminate.
END_STATE_NAMES = {SUCCESS: SUCCESS, FAILURE: FAILURE, "Fail": FAILURE, INDETERMINATE: INDETERMINATE}
INACTIVE_AFTER_NS = 3600 * 10**9  # not ended and no span for longer: Inactive
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2  # OpenTelemetry status codes (OTLP numbering)
_END_STATE_OF_STATUS = {STATUS_OK: SUCCESS, STATUS_ERROR: FAILURE}


def end_state_name(value: Any) -> str:
    """A sent ``agentops.session.end_state`` in its canonical spelling (unknown: Indeterminate)."""
    return END_STATE_NAMES.get(value, INDETERMINATE) if isinstance(value, str) else INDETERMINATE


def end_state_of_status(status_code: int) -> str:
    """The end state a local root span's status gives its session: OK → Success, ERROR → Failure."""
    return _END_STATE_OF_STATUS.get(status_code, INDETERMINATE)


# OTLP span flags (trace.proto): bit 8 says whether bit 9, "the parent is remote", is known.
_PARENT_IS_REMOTE_KNOWN = 0x100
_PARENT_IS_REMOTE = 0x200


def has_local_parent(parent_span_id: bytes, flags: int) -> bool:
    """True when a span's parent ran in the same process: a span without one, or whose parent is
    remote (the sender says so in its flags), is a local root. Senders that leave the flags unset
    (older SDKs) have every parent taken as local."""
    if not parent_span_id:
        return False
    known_remote = _PARENT_IS_REMOTE_KNOWN | _PARENT_IS_REMOTE
    return flags & known_remote != known_remote


class RootInfo(NamedTuple):
    """What a session's root span says about how it ended."""

    end_state: str
    end_state_reason: str | None
    tags: list[str]
    video: str | None
    ours: bool  # our session root (always wins over another trace's local root)


def root_info(kind: str | None, attrs: Mapping[str, Any], has_parent: bool, status_code: int, status_message: str):
    """The :class:`RootInfo` a span gives its session, or None when it is not the session's root.

    ``attrs`` needs only the ``agentops.session.*`` attributes of our root.
    """
    if kind == KIND_SESSION:
        tags = attrs.get(sc.SESSION_TAGS)
        if isinstance(tags, str):
            tags = [tags]
        reason = attrs.get(sc.SESSION_END_STATE_REASON)
        video = attrs.get(sc.SESSION_VIDEO)
        return RootInfo(
            end_state_name(attrs.get(sc.SESSION_END_STATE)),
            reason if isinstance(reason, str) else None,
            [str(t) for t in tags] if isinstance(tags, (list, tuple)) else [],
            video if isinstance(video, str) else None,
            True,
        )
    if not has_parent:
        return RootInfo(end_state_of_status(status_code), status_message or None, [], None, False)
    return None


ROOT_KEYS = frozenset({sc.SESSION_END_STATE, sc.SESSION_END_STATE_REASON, sc.SESSION_TAGS, sc.SESSION_VIDEO})


def session_state(ended: bool, end_state: str | None, last_ns: int, now_ns: int) -> str:
    """Running, Inactive, or the end state of an ended session."""
    if ended:
        return end_state or INDETERMINATE
    return RUNNING if last_ns >= now_ns - INACTIVE_AFTER_NS else INACTIVE


# --- totals --------------------------------------------------------------------------------------

MONEY_CONTEXT = Context(prec=80)  # wide enough that sums of per-token prices are never rounded
COUNTED_KINDS = {KIND_LLM: "llm_calls", KIND_TOOL: "tool_calls", KIND_ACTION: "actions"}
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens")
# gen_ai.usage.* names in TOKEN_FIELDS' order: a span's usage as a tuple
USAGE_KEYS = (
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
NO_USAGE = (0, 0, 0, 0, 0)


def usage_tuple(usage: Mapping[str, int]) -> tuple[int, int, int, int, int]:
    return tuple(usage.get(key, 0) for key in USAGE_KEYS)  # type: ignore[return-value]


def is_error(kind: str | None, status_code: int) -> bool:
    return status_code == STATUS_ERROR and kind != KIND_SESSION


def money(value: Decimal | str | None) -> str:
    """A cost as a decimal string without exponent or trailing zeros: ``'0.00000015'``, ``'0'``."""
    if value is None:
        return "0"
    number = value if isinstance(value, Decimal) else Decimal(value)
    if number.is_zero():
        return "0"
    return format(number.normalize(MONEY_CONTEXT), "f")


class SessionTotals:
    """A session's counts, tokens and cost, added span by span (any order, each span once).

    Counting (:meth:`count`) and pricing (:meth:`price`) are separate so that the SDK can count on
    the application's thread and price later in its export thread; :meth:`add` does both.
    """

    __slots__ = (
        "actions",
        "cache_creation_tokens",
        "cache_read_tokens",
        "completion_tokens",
        "cost",
        "errors",
        "events",
        "llm_calls",
        "prompt_tokens",
        "reasoning_tokens",
        "tool_calls",
        "unpriced_llm_calls",
    )

    def __init__(self) -> None:
        self.events = self.llm_calls = self.tool_calls = self.actions = self.errors = 0
        self.unpriced_llm_calls = 0
        self.prompt_tokens = self.completion_tokens = self.cache_read_tokens = 0
        self.cache_creation_tokens = self.reasoning_tokens = 0
        self.cost = Decimal(0)

    def count(self, kind: str | None, status_code: int) -> None:
        if kind == KIND_SESSION:
            return
        self.events += 1
        if kind == KIND_LLM:
            self.llm_calls += 1
        elif kind == KIND_TOOL:
            self.tool_calls += 1
        elif kind == KIND_ACTION:
            self.actions += 1
        if status_code == STATUS_ERROR:
            self.errors += 1

    def price(self, usage: Sequence[int], cost: Decimal | None) -> None:
        """An LLM call's usage (:data:`USAGE_KEYS` order) and cost (None: unpriced)."""
        self.prompt_tokens += usage[0]
        self.completion_tokens += usage[1]
        self.cache_read_tokens += usage[2]
        self.cache_creation_tokens += usage[3]
        self.reasoning_tokens += usage[4]
        if cost is None:
            self.unpriced_llm_calls += 1
        else:
            self.cost = MONEY_CONTEXT.add(self.cost, cost)

    def add(self, kind: str | None, status_code: int, usage: Sequence[int] = NO_USAGE, cost: Decimal | None = None):
        self.count(kind, status_code)
        if kind == KIND_LLM:
            self.price(usage, cost)

    def counts(self) -> dict[str, int]:
        """The summed fields (saturated at int64, as stores keep them)."""
        return {name: min(getattr(self, name), MAX_COUNT) for name in SUMMED_FIELDS}


# What a store sums per session, in this order (SQL columns of the same names).
SUMMED_FIELDS = ("llm_calls", "tool_calls", "actions", "errors", "events", *TOKEN_FIELDS, "unpriced_llm_calls")


# --- JSON shapes ---------------------------------------------------------------------------------


class SessionRow(NamedTuple):
    """What a store keeps per session, as :func:`summary_json` reads it."""

    session_id: str
    project_id: str
    init_ns: int
    last_ns: int
    end_ns: int | None
    duration_ns: int
    ended: bool
    end_state: str | None
    end_state_reason: str | None
    tags: list[str]
    counts: Mapping[str, int]  # SUMMED_FIELDS
    cost: str  # money()
    models: list[str]


def summary_json(row: SessionRow, now_ns: int, iso) -> dict[str, Any]:
    """A session's stats as REST returns them (``/stats``, list items, export's ``stats``).

    ``state`` is one of :data:`STATES`; ``end_state`` is None until the session ended; ``cost`` is
    partial (``cost_partial``) when ``unpriced_llm_calls`` is not zero. ``iso`` formats a time in ns.
    """
    summary: dict[str, Any] = {
        "session_id": row.session_id,
        "project_id": row.project_id,
        "init_timestamp": iso(row.init_ns),
        "end_timestamp": iso(row.end_ns),
        "last_activity_timestamp": iso(row.last_ns),
        "duration_s": row.duration_ns / 1e9,
        "state": session_state(row.ended, row.end_state, row.last_ns, now_ns),
        "end_state": row.end_state if row.ended else None,
        "end_state_reason": row.end_state_reason if row.ended else None,
        "in_progress": not row.ended,
        "tags": row.tags,
    }
    for name in SUMMED_FIELDS:
        summary[name] = row.counts[name]
    summary["cost"] = row.cost
    summary["cost_partial"] = row.counts["unpriced_llm_calls"] > 0
    summary["models"] = row.models
    return summary


EXPORT_SESSION_KEYS = (
    "session_id",
    "project_id",
    "init_timestamp",
    "end_timestamp",
    "state",
    "end_state",
    "end_state_reason",
    "tags",
)


def export_json(
    stats: dict[str, Any], host_env: Mapping[str, Any], video: str | None, spans: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    """A session's export: ``session``, ``stats``, events grouped by kind and every span.

    Each span dict carries ``kind`` (:func:`classify`) and ``status_code`` (``"ERROR"``, ...).
    """
    session = {key: stats[key] for key in EXPORT_SESSION_KEYS}
    session["host_env"] = dict(host_env)
    session["video"] = video
    grouped: dict[str, list] = {"actions": [], "llms": [], "tools": [], "agents": [], "errors": []}
    every = []
    for span in spans:
        every.append(span)
        kind = span["kind"]
        if kind == KIND_LLM:
            grouped["llms"].append(span)
        elif kind == KIND_ACTION:
            grouped["actions"].append(span)
        elif kind == KIND_TOOL:
            grouped["tools"].append(span)
        elif kind == KIND_AGENT:
            grouped["agents"].append(span)
        if kind == KIND_ERROR or (span["status_code"] == "ERROR" and kind != KIND_SESSION):
            grouped["errors"].append(span)
    return {"session": session, "stats": stats, **grouped, "spans": every}


# --- the overview ----------------------------------------------------------------------------------

HOUR_NS = 3600 * 10**9
BUCKETS_NS = {"hour": HOUR_NS, "day": 24 * HOUR_NS}  # the overview's bucket widths


class OverviewTotals(NamedTuple):
    """The overview's sums over the sessions started in its window (:func:`overview_sums`)."""

    sessions: int
    llm_calls: int
    errors: int  # error spans
    cost: Decimal | str | None  # an exact decimal in any spelling; None (no sessions) is 0
    prompt_tokens: int
    completion_tokens: int
    failed_sessions: int  # ended Failure or holding an error span
    first_init_ns: int | None
    last_init_ns: int | None


def overview_bucket(asked: str | None, totals: OverviewTotals) -> str:
    """The bucket asked for, else hours for up to two days of data, else days."""
    if asked is not None:
        return asked
    span_ns = (totals.last_init_ns - totals.first_init_ns) if totals.sessions else 0
    return "hour" if span_ns <= 2 * BUCKETS_NS["day"] else "day"


# The sums over the overview's sessions that started in one hour (a store's query, by hour): the
# hour's start (init_ns truncated toward zero, as SQL's integer division does), sessions, cost (an
# exact Decimal, never rounded: as EXACT adds), LLM calls, error spans, prompt tokens, completion
# tokens, failed sessions, first and last init_ns. A plain tuple: stores make one per hour.
OverviewHour = tuple[int, int, Decimal, int, int, int, int, int, int, int]


def saturated(count: int) -> int:
    """A sum of counts clamped to int64, as the per-session columns it adds up saturate."""
    return max(min(count, MAX_COUNT), -MAX_COUNT - 1)


# Adds costs without rounding: the overview's costs are exact sums rounded once (to MONEY_CONTEXT), whatever
# the order of their hours and wherever each hour's cost came from (integer units or decimal text).
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _bucket_start(hour_start_ns: int, width: int) -> int:
    """The start of the bucket of ``width`` holding an hour, as SQL's ``init_ns / width * width``
    says: rounded toward zero (an hour before 1970 belongs to the bucket nearer 1970)."""
    whole = abs(hour_start_ns) // width
    return (whole if hour_start_ns >= 0 else -whole) * width


def overview_sums(hours: Sequence[OverviewHour], bucket: str | None) -> tuple[OverviewTotals, str, list[tuple]]:
    """The overview's totals, its bucket (:func:`overview_bucket`, ``bucket`` when one is asked) and
    bucket rows (as :func:`overview_json` reads them) from its hours: costs add up exactly, counts
    saturate like the columns they add up, each bucket holds the hours its start truncates to."""
    if not hours:
        totals = OverviewTotals(0, 0, 0, Decimal(0), 0, 0, 0, None, None)
        return totals, overview_bucket(bucket, totals), []
    _, sessions, costs, calls, error_spans, prompts, completions, failures, firsts, lasts = zip(*hours, strict=True)
    totals = OverviewTotals(
        sum(sessions),
        saturated(sum(calls)),
        saturated(sum(error_spans)),
        MONEY_CONTEXT.plus(reduce(EXACT.add, costs)),
        saturated(sum(prompts)),
        saturated(sum(completions)),
        sum(failures),
        min(firsts),
        max(lasts),
    )
    bucket = overview_bucket(bucket, totals)
    width = BUCKETS_NS[bucket]
    by_start: dict[int, list] = {}  # start -> [sessions, cost, prompt, completion, error spans, failed]
    for start_ns, n, cost, _, errors, prompt, completion, failed, _, _ in hours:
        start = _bucket_start(start_ns, width)
        sums = by_start.get(start)
        if sums is None:
            by_start[start] = [n, cost, prompt, completion, errors, failed]
        else:
            sums[0] += n
            sums[1] = EXACT.add(sums[1], cost)
            sums[2] += prompt
            sums[3] += completion
            sums[4] += errors
            sums[5] += failed
    rows = [
        (start, n, MONEY_CONTEXT.plus(cost), saturated(prompt), saturated(completion), saturated(errors), failed)
        for start, (n, cost, prompt, completion, errors, failed) in sorted(by_start.items())
    ]
    return totals, bucket, rows


def overview_json(
    totals: OverviewTotals,
    bucket: str,
    buckets: Iterable[Sequence[Any]],
    by_model: Iterable[Sequence[Any]],
    top_sessions: list[dict[str, Any]],
    iso,
) -> dict[str, Any]:
    """REST's ``/v2/overview``: totals, buckets of sessions by start, cost by model, top sessions.

    ``buckets`` rows are (start ns, sessions, cost, prompt tokens, completion tokens, error spans,
    failed sessions), in time order; ``by_model`` rows (model, calls, cost, prompt tokens,
    completion tokens) are over the same sessions, so their costs add up to the total; costs are
    exact decimals in any spelling; ``top_sessions`` are :func:`summary_json` dicts.
    """
    models = [
        {"model": model, "calls": calls, "cost": money(cost), "prompt_tokens": prompt, "completion_tokens": completion}
        for model, calls, cost, prompt, completion in by_model
    ]
    models.sort(key=lambda m: (-Decimal(m["cost"]), m["model"]))
    sessions = totals.sessions
    return {
        "totals": {
            "sessions": sessions,
            "llm_calls": totals.llm_calls,
            "errors": totals.errors,
            "cost": money(totals.cost) if sessions else "0",
            "prompt_tokens": totals.prompt_tokens,
            "completion_tokens": totals.completion_tokens,
            "failed_sessions": totals.failed_sessions,
        },
        "error_rate": totals.failed_sessions / sessions if sessions else 0.0,
        "bucket": bucket,
        "buckets": [
            {
                "start": iso(start),
                "sessions": count,
                "cost": money(cost),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "errors": errors,  # error spans
                "failed_sessions": failed,
                "error_rate": failed / count,  # as the headline error_rate, for this bucket's sessions
            }
            for start, count, cost, prompt, completion, errors, failed in buckets
        ],
        "cost_by_model": models,
        "top_sessions": top_sessions,
    }
