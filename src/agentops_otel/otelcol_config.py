"""Generates ``otel-collector.yaml``: the upstream OpenTelemetry Collector computing our cost and tokens.

The file's ``transform`` processor runs OTTL generated here from the project's one source of each
rule, so it writes the same attributes as the agentops-otel collector's enrichment
(:func:`agentops_otel.collector.enrich.enrich_attributes`):

- token counts: :data:`agentops_otel.usage.TOKEN_ALIASES` (current name, else the first older name
  holding a non-negative integer, an integral double or a decimal string that fits int64,
  :data:`agentops_otel.usage.MAX_COUNT`), and the Anthropic exclusive-count correction of
  :func:`agentops_otel.usage.normalised_usage` (for a count from
  :data:`agentops_otel.usage.EXCLUSIVE_INPUT_ALIASES` or one below its cache tokens, skipped when
  the sum would pass int64);
- the model priced: response model, else request model, else ``llm.model_name``; a provider prefix
  such as ``openai/`` is understood; provider names as :func:`agentops_otel.pricing.rates_for` reads them,
  a name genai-prices has no id for included (matched by its ``provider_match`` clauses, else priced
  as if no provider were named: ``litellm``, ``my-proxy``);
- prices: :func:`agentops_otel.pricing.rates_for` for the models of :data:`CURATED_MODELS`, and the
  cost formula of :func:`agentops_otel.pricing.cost_of` (cache carve-out, cliff tiers on total input).

Only LLM spans (:func:`agentops_otel.meaning.is_llm_span`) are touched. The cost follows
:func:`agentops_otel.usage.span_price`: a ``gen_ai.usage.cost`` the sender set is kept as
``agentops.cost.sender`` and used only where we have no price and it is above zero
(``agentops.cost.source = "sender"``);
a span without usage gets ``"no-usage"`` and one whose model is not curated ``"unknown-model"``,
and no cost, as the Python collector does; a call to a local provider (Ollama) costs 0 with
``agentops.cost.source = "local"``. Known differences from the Python rules, all on malformed
input: token strings with spaces, underscores or non-ASCII digits (which Python's ``int()`` accepts)
are not read as numbers here; a model name led by a provider prefix pricing.py does not strip
(``x-ai/grok-3``) is not curated; an infinite sender cost is taken here (Python ignores it); the
Python collector also moves a sent cost off spans that are not LLM calls, which pass here unchanged.

Every name listed is priced with each provider name ``rates_for`` prices it for, at that
provider's price (the price compared, not genai-prices' provider and model ids: Azure's gpt-4o
costs what OpenAI's does). Every name is checked when generating: it must resolve through
``rates_for`` to the rates the YAML uses, for each provider name the YAML accepts with it; models
whose genai-prices price depends on the time of day (DeepSeek's off-peak prices) or changes on a
future date are refused.

Run ``agentops-otel collector-config`` (or ``python -m agentops_otel.otelcol_config``) to print
it, ``--output PATH`` to write it, ``--check PATH`` to fail when a file differs from a fresh one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import genai_prices
from genai_prices import Usage as _PricesUsage
from genai_prices import calc_price as _calc_price
from genai_prices import data_snapshot as _prices_data
from genai_prices import types as _prices_types
from genai_prices.data_snapshot import find_provider_by_id as _find_provider_by_id
from genai_prices.types import StartDateConstraint as _StartDate

from agentops_otel import meaning, usage
from agentops_otel import semconv as sc
from agentops_otel.pricing import (
    BEDROCK_ARN_PREFIX,
    LOCAL_PROVIDERS,
    LOCAL_SOURCE,
    PRICE_SOURCE,
    PROVIDER_NAMES,
    UNKNOWN_MODEL_SOURCE,
    ModelRates,
    Rate,
    provider_id,
    rates_for,
    split_model_ref,
)

# (provider, model name) pairs priced by otel-collector.yaml. The provider is the model's home
# (a gen_ai.provider.name value); names are matched case-insensitively, exactly, with or without a
# provider prefix. genai-prices' own exact aliases of each model are added automatically. To extend:
# add a line, run `agentops-otel collector-config --output otel-collector.yaml`, commit both.
CURATED_MODELS: list[tuple[str, str]] = [
    # OpenAI
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-2024-08-06"),
    ("openai", "gpt-4o-2024-11-20"),
    ("openai", "gpt-4o-2024-05-13"),
    ("openai", "chatgpt-4o-latest"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-4.1-nano"),
    ("openai", "gpt-4-turbo"),
    ("openai", "gpt-4"),
    ("openai", "gpt-3.5-turbo"),
    ("openai", "o1"),
    ("openai", "o1-mini"),
    ("openai", "o3"),
    ("openai", "o3-mini"),
    ("openai", "o4-mini"),
    ("openai", "gpt-5"),
    ("openai", "gpt-5-mini"),
    ("openai", "gpt-5-nano"),
    ("openai", "gpt-5.1"),
    ("openai", "gpt-5.2"),
    ("openai", "gpt-5.4"),
    ("openai", "gpt-5.4-mini"),
    ("openai", "gpt-5.5"),
    ("openai", "text-embedding-3-small"),
    ("openai", "text-embedding-3-large"),
    # Anthropic: dated snapshots and -latest / short aliases
    ("anthropic", "claude-3-haiku-20240307"),
    ("anthropic", "claude-3-opus-20240229"),
    ("anthropic", "claude-3-sonnet-20240229"),
    ("anthropic", "claude-3-opus-latest"),
    ("anthropic", "claude-3-5-sonnet-20240620"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("anthropic", "claude-3-5-sonnet-latest"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("anthropic", "claude-3-7-sonnet-20250219"),
    ("anthropic", "claude-3-7-sonnet-latest"),
    ("anthropic", "claude-sonnet-4-20250514"),
    ("anthropic", "claude-sonnet-4-0"),
    ("anthropic", "claude-opus-4-20250514"),
    ("anthropic", "claude-opus-4-0"),
    ("anthropic", "claude-opus-4-1"),
    ("anthropic", "claude-opus-4-1-20250805"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-haiku-4-5-20251001"),
    ("anthropic", "claude-opus-4-5"),
    ("anthropic", "claude-opus-4-5-20251101"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-opus-4-6"),
    ("anthropic", "claude-opus-4-7"),
    # Google
    ("gcp.gemini", "gemini-1.5-pro"),
    ("gcp.gemini", "gemini-1.5-flash"),
    ("gcp.gemini", "gemini-2.0-flash"),
    ("gcp.gemini", "gemini-2.0-flash-001"),
    ("gcp.gemini", "gemini-2.0-flash-lite"),
    ("gcp.gemini", "gemini-2.5-pro"),
    ("gcp.gemini", "gemini-2.5-flash"),
    ("gcp.gemini", "gemini-2.5-flash-lite"),
    ("gcp.gemini", "gemini-3-pro-preview"),
    ("gcp.gemini", "gemini-3-flash-preview"),
    ("gcp.gemini", "gemini-2.5-flash-preview-05-20"),
    ("gcp.gemini", "gemini-1.5-flash-002"),
    ("gcp.gemini", "gemini-embedding-001"),
    # AWS Bedrock: model ids and the US cross-region inference profiles' ids, as sent in modelId (the
    # Anthropic names above are also priced at Bedrock's price when the span's provider is aws.bedrock)
    ("aws.bedrock", "anthropic.claude-3-sonnet-20240229-v1:0"),
    ("aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0"),
    ("aws.bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("aws.bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("aws.bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("aws.bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("aws.bedrock", "anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("aws.bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("aws.bedrock", "anthropic.claude-sonnet-4-20250514-v1:0"),
    ("aws.bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("aws.bedrock", "amazon.nova-micro-v1:0"),
    ("aws.bedrock", "us.amazon.nova-micro-v1:0"),
    ("aws.bedrock", "amazon.nova-lite-v1:0"),
    ("aws.bedrock", "us.amazon.nova-lite-v1:0"),
    ("aws.bedrock", "amazon.nova-pro-v1:0"),
    ("aws.bedrock", "us.amazon.nova-pro-v1:0"),
    ("aws.bedrock", "amazon.titan-text-express-v1"),
    ("aws.bedrock", "amazon.titan-text-lite-v1"),
    ("aws.bedrock", "meta.llama3-8b-instruct-v1:0"),
    ("aws.bedrock", "meta.llama3-70b-instruct-v1:0"),
    # Mistral
    ("mistral_ai", "mistral-large-latest"),
    ("mistral_ai", "mistral-medium-latest"),
    ("mistral_ai", "mistral-small-latest"),
    ("mistral_ai", "codestral-latest"),
    ("mistral_ai", "ministral-8b-latest"),
    ("mistral_ai", "open-mistral-nemo"),
    ("mistral_ai", "pixtral-large-latest"),
    ("mistral_ai", "mistral-embed"),
    ("mistral_ai", "mistral-tiny"),
    # Groq
    ("groq", "llama-3.3-70b-versatile"),
    ("groq", "llama-3.1-8b-instant"),
    ("groq", "llama3-70b-8192"),
    ("groq", "llama3-8b-8192"),
    # Cohere
    ("cohere", "command-a-03-2025"),
    ("cohere", "command-r-plus"),
    ("cohere", "command-r-plus-08-2024"),
    ("cohere", "command-r"),
    ("cohere", "command-r-08-2024"),
    ("cohere", "command-r7b-12-2024"),
    ("cohere", "embed-v4.0"),
    # DeepSeek (deepseek-chat / deepseek-reasoner have off-peak prices: not expressible here)
    ("deepseek", "deepseek-v3.2"),
    ("deepseek", "deepseek-v3.1-terminus"),
    # xAI
    ("x_ai", "grok-3"),
    ("x_ai", "grok-3-mini"),
    ("x_ai", "grok-4"),
    ("x_ai", "grok-4-fast"),
    ("x_ai", "grok-4-1-fast"),
    ("x_ai", "grok-code-fast-1"),
]


TRANSFORM_ID = "transform/agentops"
AGENTOPS_EXPORTER_ID = "otlp_http/agentops"
BACKEND_EXPORTER_ID = "otlp_http/backend"
DEBUG_EXPORTER_ID = "debug"
# Where otel-collector.yaml sends spans when AGENTOPS_COLLECTOR_ENDPOINT is unset: an agentops-otel
# collector on this host, moved off 4318 because the OpenTelemetry Collector listens there.
DEFAULT_AGENTOPS_ENDPOINT = "http://localhost:4328"
# The collector release the file is tested on (otelcol/builder-config.yaml pins the same).
OTELCOL_VERSION = "0.161.0"

# Cache keys of the OTTL (per span; they never reach the span)
_MODEL, _REF, _PROVIDER, _PKEY, _RATE = "model", "ref", "provider", "pkey", "rate"
_IN_EXCLUSIVE = "in_exclusive"  # the input count came from an older name holding Anthropic's exclusive count
_PCLASS = "price_class"
_IN, _OUT = sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS
_CR, _CW = sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
_COST_IN, _COST_OUT, _CACHED = "cost_in", "cost_out", "cached"
_RATE_FIELDS = ("in", "out", "cr", "cw")
_HAS_USAGE = "has_usage"  # an input or output count was read: the span can be priced
_OUR_COST_KEYS = (sc.COST_INPUT, sc.COST_OUTPUT, sc.COST_SOURCE)


def _decimal_at_most(limit: int) -> str:
    """An RE2 pattern of the decimal numbers from 0 to ``limit`` (no sign, no leading zeros needed)."""
    digits = str(limit)
    alternatives = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):  # same length: equal up to index, then a smaller digit
        if digit != "0":
            rest = len(digits) - index - 1
            smaller = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
            alternatives.append(digits[:index] + smaller + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


# A decimal string strconv.ParseInt reads (sign, leading zeros) whose value fits int64 when it is not
# negative: usage._as_int's strings, whitespace, underscores and non-ASCII digits aside.
_INT_STRING = "^[+-]?0*" + _decimal_at_most(usage.MAX_COUNT) + "$"
# Doubles from 2**63 up are past int64 (2**63 - 1 is no double); Go's int64() of one differs by CPU.
_DOUBLE_LIMIT = f"{usage.MAX_COUNT + 1}.0"


class CurationError(ValueError):
    """A curated model the YAML cannot price exactly as pricing.py does."""


@dataclass(frozen=True)
class PriceGroup:
    """Names priced at the same rates, accepted with the same provider names."""

    names: tuple[str, ...]
    rates: ModelRates
    providers: tuple[str, ...]  # provider price classes accepted (see provider_classes), by label
    without_provider: bool  # also priced when the span names no provider, or one priced as if it named none


# --- OTTL text ---------------------------------------------------------------------------------


def _str(text: str) -> str:
    """An OTTL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attr(name: str) -> str:
    return f"span.attributes[{_str(name)}]"


def _cache(key: str, *index: str) -> str:
    return f"span.cache[{_str(key)}]" + "".join(f"[{_str(i)}]" for i in index)


def _float(value: Decimal) -> str:
    """An OTTL float literal (OTTL needs the decimal point and takes no exponent)."""
    text = format(value, "f")
    return text if "." in text else text + ".0"


def _regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in r"\.+*?()|[]{}^$" else ch for ch in text)


def _alternation(values: Iterable[str]) -> str:
    return "(?:" + "|".join(_regex_escape(v) for v in values) + ")"


def _provider_prefix_pattern() -> str:
    """A model name led by a provider name rates_for strips (``openai/gpt-4o``)."""
    return "^(?i:" + _alternation(sorted(PROVIDER_NAMES))[3:-1] + ")/(?s:.)"


def _non_empty_string(path: str) -> str:
    return f"IsString({path}) and {path} != {_str('')}"


def _count_like(path: str) -> str:
    """The value reads as a non-negative integer the way usage._as_int reads it."""
    double = f"IsDouble({path}) and {path} >= 0.0 and {path} < {_DOUBLE_LIMIT} and Double(Int({path})) == {path}"
    return (
        f"(IsInt({path}) or ({double})"
        f" or (IsString({path}) and IsMatch({path}, {_str(_INT_STRING)}))) and Int({path}) >= 0"
    )


def _one_of(path: str, values: Iterable[str]) -> str:
    """The value at ``path`` is one of ``values`` (an IsMatch: a lone comparison in parentheses is
    not valid OTTL; values are words, so one of another type never matches)."""
    return f"IsMatch({path}, {_str('^' + _alternation(sorted(values)) + '$')})"


def llm_span_condition() -> str:
    """OTTL for :func:`agentops_otel.meaning.is_llm_span`: its rules in order, the first that knows
    the span's value deciding."""
    has_model = " or ".join(f"({_non_empty_string(_attr(k))})" for k in usage.MODEL_KEYS)
    token_keys = [key for name, aliases in usage.TOKEN_ALIASES.items() for key in (name, *aliases)]
    has_tokens = " or ".join(f"{_attr(k)} != nil" for k in token_keys)
    condition = f"(({has_model}) and ({has_tokens}))"
    for key, table in reversed(meaning.KIND_RULES):  # innermost: the last rule
        llm = [value for value, kind in table.items() if kind == sc.KIND_LLM]
        otherwise = f"(not {_one_of(_attr(key), table)} and {condition})"
        condition = f"({_one_of(_attr(key), llm)} or {otherwise})" if llm else otherwise
    return condition


def _model_statements() -> list[str]:
    out = []
    for target, keys in ((_MODEL, usage.MODEL_KEYS), (_PROVIDER, usage.PROVIDER_KEYS)):
        for key in keys:  # the first non-empty string wins
            out.append(
                f"set({_cache(target)}, {_attr(key)}) where {_cache(target)} == nil and {_non_empty_string(_attr(key))}"
            )
    prefixed = f"IsMatch({_cache(_MODEL)}, {_str(_provider_prefix_pattern())})"
    out += [
        f"set({_cache(_REF)}, {_cache(_MODEL)}) where {_cache(_MODEL)} != nil",
        f"replace_pattern({_cache(_REF)}, {_str('^[^/]*/')}, {_str('')}) where {prefixed}",
        f"replace_pattern({_cache(_REF)}, {_str('(?i)' + BEDROCK_ARN_PREFIX)}, {_str('')})"
        f" where {_cache(_REF)} != nil and IsMatch({_cache(_REF)}, {_str('(?i)' + BEDROCK_ARN_PREFIX)})",
        f"set({_cache(_PKEY)}, {_cache(_PROVIDER)}) where {_cache(_PROVIDER)} != nil",
        f"set({_cache(_PKEY)}, Split({_cache(_MODEL)}, {_str('/')})[0]) where {_cache(_PKEY)} == nil and {prefixed}",
        f"set({_cache(_PKEY)}, ConvertCase({_cache(_PKEY)}, {_str('lower')})) where {_cache(_PKEY)} != nil",
    ]
    return out


@functools.cache
def _whitespace() -> str:
    """An RE2 class of the characters ``str.strip()`` removes (genai-prices strips provider names)."""
    ranges: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        if chr(code).isspace():
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "[" + "".join(f"\\x{{{a:x}}}" + (f"-\\x{{{b:x}}}" if b > a else "") for a, b in ranges) + "]"


def _clause_patterns(clause: object) -> list[str] | None:
    """RE2 patterns, any of which matching the lower-cased name means a genai-prices ``provider_match``
    clause matches it (None for an and-clause: not one pattern)."""
    ws = _whitespace()
    if isinstance(clause, _prices_types.ClauseContains):
        return [_regex_escape(clause.contains.lower())]
    if isinstance(clause, _prices_types.ClauseStartsWith):
        return [f"^{ws}*{_regex_escape(clause.starts_with.lower())}"]
    if isinstance(clause, _prices_types.ClauseEndsWith):
        return [f"{_regex_escape(clause.ends_with.lower())}{ws}*$"]
    if isinstance(clause, _prices_types.ClauseEquals):
        return [f"^{ws}*{_regex_escape(clause.equals.lower())}{ws}*$"]
    if isinstance(clause, _prices_types.ClauseOr):
        parts = [_clause_patterns(c) for c in clause.or_]
        return None if any(p is None for p in parts) else [pattern for p in parts for pattern in p or ()]
    if isinstance(clause, _prices_types.ClauseAnd):
        return None
    raise CurationError(f"genai-prices' provider clause {clause!r} has no OTTL counterpart here")


def _any_clause(clauses: Sequence[object], path: str) -> str:
    """OTTL: one of ``clauses`` matches ``path`` (the patterns in one IsMatch, and-clauses apart)."""
    patterns: list[str] = []
    others: list[str] = []
    for clause in clauses:
        found = _clause_patterns(clause)
        if found is not None:
            patterns += found
        elif isinstance(clause, _prices_types.ClauseAnd):
            others.append("(" + " and ".join(_any_clause([c], path) for c in clause.and_) + ")")
        else:  # an or-clause holding an and-clause
            others.append("(" + _any_clause(clause.or_, path) + ")")
    if patterns:
        others.insert(0, f"IsMatch({path}, {_str('|'.join(f'(?:{p})' for p in patterns))})")
    return " or ".join(others)


def _exact_pattern(names: Iterable[str], ids: Iterable[str]) -> str:
    """A provider name written exactly as one of pricing.py's ``names``, or as a genai-prices ``id``
    (genai-prices strips the latter)."""
    alternatives = [_regex_escape(n) for n in sorted(set(names) - set(ids))]
    if ids:
        alternatives.append(f"{_whitespace()}*{_alternation(sorted(ids))}{_whitespace()}*")
    return "^(?:" + "|".join(alternatives) + ")$"


def _provider_class_statements(classes: dict[str, str | None]) -> list[str]:
    """OTTL setting the span's provider price class, resolved as ``pricing.rates_for`` resolves the name.

    pricing.py's provider names map to a genai-prices provider id; any other name is matched by
    genai-prices against the ids, then against each provider's ``provider_match`` clause in order
    (``my-bedrock-gateway`` is AWS's). A name resolving to no provider, or to one priced as if none
    were named (``litellm``, ``ibm.watsonx.ai``), leaves the class unset: priced as without provider.
    """
    pkey = _cache(_PKEY)
    providers = _genai_providers()
    ids = [p.id for p in providers]
    exact_names = {name: classes.get(_resolved_provider(name) or "") for name in PROVIDER_NAMES}
    exact_any = f"IsMatch({pkey}, {_str(_exact_pattern(PROVIDER_NAMES, ids))})"
    conditions: dict[str, list[str]] = {}
    earlier: list[object] = []  # provider_match clauses of the providers before, in genai-prices' order
    for label in dict.fromkeys(c for c in classes.values() if c is not None):
        names = [name for name, c in exact_names.items() if c == label]
        conditions[label] = [f"IsMatch({pkey}, {_str(_exact_pattern(names, [i for i in ids if classes[i] == label]))})"]
    for provider in providers:
        if provider.provider_match is None:
            continue
        label = classes[provider.id]
        if label is not None:  # this clause wins when no exact name and no earlier clause matched
            first = [_any_clause([provider.provider_match], pkey), f"not {exact_any}"]
            if earlier:
                first.append(f"not ({_any_clause(earlier, pkey)})")
            conditions[label].append("(" + " and ".join(first) + ")")
        earlier.append(provider.provider_match)
    return [
        f"set({_cache(_PCLASS)}, {_str(label)}) where {' or '.join(ors)}" for label, ors in sorted(conditions.items())
    ]


def _token_statements() -> list[str]:
    out = []
    for name, aliases in usage.TOKEN_ALIASES.items():
        for key in (name, *aliases):
            valid = f"{_attr(key)} != nil and {_cache(name)} == nil and {_count_like(_attr(key))}"
            if name == sc.GEN_AI_USAGE_INPUT_TOKENS and key in usage.EXCLUSIVE_INPUT_ALIASES:
                out.append(f"set({_cache(_IN_EXCLUSIVE)}, true) where {valid}")
            out.append(f"set({_cache(name)}, Int({_attr(key)})) where {valid}")
    inp, cr, cw = (
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    )
    provider = _cache(_PROVIDER)
    anthropic = f"{provider} != nil and ConvertCase({provider}, {_str('lower')}) == {_str(sc.PROVIDER_ANTHROPIC)}"
    # Anthropic's input count excludes cache tokens when it comes from gen_ai.usage.prompt_tokens or is
    # smaller than them; they are added unless the sum passes int64. OTTL's int64 sums wrap: cache read
    # and creation are each at most MAX_COUNT, so a sum of them past it is negative here.
    out += [
        f"set({_cache(_CACHED)}, 0)",
        f"set({_cache(_CACHED)}, {_cache(_CACHED)} + {_cache(cr)}) where {_cache(cr)} != nil",
        f"set({_cache(_CACHED)}, {_cache(_CACHED)} + {_cache(cw)}) where {_cache(cw)} != nil",
        f"set({_cache(inp)}, {_cache(inp)} + {_cache(_CACHED)}) where {_cache(inp)} != nil and {anthropic}"
        f" and ({_cache(_IN_EXCLUSIVE)} == true or {_cache(inp)} < {_cache(_CACHED)})"
        f" and {_cache(_CACHED)} >= 0 and {_cache(_CACHED)} <= {usage.MAX_COUNT} - {_cache(inp)}",
    ]
    out += [f"set({_attr(name)}, {_cache(name)}) where {_cache(name)} != nil" for name in usage.TOKEN_ALIASES]
    return out


def _sender_statements() -> list[str]:
    """Cost attributes are never trusted from a client: a sent gen_ai.usage.cost is kept as
    agentops.cost.sender (usage.span_price may use it), the others go."""
    sent = _attr(sc.GEN_AI_USAGE_COST)
    return [
        f"delete_key(span.attributes, {_str(sc.COST_SENDER)})",
        f"set({_attr(sc.COST_SENDER)}, {sent}) where {sent} != nil",
        *(f"delete_key(span.attributes, {_str(key)})" for key in (sc.GEN_AI_USAGE_COST, *_OUR_COST_KEYS)),
    ]


def _cost_input_statements() -> list[str]:
    """The counts pricing.cost_of prices (after they were written): absent as 0, cache capped by input;
    whether the span reports usage at all (an input or output count) first."""
    inp, out_, cr, cw = (_cache(name) for name in (_IN, _OUT, _CR, _CW))
    out = [f"set({_cache(_HAS_USAGE)}, true) where {inp} != nil or {out_} != nil"]
    out += [f"set({c}, 0) where {c} == nil" for c in (inp, out_, cr, cw)]
    out += [
        f"set({cr}, {inp}) where {cr} > {inp}",
        f"set({cw}, {inp} - {cr}) where {cw} > {inp} - {cr}",
    ]
    return out


def _rate_fields(rates: ModelRates) -> dict[str, Rate]:
    return dict(zip(_RATE_FIELDS, (rates.input, rates.output, rates.cache_read, rates.cache_write), strict=True))


def _price_statements(groups: Sequence[PriceGroup]) -> list[str]:
    # Every statement costs the collector about 0.4 µs per LLM span, matched or not: one statement per
    # price (its names and provider names OR-ed), and the tiers applied by generic statements.
    out: list[str] = []
    # A local provider's calls (usage.span_price: the span's provider name, any case) cost 0, said so.
    local = f"IsMatch({_cache(_PROVIDER)}, {_str('(?i)^' + _alternation(sorted(LOCAL_PROVIDERS)) + '$')})"
    zero = ",".join(f"{_str(key)}:0.0" for key in _RATE_FIELDS)
    out.append(f'set({_cache(_RATE)}, {{{zero},"local":true}}) where {_cache(_RATE)} == nil and {local}')
    by_price: dict[tuple[Rate, ...], list[PriceGroup]] = {}
    for group in groups:
        by_price.setdefault(_rate_key(group.rates), []).append(group)
    max_tiers = 0
    for same_price in by_price.values():
        fields = _rate_fields(same_price[0].rates)
        entries = [f"{_str(k)}:{_float(r.base)}" for k, r in fields.items()]
        for key, rate in fields.items():
            for index, (start, price) in enumerate(sorted(rate.tiers), start=1):
                entries += [f"{_str(f'{key}.t{index}')}:{start}", f"{_str(f'{key}.p{index}')}:{_float(price)}"]
            max_tiers = max(max_tiers, len(rate.tiers))
        clauses = []
        for group in same_price:
            providers = []
            if group.without_provider:
                providers.append(f"{_cache(_PCLASS)} == nil")
            providers += [f"{_cache(_PCLASS)} == {_str(label)}" for label in group.providers]
            if providers:
                model = f"IsMatch({_cache(_REF)}, {_str('(?i)^' + _alternation(group.names) + '$')})"
                clauses.append(f"({model} and ({' or '.join(providers)}))")
        if clauses:
            out.append(
                f"set({_cache(_RATE)}, {{{','.join(entries)}}}) where {_cache(_RATE)} == nil"
                f" and ({' or '.join(clauses)})"
            )
    # Cliff tiers on total input tokens, ascending: the highest tier passed wins.
    for index in range(1, max_tiers + 1):
        for key in _RATE_FIELDS:
            threshold = _cache(_RATE, f"{key}.t{index}")
            out.append(
                f"set({_cache(_RATE, key)}, {_cache(_RATE, f'{key}.p{index}')})"
                f" where {threshold} != nil and {_cache(_IN)} > {threshold}"
            )
    # priced: a rate and usage (usage.span_price), or a local provider's zero rates, usage or not
    usable = f"({_cache(_HAS_USAGE)} == true or {_cache(_RATE, 'local')} != nil)"
    priced = f"{_cache(_RATE, 'in')} != nil and {usable}"
    not_priced = f"({_cache(_RATE, 'in')} == nil or not {usable})"
    sender = _attr(sc.COST_SENDER)
    # a positive number (usage.sender_cost): OpenLIT sends 0 for a model it has no price for
    sender_valid = f"((IsDouble({sender}) and {sender} > 0.0) or (IsInt({sender}) and {sender} > 0))"

    def times(count: str, field: str) -> str:
        return f"Double({count}) * {_cache(_RATE, field)}"

    uncached = f"{_cache(_IN)} - {_cache(_CR)} - {_cache(_CW)}"
    out += [
        f"set({_cache(_COST_IN)}, {times(uncached, 'in')} + {times(_cache(_CR), 'cr')} + {times(_cache(_CW), 'cw')})"
        f" where {priced}",
        f"set({_cache(_COST_OUT)}, {times(_cache(_OUT), 'out')}) where {priced}",
        f"set({_attr(sc.COST_INPUT)}, {_cache(_COST_IN)}) where {priced}",
        f"set({_attr(sc.COST_OUTPUT)}, {_cache(_COST_OUT)}) where {priced}",
        f"set({_attr(sc.GEN_AI_USAGE_COST)}, {_cache(_COST_IN)} + {_cache(_COST_OUT)}) where {priced}",
        f"set({_attr(sc.COST_SOURCE)}, {_str(PRICE_SOURCE)}) where {priced}",
        f"set({_attr(sc.COST_SOURCE)}, {_str(LOCAL_SOURCE)}) where {_cache(_RATE, 'local')} != nil",
        # No price of ours: the sender's cost if it sent a usable one, else unpriced with the reason.
        f"set({_attr(sc.COST_SOURCE)}, {_str(usage.NO_USAGE_SOURCE)}) where {_cache(_HAS_USAGE)} == nil"
        f" and {_cache(_RATE, 'local')} == nil",
        f"set({_attr(sc.COST_SOURCE)}, {_str(UNKNOWN_MODEL_SOURCE)}) where {_cache(_HAS_USAGE)} == true"
        f" and {_cache(_RATE, 'in')} == nil",
        f"set({_attr(sc.GEN_AI_USAGE_COST)}, Double({sender})) where {not_priced} and {sender_valid}",
        f"set({_attr(sc.COST_SOURCE)}, {_str(usage.SENDER_SOURCE)}) where {not_priced} and {sender_valid}",
    ]
    return out


def trace_statements(groups: Sequence[PriceGroup] | None = None) -> list[str]:
    """The OTTL statements of the transform processor, in order (run only on LLM spans)."""
    if groups is None:
        groups = price_groups()
    classes = provider_classes(frozenset(name for group in groups for name in group.names))
    return (
        _sender_statements()
        + _model_statements()
        + _provider_class_statements(classes)
        + _token_statements()
        + _cost_input_statements()
        + _price_statements(groups)
    )


# --- curated models -> price groups ---------------------------------------------------------------


def _model_info(model: str, provider: str | None):
    """The genai-prices model rates_for resolves ``model`` to (same lookup order)."""
    ref, provider = split_model_ref(model, provider)
    pid = provider_id(provider)
    empty = _PricesUsage(input_tokens=0, output_tokens=0)
    try:
        return _calc_price(empty, ref, provider_id=pid).model
    except LookupError:
        return _calc_price(empty, ref).model


def _exact_aliases(match) -> list[str]:
    """The exact names a genai-prices match clause lists (``equals``), in order."""
    found: list[str] = []
    equals = getattr(match, "equals", None)
    if isinstance(equals, str):
        found.append(equals)
    for clause in getattr(match, "or_", None) or ():
        found += _exact_aliases(clause)
    return found


def _check_stable(name: str, info, today: dt.date) -> None:
    prices = info.prices
    if not isinstance(prices, list):
        return
    for conditional in prices:
        constraint = conditional.constraint
        if constraint is None:
            continue
        if not isinstance(constraint, _StartDate):
            raise CurationError(f"{name}: its price depends on the time of day; the YAML cannot follow it")
        if constraint.start_date > today:
            raise CurationError(f"{name}: its price changes on {constraint.start_date}; curate it after that date")


def _rate_key(rates: ModelRates) -> tuple[Rate, Rate, Rate, Rate]:
    return (rates.input, rates.output, rates.cache_read, rates.cache_write)


def _genai_providers() -> list[_prices_types.Provider]:
    return _prices_data.get_snapshot().providers


def _resolved_provider(name: str) -> str | None:
    """The genai-prices provider ``rates_for`` looks a provider name up in (None: it looks up without one)."""
    found = _find_provider_by_id(_genai_providers(), provider_id(name) or "")
    return found.id if found is not None else None


def _price_key(model: str, provider: str | None) -> tuple[Rate, ...] | None:
    rates = rates_for(model, provider)
    return None if rates is None else _rate_key(rates)


@functools.lru_cache(maxsize=8)
def provider_classes(names: frozenset[str]) -> dict[str, str | None]:
    """Each genai-prices provider id -> its price class for ``names``: providers pricing every name alike.

    A class is labelled by its member first among pricing.py's provider names (OpenAI and Azure are
    one class, "openai"). A provider pricing every name as a lookup without provider does (it lacks
    them, or agrees) maps to None: the YAML need not tell it from no provider at all.
    """
    models = sorted(names)
    without = [_price_key(model, None) for model in models]
    members: dict[tuple, list[str]] = {}
    for provider in _genai_providers():
        if provider_id(provider.id) != provider.id:
            raise CurationError(f"pricing.py maps genai-prices' provider id {provider.id!r} to another provider")
        prices = [_price_key(model, provider.id) for model in models]
        if prices != without:
            members.setdefault(tuple(prices), []).append(provider.id)
    home_ids = [provider_id(name) for name in PROVIDER_NAMES]
    classes: dict[str, str | None] = {provider.id: None for provider in _genai_providers()}
    for ids in members.values():
        label = min(ids, key=lambda i: home_ids.index(i) if i in home_ids else len(home_ids))
        classes.update(dict.fromkeys(ids, label))
    return classes


def _prices_by_class(
    alias: str, classes: dict[str, str | None], today: dt.date
) -> dict[tuple[Rate, ...], tuple[ModelRates, list[str | None]]]:
    """Each price ``rates_for`` gives ``alias``, with the price classes (None: no provider) getting it."""
    found: dict[tuple[Rate, ...], tuple[ModelRates, list[str | None]]] = {}
    for label in [*dict.fromkeys(c for c in classes.values() if c is not None), None]:
        rates = rates_for(alias, label)
        if rates is None:
            continue
        _check_stable(f"{alias} ({label or 'no provider'})", _model_info(alias, label), today)
        # The price, not the ModelRates: Azure's gpt-4o is genai-prices' provider "azure", priced as OpenAI's.
        found.setdefault(_rate_key(rates), (rates, []))[1].append(label)
    return found


def price_groups(curated: Sequence[tuple[str, str]] = CURATED_MODELS, today: dt.date | None = None) -> list[PriceGroup]:
    """Curated names grouped by price and accepted provider classes, each checked against ``rates_for``.

    A name is priced with every provider ``rates_for`` prices it for, at that provider's price
    (Azure's gpt-4o, Bedrock's Claude), not only with its home provider.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    aliases: list[str] = []
    for home, name in curated:
        rates = rates_for(name, home)
        if rates is None:
            raise CurationError(f"{name} ({home}): genai-prices has no price for it")
        info = _model_info(name, home)
        _check_stable(name, info, today)
        for alias in [name, *_exact_aliases(info.match)]:
            alias = alias.lower()
            if alias not in aliases and "/" not in alias and _price_key(alias, home) == _rate_key(rates):
                aliases.append(alias)
    classes = provider_classes(frozenset(aliases))
    entries: dict[tuple, tuple[ModelRates, list[str]]] = {}
    for alias in aliases:
        for key, (alias_rates, labels) in _prices_by_class(alias, classes, today).items():
            accepted = tuple(label for label in labels if label is not None)
            entries.setdefault((key, accepted, None in labels), (alias_rates, []))[1].append(alias)
    return [
        PriceGroup(tuple(names), rates, accepted, without)
        for (_key, accepted, without), (rates, names) in entries.items()
    ]


# --- the YAML ----------------------------------------------------------------------------------


def _yaml_quote(statement: str) -> str:
    """A single-quoted YAML scalar; ``$`` doubled so the collector does not expand it."""
    return "'" + statement.replace("'", "''").replace("$", "$$") + "'"


def _per_mtok(value: Decimal) -> str:
    """USD per million tokens, without trailing zeros (only those after a decimal point: 0 and 10 stay)."""
    text = f"{value * 1_000_000:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _describe(groups: Sequence[PriceGroup]) -> str:
    """The YAML's comment listing the priced names, one entry per price."""
    classes = provider_classes(frozenset(name for group in groups for name in group.names))
    named = {name: classes.get(_resolved_provider(name) or "") for name in PROVIDER_NAMES}
    members = {**named, **classes}  # provider names and genai-prices ids -> their class
    by_price: dict[tuple[tuple[Rate, ...], tuple[str, ...]], list[str]] = {}
    for group in groups:
        # a provider's own price (Bedrock's Claude) is listed with the provider names that get it
        only = () if group.without_provider else tuple(sorted(n for n, c in members.items() if c in group.providers))
        by_price.setdefault((_rate_key(group.rates), only), []).extend(group.names)
    lines = []
    for (key, only), names in by_price.items():
        r_in, r_out, r_cr, r_cw = key
        tiers = " (tiered by input tokens)" if any(r.tiers for r in key) else ""
        lines.append(f"#   {', '.join(names)}")
        lines.append(
            f"#     USD/MTok in {_per_mtok(r_in.base)}, out {_per_mtok(r_out.base)},"
            f" cache read {_per_mtok(r_cr.base)}, cache write {_per_mtok(r_cw.base)}{tiers}"
        )
        if only:
            lines.append(f"#     with provider {', '.join(only)} only")
    return "\n".join(lines)


_TEMPLATE = """\
# OpenTelemetry Collector configuration for agentops-otel.
# GENERATED by `agentops-otel collector-config` from pricing.py ({source}); do not edit by hand.
#
# app --OTLP--> OpenTelemetry Collector (this file) --OTLP/HTTP--> agentops-otel collector
#                                                    \\-OTLP/HTTP--> any OTLP backend
# The transform processor gives LLM spans the token and cost attributes the agentops-otel
# collector computes: gen_ai.usage.* normalised from older conventions, gen_ai.usage.cost,
# agentops.cost.input, agentops.cost.output and agentops.cost.source. A cost the sender set is
# kept as agentops.cost.sender and used only for a model without a price here. Other spans pass
# unchanged.
# Runs on the build of otelcol/builder-config.yaml (scripts/build-otelcol.sh) or on a stock
# otelcol-contrib, version {otelcol_version} or later.
#
# Environment variables (defaults in brackets):
#   AGENTOPS_API_KEY                    API key sent to the agentops-otel collector (X-Agentops-Api-Key)
#   AGENTOPS_COLLECTOR_ENDPOINT         agentops-otel collector, OTLP/HTTP base URL [{agentops_endpoint}]
#   AGENTOPS_OTELCOL_EXPORTERS          exporters of the traces pipeline [[{agentops_exporter}]];
#                                       any of {agentops_exporter}, {backend_exporter}, {debug_exporter}
#   AGENTOPS_OTELCOL_BACKEND_ENDPOINT   another OTLP/HTTP backend's base URL (for {backend_exporter})
#   AGENTOPS_OTELCOL_BACKEND_HEADERS    its headers, a YAML map of strings, e.g. {{authorization: "Bearer x"}} [none]
#   AGENTOPS_OTELCOL_DEBUG_VERBOSITY    debug exporter: basic, normal or detailed [basic]
#   AGENTOPS_OTELCOL_GRPC_ENDPOINT      OTLP/gRPC listen address [localhost:4317]
#   AGENTOPS_OTELCOL_HTTP_ENDPOINT      OTLP/HTTP listen address [localhost:4318]
#   AGENTOPS_OTELCOL_METRICS_PORT       the collector's own Prometheus metrics port [8888]
#   AGENTOPS_OTELCOL_LOG_LEVEL          the collector's log level [info]
#   AGENTOPS_OTELCOL_STORAGE_DIR        where the exporters' persistent queues live [/var/lib/otelcol/agentops]
#   AGENTOPS_OTELCOL_QUEUE_SIZE         requests each exporter's persistent queue holds [100000]
#   AGENTOPS_OTELCOL_RETRY_MAX_INTERVAL longest wait between retries of an unreachable exporter [30s]
#
# Spans are acknowledged once they are in an exporter's persistent queue (file_storage), so they
# survive a restart or crash of this collector; each exporter retries with no deadline, so an
# outage of the agentops-otel collector behind it, however long, loses nothing. Batching happens
# in the queue, after the spans are stored (a batch processor would hold acknowledged spans in
# memory only).
#
# Models priced here (case-insensitive, optionally with a provider prefix such as openai/):
{models}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${{env:AGENTOPS_OTELCOL_GRPC_ENDPOINT:-localhost:4317}}
      http:
        endpoint: ${{env:AGENTOPS_OTELCOL_HTTP_ENDPOINT:-localhost:4318}}

extensions:
  {storage_id}:
    directory: ${{env:AGENTOPS_OTELCOL_STORAGE_DIR:-/var/lib/otelcol/agentops}}
    create_directory: true

processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 25
  {transform_id}:
    error_mode: ignore
    trace_statements:
      - context: span
        conditions:
          - {condition}
        statements:
{statements}

exporters:
  {agentops_exporter}:
    endpoint: ${{env:AGENTOPS_COLLECTOR_ENDPOINT:-{agentops_endpoint}}}
    headers:
      X-Agentops-Api-Key: ${{env:AGENTOPS_API_KEY:-}}
{durable}
  {backend_exporter}:
    # .invalid never resolves: set AGENTOPS_OTELCOL_BACKEND_ENDPOINT before enabling this exporter.
    endpoint: ${{env:AGENTOPS_OTELCOL_BACKEND_ENDPOINT:-http://otlp-backend.invalid:4318}}
    headers: ${{env:AGENTOPS_OTELCOL_BACKEND_HEADERS:-[]}}
{durable}
  {debug_exporter}:
    verbosity: ${{env:AGENTOPS_OTELCOL_DEBUG_VERBOSITY:-basic}}

service:
  extensions: [{storage_id}]
  telemetry:
    logs:
      level: ${{env:AGENTOPS_OTELCOL_LOG_LEVEL:-info}}
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: localhost
                port: ${{env:AGENTOPS_OTELCOL_METRICS_PORT:-8888}}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, {transform_id}]
      exporters: ${{env:AGENTOPS_OTELCOL_EXPORTERS:-[{agentops_exporter}]}}
"""


STORAGE_ID = "file_storage/agentops"
# Each OTLP/HTTP exporter: a persistent sending queue that batches after storing, and retries
# that never give up (max_elapsed_time 0).
_DURABLE_EXPORTER = """\
    retry_on_failure:
      enabled: true
      initial_interval: 1s
      max_interval: ${{env:AGENTOPS_OTELCOL_RETRY_MAX_INTERVAL:-30s}}
      max_elapsed_time: 0
    sending_queue:
      enabled: true
      storage: {storage_id}
      queue_size: ${{env:AGENTOPS_OTELCOL_QUEUE_SIZE:-100000}}
      batch:
        flush_timeout: 200ms
        sizer: items
        min_size: 8192"""


def render(groups: Sequence[PriceGroup] | None = None) -> str:
    """The text of ``otel-collector.yaml``."""
    if groups is None:
        groups = price_groups()
    statements = "\n".join(f"          - {_yaml_quote(s)}" for s in trace_statements(groups))
    return _TEMPLATE.format(
        source=PRICE_SOURCE,
        models=_describe(groups),
        condition=_yaml_quote(llm_span_condition()),
        statements=statements,
        transform_id=TRANSFORM_ID,
        agentops_exporter=AGENTOPS_EXPORTER_ID,
        backend_exporter=BACKEND_EXPORTER_ID,
        debug_exporter=DEBUG_EXPORTER_ID,
        agentops_endpoint=DEFAULT_AGENTOPS_ENDPOINT,
        otelcol_version=OTELCOL_VERSION,
        storage_id=STORAGE_ID,
        durable=_DURABLE_EXPORTER.format(storage_id=STORAGE_ID),
    )


# --- staleness -----------------------------------------------------------------------------------

_GENERATED_WITH = re.compile(r"^# GENERATED by .* from pricing\.py \(genai-prices ([^)\s]+)\)", re.MULTILINE)
# CI installs the genai-prices release the checked-in file was generated from (pyproject only bounds it below).
CONSTRAINTS_FILE = ".ci/constraints.txt"


def generated_with(text: str) -> str | None:
    """The genai-prices version a generated file's header names (None when it names none)."""
    found = _GENERATED_WITH.search(text)
    return found.group(1) if found else None


def stale_reason(path: Path, fresh: str | None = None) -> str | None:
    """Why the file at ``path`` differs from a fresh generation, and how to fix it; None when fresh."""
    if fresh is None:
        fresh = render()
    current = path.read_text() if path.exists() else None
    if current == fresh:
        return None
    regenerate = f"run `agentops-otel collector-config --output {path}` and commit it"
    if current is None:
        return f"{path} does not exist: {regenerate}"
    theirs, installed = generated_with(current), genai_prices.__version__
    if theirs is not None and theirs != installed:
        return (
            f"{path} was generated with genai-prices {theirs}, but genai-prices {installed} is installed:"
            f" install the pinned release (pip install -c {CONSTRAINTS_FILE} -e '.[test]'), or, to move to"
            f" {installed}'s prices, {regenerate} with {CONSTRAINTS_FILE} pinning genai-prices=={installed}"
        )
    return f"{path} is out of date: {regenerate}"


# --- command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``agentops-otel collector-config``."""
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", "-o", type=Path, help="write the YAML here (default: standard output)")
    target.add_argument("--check", type=Path, metavar="PATH", help="exit 1 if PATH differs from a fresh generation")


def run(args: argparse.Namespace) -> int:
    try:
        text = render()
    except CurationError as exc:
        print(f"agentops-otel collector-config: {exc}", file=sys.stderr)
        return 2
    if args.check is not None:
        reason = stale_reason(args.check, text)
        if reason is not None:
            print(reason, file=sys.stderr)
            return 1
        return 0
    if args.output is not None:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from agentops_otel.cli import SUBCOMMANDS

    parser = argparse.ArgumentParser(
        prog="agentops-otel collector-config",
        description=SUBCOMMANDS["collector-config"][1],
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
