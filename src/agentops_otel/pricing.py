"""Cost of LLM usage in USD, from genai-prices' bundled data (no network).

One source of prices for the whole project: the SDK's analytics, the collector's enrichment and
the OTTL generator behind ``otel-collector.yaml`` all use :func:`rates_for` and :func:`cost_of`.

A genai-prices lookup costs 150-250 µs, so the resolved per-model rates are cached and a cost
afterwards is a few multiplications. Token counts follow the GenAI conventions: ``input_tokens``
*includes* cache reads and cache writes, ``output_tokens`` includes reasoning tokens.
Prices are "cliff" tiered as in genai-prices: past a tier's threshold of total input tokens, the
tier's price applies to all tokens of that kind.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal

import genai_prices
from genai_prices import Usage as _PricesUsage
from genai_prices import calc_price as _calc_price
from genai_prices.types import TieredPrices as _TieredPrices

try:  # genai-prices' private internals, only to bound its memos (_bound_genai_prices_caches)
    from genai_prices.data_snapshot import get_snapshot as _get_snapshot
except ImportError:  # a version laid out otherwise: its memos are left alone
    _get_snapshot = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

PRICE_SOURCE = f"genai-prices {genai_prices.__version__}"
UNKNOWN_MODEL_SOURCE = "unknown-model"
# Providers whose models run on the user's own machine: their calls cost nothing, said as this source.
LOCAL_SOURCE = "local"
LOCAL_PROVIDERS = frozenset({"ollama"})
_PER_MTOK = Decimal(1_000_000)

# gen_ai.provider.name (and older gen_ai.system) values -> genai-prices provider ids
_PROVIDER_IDS = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure": "azure",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "google": "google",
    "mistral_ai": "mistral",
    "mistral": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "perplexity": "perplexity",
    "cohere": "cohere",
}
# The provider names above, for code that must mirror rates_for's provider handling (the OTTL generator).
PROVIDER_NAMES: tuple[str, ...] = tuple(_PROVIDER_IDS)


@dataclass(frozen=True)
class Rate:
    """USD per token, with optional cliff tiers ``((threshold, usd_per_token), ...)`` ascending."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...] = ()

    def at(self, total_input_tokens: int) -> Decimal:
        for start, price in reversed(self.tiers):
            if total_input_tokens > start:
                return price
        return self.base


@dataclass(frozen=True)
class ModelRates:
    """Resolved per-token rates for one model of one provider."""

    provider: str  # genai-prices provider id
    model: str  # genai-prices model id (dated and aliased names resolve to it)
    input: Rate
    output: Rate
    cache_read: Rate  # same as input when the provider has no cache discount
    cache_write: Rate


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one LLM call, GenAI style (input includes cache, output includes reasoning)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Cost:
    input: Decimal
    output: Decimal

    @property
    def total(self) -> Decimal:
        return self.input + self.output


def provider_id(provider: str | None) -> str | None:
    """Map a ``gen_ai.provider.name`` value to a genai-prices provider id (None if unknown)."""
    if not provider:
        return None
    return _PROVIDER_IDS.get(provider.lower(), provider.lower())


# A Bedrock ARN naming a foundation model or a system inference profile (any partition, region and
# account): priced as the id after the slash. An application inference profile's id is opaque: unpriced.
BEDROCK_ARN_PREFIX = r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]*:[0-9]*:(?:inference-profile|foundation-model)/"
_BEDROCK_ARN = re.compile(BEDROCK_ARN_PREFIX, re.IGNORECASE)


def split_model_ref(model: str, provider: str | None = None) -> tuple[str, str | None]:
    """Strip a provider prefix such as ``openai/gpt-4o`` (the prefix becomes the provider), or the ARN
    around a Bedrock model id."""
    if model[:4].lower() == "arn:":
        return _BEDROCK_ARN.sub("", model, count=1), provider
    prefix, sep, rest = model.partition("/")
    if sep and rest and prefix.lower() in _PROVIDER_IDS:
        return rest, provider or prefix
    return model, provider


def _rate(value: Decimal | _TieredPrices | None, fallback: Rate | None = None) -> Rate:
    if value is None:
        return fallback if fallback is not None else Rate(Decimal(0))
    if isinstance(value, _TieredPrices):
        return Rate(
            value.base / _PER_MTOK,
            tuple((int(t.start), t.price / _PER_MTOK) for t in value.tiers),
        )
    return Rate(Decimal(value) / _PER_MTOK)


# Model names come from clients, so anything kept per name is bounded: a client inventing names
# costs lookups, not memory. Each cache keeps this many of the most recently used names.
NAME_CACHE_SIZE = 4096


class _RecentKeys:
    """A thread-safe set of the ``NAME_CACHE_SIZE`` most recently used keys."""

    def __init__(self) -> None:
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        if key not in self._keys:  # the common answer, without the lock (a dict read is atomic)
            return False
        with self._lock:
            if key not in self._keys:
                return False
            self._keys.move_to_end(key)
            return True

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; True when it was not remembered yet."""
        with self._lock:
            new = key not in self._keys
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > NAME_CACHE_SIZE:
                self._keys.popitem(last=False)
            return new

    def __len__(self) -> int:
        return len(self._keys)


class _NoPrice(LookupError):
    """genai-prices has no price for the name (raised, so lru_cache keeps only priced names)."""


# Names without a price, kept apart so that a flood of them never evicts the priced names' rates.
_unpriced = _RecentKeys()


def rates_for(model: str | None, provider: str | None = None) -> ModelRates | None:
    """Rates for ``model`` (request or response model name), or None when genai-prices has none."""
    if not model or (model, provider) in _unpriced:
        return None
    try:
        return _priced_rates(model, provider)
    except _NoPrice:
        _unpriced.add((model, provider))
        return None


def _bound_genai_prices_caches() -> None:
    """genai-prices (0.2.x) memoises every name it is asked about, unbounded: empty its memos when large.

    Those are its private internals: in a version without them, or with others, nothing is trimmed
    and nothing fails.
    """
    if _get_snapshot is None:
        return
    try:
        snapshot = _get_snapshot()
        for memo in ("_lookup_cache", "_provider_cache", "_provider_misses"):
            entries = getattr(snapshot, memo, None)
            if isinstance(entries, (dict, set)) and len(entries) > NAME_CACHE_SIZE:
                entries.clear()
    except Exception:  # internals changed: prices are still looked up, just not trimmed
        pass


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def _priced_rates(model: str, provider: str | None) -> ModelRates:
    _bound_genai_prices_caches()  # only here: a name's first lookup, the only one reaching genai-prices
    model_ref, provider = split_model_ref(model, provider)
    pid = provider_id(provider)
    try:
        found = _calc_price(_PricesUsage(input_tokens=0, output_tokens=0), model_ref, provider_id=pid)
    except LookupError:
        if pid is None:
            raise _NoPrice(model) from None
        try:  # an unfamiliar provider name, or a model genai-prices files under another one
            found = _calc_price(_PricesUsage(input_tokens=0, output_tokens=0), model_ref)
        except LookupError:
            raise _NoPrice(model) from None
    prices = found.model_price
    input_rate = _rate(prices.input_mtok)
    return ModelRates(
        provider=found.provider.id,
        model=found.model.id,
        input=input_rate,
        output=_rate(prices.output_mtok),
        cache_read=_rate(prices.cache_read_mtok, input_rate),
        cache_write=_rate(prices.cache_write_mtok, input_rate),
    )


def cost_of(usage: TokenUsage, rates: ModelRates) -> Cost:
    """Cost of ``usage`` at ``rates``; cache tokens are carved out of input tokens."""
    total_in = usage.input_tokens
    cache_read = min(usage.cache_read_tokens, total_in)
    cache_write = min(usage.cache_write_tokens, total_in - cache_read)
    uncached = total_in - cache_read - cache_write
    input_cost = (
        uncached * rates.input.at(total_in)
        + cache_read * rates.cache_read.at(total_in)
        + cache_write * rates.cache_write.at(total_in)
    )
    return Cost(input=input_cost, output=usage.output_tokens * rates.output.at(total_in))


# Unknown models already warned about (bounded too: one forgotten long ago may warn again).
_warned_models = _RecentKeys()


def llm_cost(model: str | None, provider: str | None, usage: TokenUsage) -> Cost | None:
    """Cost of one LLM call, or None (with one warning per model) when the model is unknown."""
    rates = rates_for(model, provider)
    if rates is None:
        if _warned_models.add((model, provider)):
            logger.warning(
                "agentops-otel: no price known for model %r (provider %r); cost counted as 0", model, provider
            )
        return None
    return cost_of(usage, rates)
