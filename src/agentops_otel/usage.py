"""Token usage and cost of an LLM span, read from its attributes.

One home for the rules that turn span attributes (ours, other GenAI instrumentations', older
conventions) into the span contract's ``gen_ai.usage.*`` counts and a cost. The SDK's analytics
and the collector's enrichment both call :func:`normalised_usage` and :func:`span_price`; the OTTL
generator for ``otel-collector.yaml`` mirrors the same rules statement for statement.

Rules, in order:
- each contract count is taken from its current name, else from the first older name present;
- Anthropic reports input tokens *excluding* cache reads and writes. A count for an Anthropic span
  taken from ``gen_ai.usage.prompt_tokens`` (older instrumentations copy Anthropic's own count
  there), or one smaller than its cache tokens, is exclusive: the cache tokens are added so that
  ``gen_ai.usage.input_tokens`` includes them, as the GenAI conventions say. OpenInference's
  ``llm.token_count.prompt`` already includes them (openinference-instrumentation-anthropic sums
  input, cache read and cache creation tokens): it is taken as it is;
- the model priced is the response model, else the request model (else OpenInference's
  ``llm.model_name``); a provider prefix like ``openai/`` is understood;
- a call to a local provider (:data:`agentops_otel.pricing.LOCAL_PROVIDERS`, e.g. Ollama) costs 0,
  with the source ``local`` rather than ``unknown-model``.
- the cost: :func:`span_price` (ours, else the sender's, else unpriced with the reason).
Which spans are LLM calls is :func:`agentops_otel.meaning.classify`'s to say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.pricing import (
    LOCAL_PROVIDERS,
    LOCAL_SOURCE,
    PRICE_SOURCE,
    UNKNOWN_MODEL_SOURCE,
    TokenUsage,
    llm_cost,
)

# agentops.cost.source of an LLM span not priced by genai-prices (PRICE_SOURCE) nor unknown-model
NO_USAGE_SOURCE = "no-usage"  # no token count reported: the cost cannot be known
SENDER_SOURCE = "sender"  # the gen_ai.usage.cost its sender set (our price unknown)
UNPRICED_SOURCES = (NO_USAGE_SOURCE, UNKNOWN_MODEL_SOURCE)

# OTLP int attributes are signed 64-bit: a larger count cannot be written back onto the span.
MAX_COUNT = 2**63 - 1
# contract name -> older names, most common first
TOKEN_ALIASES: dict[str, tuple[str, ...]] = {
    sc.GEN_AI_USAGE_INPUT_TOKENS: (sc.LEGACY_PROMPT_TOKENS, sc.OPENINFERENCE_PROMPT_TOKENS),
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: (sc.LEGACY_COMPLETION_TOKENS, sc.OPENINFERENCE_COMPLETION_TOKENS),
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: (sc.LEGACY_CACHE_READ_TOKENS, sc.OPENINFERENCE_CACHE_READ_TOKENS),
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: (
        sc.LEGACY_CACHE_CREATION_TOKENS,
        sc.OPENINFERENCE_CACHE_WRITE_TOKENS,
    ),
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: (sc.LEGACY_REASONING_TOKENS, sc.OPENINFERENCE_REASONING_TOKENS),
}
# older input-count names that carry Anthropic's count excluding cache tokens
EXCLUSIVE_INPUT_ALIASES = frozenset({sc.LEGACY_PROMPT_TOKENS})
# contract name -> every name it may be read from, in order (the contract's own first)
_TOKEN_KEYS = tuple((name, (name, *aliases)) for name, aliases in TOKEN_ALIASES.items())
PROVIDER_KEYS = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.OPENINFERENCE_PROVIDER)
MODEL_KEYS = (sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL, sc.OPENINFERENCE_MODEL_NAME)


def _as_int(value: Any) -> int | None:
    """A token count as an int, or None when it is not one that fits a signed 64-bit attribute."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            return None
    else:
        return None
    return number if -MAX_COUNT - 1 <= number <= MAX_COUNT else None


def _first_str(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def llm_provider(attrs: Mapping[str, Any]) -> str | None:
    return _first_str(attrs, PROVIDER_KEYS)


def llm_model(attrs: Mapping[str, Any]) -> str | None:
    return _first_str(attrs, MODEL_KEYS)


def normalised_usage(attrs: Mapping[str, Any]) -> dict[str, int]:
    """The contract's ``gen_ai.usage.*`` counts for a span (only those it reports)."""
    found: dict[str, int] = {}
    input_key = None
    for name, keys in _TOKEN_KEYS:
        for key in keys:
            value = attrs.get(key)
            if value is None:
                continue
            value = _as_int(value)
            if value is not None and value >= 0:
                found[name] = value
                if name == sc.GEN_AI_USAGE_INPUT_TOKENS:
                    input_key = key
                break
    input_tokens = found.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    if input_tokens is not None and (llm_provider(attrs) or "").lower() == sc.PROVIDER_ANTHROPIC:
        cached = found.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) + found.get(
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, 0
        )
        exclusive = input_key in EXCLUSIVE_INPUT_ALIASES or input_tokens < cached
        if exclusive and input_tokens + cached <= MAX_COUNT:
            found[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens + cached
    return found


def token_usage(usage: Mapping[str, int]) -> TokenUsage:
    """A :class:`TokenUsage` from :func:`normalised_usage` output."""
    return TokenUsage(
        input_tokens=usage.get(sc.GEN_AI_USAGE_INPUT_TOKENS, 0),
        output_tokens=usage.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 0),
        cache_read_tokens=usage.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0),
        cache_write_tokens=usage.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, 0),
        reasoning_tokens=usage.get(sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 0),
    )


def sender_cost(attrs: Mapping[str, Any]) -> Decimal | None:
    """The ``gen_ai.usage.cost`` a sender set (OpenLIT does), when it is a finite positive number: a
    zero is what OpenLIT sets for a model it has no price for, not a price."""
    value = attrs.get(sc.GEN_AI_USAGE_COST)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


@dataclass(frozen=True)
class SpanPrice:
    """An LLM span's cost and why: ``total`` is None when it cannot be known (the call is *unpriced*)."""

    total: Decimal | None
    input: Decimal | None  # None also when the sender's total was taken: it has no split
    output: Decimal | None
    source: str  # agentops.cost.source

    @property
    def unpriced(self) -> bool:
        return self.total is None


def span_price(attrs: Mapping[str, Any], usage: Mapping[str, int] | None = None) -> SpanPrice:
    """The cost of an LLM span, by the one rule for every collector and the SDK's analytics:

    0. a call to a local provider (:data:`agentops_otel.pricing.LOCAL_PROVIDERS`, e.g. Ollama) costs 0
       (source ``local``);
    1. with usage (an input or output count) and a known model: our price (``genai-prices ...``);
    2. otherwise, the ``gen_ai.usage.cost`` the sender set, if it is a finite positive number
       (source ``sender``; a zero means the sender had no price either);
    3. otherwise unpriced: source ``no-usage`` when the span reports no token count (an OpenAI stream
       without ``stream_options.include_usage``, a failed call), else ``unknown-model``.

    A cost the sender set is never summed on top of ours; collectors keep it visible as
    ``agentops.cost.sender``.
    """
    provider = llm_provider(attrs)
    if provider is not None and provider.lower() in LOCAL_PROVIDERS:
        return SpanPrice(Decimal(0), Decimal(0), Decimal(0), LOCAL_SOURCE)
    if usage is None:
        usage = normalised_usage(attrs)
    has_usage = sc.GEN_AI_USAGE_INPUT_TOKENS in usage or sc.GEN_AI_USAGE_OUTPUT_TOKENS in usage
    if has_usage:
        cost = llm_cost(llm_model(attrs), provider, token_usage(usage))
        if cost is not None:
            return SpanPrice(cost.total, cost.input, cost.output, PRICE_SOURCE)
    sent = sender_cost(attrs)
    if sent is not None:
        return SpanPrice(sent, None, None, SENDER_SOURCE)
    return SpanPrice(None, None, None, UNKNOWN_MODEL_SOURCE if has_usage else NO_USAGE_SOURCE)
