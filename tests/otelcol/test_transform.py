"""The real OpenTelemetry Collector running otel-collector.yaml writes the attributes the Python collector does.

Hand-made spans (current and older conventions) go in through the OTel SDK's OTLP exporters; the
collector's file exporter gives them back. The expectation for every span is the agentops-otel
collector's own enrichment (:func:`agentops_otel.collector.enrich.enrich_attributes`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from genai_prices import data_snapshot

from agentops_otel import semconv as sc
from agentops_otel import usage
from agentops_otel.collector.enrich import enrich_attributes
from agentops_otel.otelcol_config import CURATED_MODELS, PriceGroup, price_groups
from agentops_otel.pricing import LOCAL_SOURCE, PRICE_SOURCE, PROVIDER_NAMES, UNKNOWN_MODEL_SOURCE
from tests.otelcol.otelcol import Otelcol, attribute_differences, send_spans, validate

pytestmark = pytest.mark.otelcol

MODEL_KEYS = (sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL, sc.OPENINFERENCE_MODEL_NAME)
PROVIDER_KEYS = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.OPENINFERENCE_PROVIDER)


def _tiers(group: PriceGroup) -> list[int]:
    r = group.rates
    return sorted({start for rate in (r.input, r.output, r.cache_read, r.cache_write) for start, _ in rate.tiers})


def _usage(rng: random.Random, input_tokens: int) -> dict[str, Any]:
    cache_read = rng.randint(0, input_tokens // 2)
    return {
        sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: rng.randint(1, 4000),
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: rng.randint(0, input_tokens - cache_read),
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: rng.randint(0, 500),
    }


def curated_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every priced name, with and without a provider, prefixed, in upper case, below and above each tier."""
    rng = random.Random(5)
    homes = {name.lower(): home.lower() for home, name in CURATED_MODELS}
    cases = []
    for group in price_groups():
        for name in group.names:
            home = homes.get(name) if homes.get(name) in group.providers else None
            provider = home or (group.providers[0] if group.providers else None)
            variants: list[tuple[str, str | None]] = []
            if group.without_provider:
                variants.append((name, None))
            if provider is not None:
                variants.append((name.upper(), provider))
                if provider in PROVIDER_NAMES:
                    variants.append((f"{provider}/{name}", None))
            for tokens in [rng.randint(1, 20_000), *(start + rng.randint(1, 5000) for start in _tiers(group))]:
                for model, provider_name in variants:
                    attrs = {MODEL_KEYS[len(cases) % 3]: model, **_usage(rng, tokens)}
                    if provider_name is not None:
                        attrs[PROVIDER_KEYS[len(cases) % 3]] = provider_name
                    if len(cases) % 2:
                        attrs[sc.SPAN_KIND] = sc.KIND_LLM
                    cases.append((f"curated-{len(cases)}", attrs))
    return cases


def known_provider_names() -> list[str]:
    """Every provider name the Python collector resolves: pricing.py's names and genai-prices' provider ids."""
    return sorted(set(PROVIDER_NAMES) | {p.id for p in data_snapshot.get_snapshot().providers})


# Provider names genai-prices has no id for, resolved as rates_for resolves them: by genai-prices'
# provider_match clauses (first provider in its order wins, on the stripped name), else no provider.
UNKNOWN_PROVIDER_NAMES = [
    "litellm",
    "my-proxy",
    "azure.ai.inference",
    "ibm.watsonx.ai",
    " OpenAI ",
    "openai-compatible",
    "my-bedrock-gateway",
    "anthropic-on-bedrock",
    "github-copilot-enterprise",
    "huggingface_groq",
    "google-vertex-anthropic",
    "openrouter\t",
    "\u00a0quicksilverpro",
    "Amazon",
    "AZURE",
    " gemini",
    "copilot",
]


def provider_cases(providers: list[str], prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Every priced name with each of ``providers``, at token counts on both sides of the usual tiers."""
    rng = random.Random(6)
    names = sorted({name for group in price_groups() for name in group.names})
    cases = []
    for name in names:
        for provider in providers:
            attrs = {sc.GEN_AI_REQUEST_MODEL: name, sc.GEN_AI_PROVIDER_NAME: provider}
            cases.append((f"{prefix}-{len(cases)}", {**attrs, **_usage(rng, rng.randint(1, 300_000))}))
    return cases


NORMALISATION_CASES: dict[str, dict[str, Any]] = {
    "legacy-openai": {
        sc.GEN_AI_SYSTEM: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.LEGACY_PROMPT_TOKENS: 120,
        sc.LEGACY_COMPLETION_TOKENS: 30,
    },
    "counts-as-strings": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4.1",
        sc.LEGACY_PROMPT_TOKENS: "1200",
        sc.LEGACY_COMPLETION_TOKENS: "+30",
        sc.LEGACY_REASONING_TOKENS: "0",
    },
    "counts-as-doubles": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_RESPONSE_MODEL: "o3-mini",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 100.0,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20.0,
    },
    "invalid-current-names-fall-back": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_USAGE_INPUT_TOKENS: -1,
        sc.LEGACY_PROMPT_TOKENS: 50,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: "abc",
        sc.LEGACY_COMPLETION_TOKENS: 1.5,
        sc.OPENINFERENCE_COMPLETION_TOKENS: 9,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: True,
        sc.LEGACY_CACHE_READ_TOKENS: 10,
    },
    "openinference": {
        sc.OPENINFERENCE_MODEL_NAME: "gpt-4o",
        sc.OPENINFERENCE_PROVIDER: "openai",
        sc.OPENINFERENCE_PROMPT_TOKENS: 1000,
        sc.OPENINFERENCE_COMPLETION_TOKENS: 200,
        sc.OPENINFERENCE_CACHE_READ_TOKENS: 300,
        sc.OPENINFERENCE_REASONING_TOKENS: 50,
    },
    "anthropic-legacy-exclusive-input": {
        sc.GEN_AI_SYSTEM: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-3-5-sonnet-20241022",
        sc.LEGACY_PROMPT_TOKENS: 100,
        sc.LEGACY_CACHE_READ_TOKENS: 2000,
        sc.LEGACY_CACHE_CREATION_TOKENS: 500,
        sc.LEGACY_COMPLETION_TOKENS: 50,
    },
    "anthropic-legacy-input-above-cache": {  # an older name means exclusive even when it exceeds the cache
        sc.GEN_AI_SYSTEM: "anthropic",
        sc.GEN_AI_RESPONSE_MODEL: "claude-opus-4-5-20251101",
        sc.LEGACY_PROMPT_TOKENS: "3000",
        sc.LEGACY_CACHE_READ_TOKENS: 1000,
        sc.LEGACY_COMPLETION_TOKENS: 70,
    },
    "anthropic-current-names-exclusive": {
        sc.GEN_AI_PROVIDER_NAME: "Anthropic",
        sc.GEN_AI_RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
    },
    "anthropic-current-names-inclusive": {
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_RESPONSE_MODEL: "claude-haiku-4-5",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3000,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 200,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
    },
    "anthropic-openinference-cache-write": {
        sc.OPENINFERENCE_MODEL_NAME: "claude-opus-4-1",
        sc.OPENINFERENCE_PROVIDER: "anthropic",
        sc.OPENINFERENCE_PROMPT_TOKENS: 40,
        sc.OPENINFERENCE_CACHE_WRITE_TOKENS: 4000,
        sc.OPENINFERENCE_COMPLETION_TOKENS: 400,
    },
    "provider-prefix-is-not-a-provider-for-the-anthropic-rule": {
        sc.GEN_AI_REQUEST_MODEL: "anthropic/claude-sonnet-4-5",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
    },
    "cache-read-above-input-is-capped": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 500,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1,
    },
    "cache-write-above-the-rest-is-capped": {
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-3-7-sonnet-20250219",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 900,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 600,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 400,
    },
    "response-model-wins": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-05-13",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
    },
    "empty-response-model-falls-back": {
        sc.GEN_AI_PROVIDER_NAME: "OPENAI",
        sc.GEN_AI_RESPONSE_MODEL: "",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4.1-nano",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
    },
    "tier-above-200k": {
        sc.GEN_AI_PROVIDER_NAME: "gcp.gemini",
        sc.GEN_AI_REQUEST_MODEL: "gemini-2.5-pro",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 250_000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3000,
    },
    "llm-kind-without-model-or-tokens": {sc.SPAN_KIND: sc.KIND_LLM},
    "unknown-model": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "my-private-model",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1,
        sc.COST_INPUT: 9.0,  # client-sent: never trusted, dropped
    },
    "client-sent-source-replaced": {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-5",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1,
        sc.COST_SOURCE: "made-up",
        sc.COST_OUTPUT: 3.0,
    },
}

NON_LLM_CASES: dict[str, dict[str, Any]] = {
    "plain": {"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200},
    "tool": {sc.SPAN_KIND: sc.KIND_TOOL, sc.GEN_AI_TOOL_NAME: "search", sc.GEN_AI_OPERATION_NAME: "execute_tool"},
    "session-root": {
        sc.SPAN_KIND: sc.KIND_SESSION,
        sc.SESSION_ID: "0b7d4a52-5a5b-4e8f-8f6c-2f3f6c1b9c11",
        sc.SESSION_TAGS: ("a", "b"),
    },
    "model-without-tokens": {sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_PROVIDER_NAME: "openai"},
    "tokens-without-model": {sc.GEN_AI_USAGE_INPUT_TOKENS: 5, sc.LEGACY_COMPLETION_TOKENS: "7"},
    "empty-model-with-tokens": {sc.GEN_AI_REQUEST_MODEL: "", sc.GEN_AI_USAGE_INPUT_TOKENS: 5},
    "cost-on-a-non-llm-span": {sc.GEN_AI_USAGE_COST: 1.5, "x": True},
}


def _model_and_provider(attrs: dict[str, Any]) -> str:
    return f"{attrs[sc.GEN_AI_REQUEST_MODEL]} with {attrs.get(sc.GEN_AI_PROVIDER_NAME)!r}"


def _check(
    otelcol: Otelcol,
    cases: dict[str, dict[str, Any]],
    expected: dict[str, dict[str, Any]],
    describe: Callable[[dict[str, Any]], str] | None = None,
    relative: float = 0.0,
) -> None:
    received = otelcol.wait_for_names(list(cases))
    problems = {}
    for name, attrs in cases.items():
        diff = attribute_differences(received[name]["attributes"], expected[name], relative=relative)
        if diff:
            problems[describe(attrs) if describe else name] = diff
    assert not problems, f"{len(problems)} of {len(cases)} spans differ: {dict(list(problems.items())[:12])}"
    assert "failed to execute statement" not in otelcol.log()  # no OTTL statement errs, even on odd input


def test_every_curated_model_costs_what_the_python_collector_says(otelcol: Otelcol) -> None:
    cases = dict(curated_cases())
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    for name, attrs in expected.items():  # the Python side prices them all: the comparison is not vacuous
        assert attrs[sc.COST_SOURCE] == PRICE_SOURCE, (name, cases[name])
        assert isinstance(attrs[sc.GEN_AI_USAGE_COST], float)
    assert sum(1 for attrs in expected.values() if attrs[sc.GEN_AI_USAGE_COST] > 0) > len(cases) * 0.9
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected)


def test_every_curated_model_costs_what_the_python_collector_says_with_every_provider_name(otelcol: Otelcol) -> None:
    """Not only the home provider: Azure's gpt-4o, Vertex's and Bedrock's Claude, each at that provider's price."""
    cases = dict(provider_cases(known_provider_names(), "provider"))
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    priced = {
        (attrs[sc.GEN_AI_REQUEST_MODEL], attrs[sc.GEN_AI_PROVIDER_NAME])
        for name, attrs in cases.items()
        if expected[name][sc.COST_SOURCE] == PRICE_SOURCE
    }
    assert len(priced) > len(cases) * 0.8  # Bedrock's own model ids are priced for AWS's provider names only
    assert {("gpt-4o", "azure.ai.openai"), ("claude-sonnet-4-5", "gcp.vertex_ai"), ("claude-opus-4-5", "aws")} <= priced
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected, _model_and_provider)  # every attribute (cost source too), costs to 1e-12


def test_a_provider_name_genai_prices_does_not_know_is_priced_as_the_python_collector_prices_it(
    otelcol: Otelcol,
) -> None:
    cases = dict(provider_cases(UNKNOWN_PROVIDER_NAMES, "unknown-provider"))
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    priced = {
        (attrs[sc.GEN_AI_REQUEST_MODEL], attrs[sc.GEN_AI_PROVIDER_NAME])
        for name, attrs in cases.items()
        if expected[name][sc.COST_SOURCE] == PRICE_SOURCE
    }
    assert {("gpt-4o", "litellm"), ("gpt-4o", "my-proxy"), ("claude-opus-4-5", "ibm.watsonx.ai")} <= priced
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected, _model_and_provider)


def bedrock_arns(model_id: str) -> list[str]:
    return [
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{model_id}",
        f"ARN:AWS:BEDROCK:eu-west-3::foundation-model/{model_id}",
        f"arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/{model_id}",
    ]


def test_bedrock_arns_cost_what_the_python_collector_says_with_every_provider_name(otelcol: Otelcol) -> None:
    """A Bedrock model or inference profile named by its ARN is priced as its id; an application
    inference profile (an opaque id) is unpriced on both sides."""
    rng = random.Random(7)
    ids = [name for home, name in CURATED_MODELS if home == "aws.bedrock"]
    arns = [arn for model_id in ids for arn in bedrock_arns(model_id)]
    arns.append("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6")
    cases = {}
    for arn in arns:
        for provider in [None, *known_provider_names()]:
            attrs = {sc.GEN_AI_REQUEST_MODEL: arn, **({sc.GEN_AI_PROVIDER_NAME: provider} if provider else {})}
            cases[f"arn-{len(cases)}"] = {**attrs, **_usage(rng, rng.randint(1, 300_000))}
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    priced = {
        (attrs[sc.GEN_AI_REQUEST_MODEL], attrs.get(sc.GEN_AI_PROVIDER_NAME))
        for name, attrs in cases.items()
        if expected[name][sc.COST_SOURCE] == PRICE_SOURCE
    }
    assert {(arn, "aws.bedrock") for arn in arns[:-1]} <= priced  # every ARN of a curated id: not vacuous
    assert not any(model == arns[-1] for model, _ in priced)
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(
        otelcol,
        cases,
        expected,
        lambda attrs: f"{attrs[sc.GEN_AI_REQUEST_MODEL]} with {attrs.get(sc.GEN_AI_PROVIDER_NAME)!r}",
    )


def test_tokens_are_normalised_and_priced_like_the_python_collector(otelcol: Otelcol) -> None:
    cases = {f"norm-{name}": attrs for name, attrs in NORMALISATION_CASES.items()}
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected)
    received = otelcol.wait_for_names(list(cases))
    legacy = received["norm-anthropic-legacy-exclusive-input"]["attributes"]
    assert legacy[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2600  # 100 uncached + 2000 read + 500 written
    assert received["norm-unknown-model"]["attributes"][sc.COST_SOURCE] == UNKNOWN_MODEL_SOURCE
    assert sc.COST_INPUT not in received["norm-unknown-model"]["attributes"]


# Anthropic input counts: which older name they come from decides whether cache tokens are added.
# name -> (attributes, the gen_ai.usage.input_tokens written)
ANTHROPIC_INPUT_CASES: dict[str, tuple[dict[str, Any], int]] = {
    "openinference-prompt-above-cache": (  # OpenInference's prompt count already includes the cache
        {
            sc.OPENINFERENCE_MODEL_NAME: "claude-sonnet-4-5",
            sc.OPENINFERENCE_PROVIDER: "anthropic",
            sc.OPENINFERENCE_PROMPT_TOKENS: 1500,
            sc.OPENINFERENCE_CACHE_READ_TOKENS: 1000,
            sc.OPENINFERENCE_CACHE_WRITE_TOKENS: 200,
            sc.OPENINFERENCE_COMPLETION_TOKENS: 40,
        },
        1500,
    ),
    "openinference-prompt-equal-to-cache": (
        {
            sc.OPENINFERENCE_MODEL_NAME: "claude-haiku-4-5",
            sc.OPENINFERENCE_PROVIDER: "Anthropic",
            sc.OPENINFERENCE_PROMPT_TOKENS: "1200",
            sc.OPENINFERENCE_CACHE_READ_TOKENS: 1000,
            sc.OPENINFERENCE_CACHE_WRITE_TOKENS: 200,
        },
        1200,
    ),
    "openinference-prompt-with-current-cache-names": (
        {
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-opus-4-5",
            sc.OPENINFERENCE_PROMPT_TOKENS: 5000,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 4000,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        },
        5000,
    ),
    "openinference-prompt-below-cache": (  # smaller than its cache tokens: exclusive whatever its name
        {
            sc.OPENINFERENCE_MODEL_NAME: "claude-sonnet-4-5",
            sc.OPENINFERENCE_PROVIDER: "anthropic",
            sc.OPENINFERENCE_PROMPT_TOKENS: 300,
            sc.OPENINFERENCE_CACHE_READ_TOKENS: 1000,
            sc.OPENINFERENCE_CACHE_WRITE_TOKENS: 200,
            sc.OPENINFERENCE_COMPLETION_TOKENS: 40,
        },
        1500,
    ),
    "legacy-prompt-above-cache": (  # gen_ai.usage.prompt_tokens is Anthropic's own, exclusive count
        {
            sc.GEN_AI_SYSTEM: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.LEGACY_PROMPT_TOKENS: 1500,
            sc.OPENINFERENCE_CACHE_READ_TOKENS: 1000,
            sc.LEGACY_CACHE_CREATION_TOKENS: 200,
            sc.LEGACY_COMPLETION_TOKENS: 40,
        },
        2700,
    ),
    "invalid-current-name-falls-back-to-openinference": (
        {
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.GEN_AI_USAGE_INPUT_TOKENS: "n/a",
            sc.OPENINFERENCE_PROMPT_TOKENS: 1500,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        },
        1500,
    ),
    "invalid-legacy-name-falls-back-to-openinference": (
        {
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.LEGACY_PROMPT_TOKENS: -3,
            sc.OPENINFERENCE_PROMPT_TOKENS: 1500,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        },
        1500,
    ),
    "invalid-current-name-falls-back-to-legacy": (
        {
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 1.5,
            sc.LEGACY_PROMPT_TOKENS: 1500,
            sc.OPENINFERENCE_PROMPT_TOKENS: 9,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        },
        2500,
    ),
}


def test_anthropic_cache_tokens_are_added_to_the_legacy_prompt_count_only(otelcol: Otelcol) -> None:
    """llm.token_count.prompt includes cache tokens (added only when smaller than them); prompt_tokens does not."""
    cases = {f"anthropic-input-{name}": attrs for name, (attrs, _) in ANTHROPIC_INPUT_CASES.items()}
    want = {f"anthropic-input-{name}": tokens for name, (_, tokens) in ANTHROPIC_INPUT_CASES.items()}
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    assert {name: attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] for name, attrs in expected.items()} == want
    assert all(attrs[sc.COST_SOURCE] == PRICE_SOURCE for attrs in expected.values())
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected)
    received = otelcol.wait_for_names(list(cases))
    assert {name: span["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] for name, span in received.items()} == want


MAX = usage.MAX_COUNT
BELOW_2_63 = 9223372036854774784.0  # the largest double below 2**63
# name -> (attributes, the gen_ai.usage.* counts written; a count absent here is left as sent)
INT64_CASES: dict[str, tuple[dict[str, Any], dict[str, int]]] = {
    "strings-up-to-max": (
        {
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_INPUT_TOKENS: str(MAX),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: "+0000000000000000000000042",
            sc.LEGACY_CACHE_READ_TOKENS: "09223372036854775806",
            sc.LEGACY_REASONING_TOKENS: "-00000000000000000000",
        },
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: MAX,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 42,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: MAX - 1,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
        },
    ),
    "strings-past-max-are-not-counts": (
        {
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_INPUT_TOKENS: str(MAX + 1),
            sc.LEGACY_PROMPT_TOKENS: "50",
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: "99999999999999999999",  # no older name: left as sent
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: "-9223372036854775809",
        },
        {sc.GEN_AI_USAGE_INPUT_TOKENS: 50},
    ),
    "doubles-up-to-2-63": (
        {
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_INPUT_TOKENS: BELOW_2_63,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: float(2**63),  # past int64: the older name's count
            sc.LEGACY_COMPLETION_TOKENS: 7,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 1e19,  # no valid older name: left as sent
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: -float(2**63),
        },
        {sc.GEN_AI_USAGE_INPUT_TOKENS: int(BELOW_2_63), sc.GEN_AI_USAGE_OUTPUT_TOKENS: 7},
    ),
    "anthropic-sum-past-max-is-not-added": (
        {
            sc.GEN_AI_SYSTEM: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.LEGACY_PROMPT_TOKENS: MAX - 5,
            sc.LEGACY_CACHE_READ_TOKENS: 4,
            sc.LEGACY_CACHE_CREATION_TOKENS: 2,
        },
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: MAX - 5,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 4,
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 2,
        },
    ),
    "anthropic-sum-reaching-max-is-added": (
        {
            sc.GEN_AI_SYSTEM: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.LEGACY_PROMPT_TOKENS: MAX - 10,
            sc.LEGACY_CACHE_READ_TOKENS: 4,
            sc.LEGACY_CACHE_CREATION_TOKENS: 6,
        },
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: MAX,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 4,
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 6,
        },
    ),
    "anthropic-input-below-a-cache-of-max": (
        {
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 5,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: MAX,
        },
        {sc.GEN_AI_USAGE_INPUT_TOKENS: 5, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: MAX},
    ),
    "anthropic-cache-tokens-summing-past-max": (  # cache read + creation alone pass int64
        {
            sc.GEN_AI_SYSTEM: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            sc.LEGACY_PROMPT_TOKENS: 5,
            sc.LEGACY_CACHE_READ_TOKENS: MAX,
            sc.LEGACY_CACHE_CREATION_TOKENS: MAX,
        },
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: 5,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: MAX,
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: MAX,
        },
    ),
}


def test_counts_outside_int64_are_left_as_sent_and_sums_never_pass_it(otelcol: Otelcol) -> None:
    cases = {f"int64-{name}": attrs for name, (attrs, _) in INT64_CASES.items()}
    want = {f"int64-{name}": counts for name, (_, counts) in INT64_CASES.items()}
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    for name, attrs in expected.items():  # the Python collector's rules, as the cases say
        assert usage.normalised_usage(cases[name]) == want[name], name
        assert attrs[sc.COST_SOURCE] == PRICE_SOURCE, name
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected, relative=1e-12)  # costs near 1e13 USD: compared to 12 digits


def test_non_llm_spans_pass_unchanged(otelcol: Otelcol) -> None:
    cases = {f"plain-{name}": attrs for name, attrs in NON_LLM_CASES.items()}
    send_spans(otelcol.http_endpoint, list(cases.items()))
    expected = {name: {k: list(v) if isinstance(v, tuple) else v for k, v in a.items()} for name, a in cases.items()}
    _check(otelcol, cases, expected)


def test_a_cost_the_sender_set_follows_the_python_collectors_rule(otelcol: Otelcol) -> None:
    """Kept as agentops.cost.sender; ours where we have a price, the sender's only where we do not."""
    known = {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.LEGACY_PROMPT_TOKENS: 1000,
        sc.LEGACY_COMPLETION_TOKENS: 10,
        sc.GEN_AI_USAGE_COST: 0.5,
        sc.COST_SOURCE: "upstream",
        sc.COST_INPUT: 0.4,
    }
    unknown = {**known, sc.GEN_AI_REQUEST_MODEL: "house-model", sc.GEN_AI_USAGE_COST: 0.00045}
    cases = {
        "sender-known": known,
        "sender-unknown": unknown,
        "sender-int": {**unknown, sc.GEN_AI_USAGE_COST: 2},
        "sender-negative": {**unknown, sc.GEN_AI_USAGE_COST: -1.0},
        "sender-zero": {**unknown, sc.GEN_AI_USAGE_COST: 0.0},  # OpenLIT's cost of a model it cannot price
        "sender-int-zero": {**unknown, sc.GEN_AI_USAGE_COST: 0},
        "sender-string": {**unknown, sc.GEN_AI_USAGE_COST: "0.1"},
        "sender-no-usage": {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_COST: 0.2,
        },
        "no-usage": {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.COST_SENDER: 9.0},
    }
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    assert expected["sender-known"][sc.COST_SOURCE] == PRICE_SOURCE
    assert expected["sender-known"][sc.COST_SENDER] == 0.5 != expected["sender-known"][sc.GEN_AI_USAGE_COST]
    assert expected["sender-unknown"][sc.GEN_AI_USAGE_COST] == 0.00045
    assert expected["sender-unknown"][sc.COST_SOURCE] == usage.SENDER_SOURCE
    assert expected["sender-negative"][sc.COST_SOURCE] == UNKNOWN_MODEL_SOURCE
    for zero in ("sender-zero", "sender-int-zero"):
        assert expected[zero][sc.COST_SOURCE] == UNKNOWN_MODEL_SOURCE and expected[zero][sc.COST_SENDER] == 0
    assert expected["no-usage"][sc.COST_SOURCE] == usage.NO_USAGE_SOURCE and sc.COST_SENDER not in expected["no-usage"]
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected)


def test_spans_of_other_conventions_are_llm_calls_as_the_python_collector_says(otelcol: Otelcol) -> None:
    chat = {sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 10, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2}
    cases = {
        "conv-operation": {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o"},
        "conv-openinference": {sc.OPENINFERENCE_SPAN_KIND: "LLM", sc.OPENINFERENCE_MODEL_NAME: "gpt-4o"},
        "conv-request-type": {sc.LEGACY_LLM_REQUEST_TYPE: "chat"},
        "conv-tool-with-usage": {sc.GEN_AI_OPERATION_NAME: "execute_tool", **chat},
        "conv-chain-with-usage": {sc.OPENINFERENCE_SPAN_KIND: "CHAIN", **chat},
        "conv-workflow-with-usage": {sc.TRACELOOP_SPAN_KIND: "workflow", **chat},
        "conv-ours-first": {sc.SPAN_KIND: "action", sc.GEN_AI_OPERATION_NAME: "chat", **chat},
        "conv-unknown-operation": {sc.GEN_AI_OPERATION_NAME: "rerank", **chat},
    }
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    llm = {name for name, attrs in expected.items() if sc.COST_SOURCE in attrs}
    assert llm == {
        "conv-operation",
        "conv-openinference",
        "conv-request-type",
        "conv-unknown-operation",
    }
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected)


def test_the_grpc_receiver_runs_the_same_transform(otelcol: Otelcol) -> None:
    cases = {f"grpc-{name}": attrs for name, attrs in list(NORMALISATION_CASES.items())[:6]}
    send_spans(otelcol.grpc_endpoint, list(cases.items()), grpc=True)
    _check(otelcol, cases, {name: enrich_attributes(attrs) for name, attrs in cases.items()})


def test_a_model_outside_the_curated_list_is_unknown_to_the_yaml(otelcol: Otelcol) -> None:
    """Documented limit: the YAML prices only curated names; the Python collector prices every genai-prices model."""
    attrs = {
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini-realtime-preview",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
    }
    assert enrich_attributes(attrs)[sc.COST_SOURCE] == PRICE_SOURCE
    send_spans(otelcol.http_endpoint, [("uncurated", attrs)])
    got = otelcol.wait_for_names(["uncurated"])["uncurated"]["attributes"]
    assert got[sc.COST_SOURCE] == UNKNOWN_MODEL_SOURCE and sc.GEN_AI_USAGE_COST not in got


@pytest.mark.parametrize(
    "env",
    [
        {},
        {
            "AGENTOPS_OTELCOL_EXPORTERS": "[otlp_http/agentops, otlp_http/backend, debug]",
            "AGENTOPS_OTELCOL_BACKEND_ENDPOINT": "http://127.0.0.1:9",
            "AGENTOPS_OTELCOL_BACKEND_HEADERS": '{authorization: "Bearer x", x-team: t}',
            "AGENTOPS_OTELCOL_DEBUG_VERBOSITY": "detailed",
        },
    ],
    ids=["defaults", "all-exporters"],
)
def test_otelcol_validate_accepts_the_file(otelcol_bin: Path, env: dict[str, str]) -> None:
    result = validate(otelcol_bin, env=env)
    assert result.returncode == 0, result.stderr


def test_otelcol_validate_rejects_a_broken_statement(otelcol_bin: Path, tmp_path: Path) -> None:
    """validate parses the OTTL, so the test above would catch a statement the collector cannot run."""
    from tests.otelcol.otelcol import CONFIG

    broken = tmp_path / "broken.yaml"
    broken.write_text(CONFIG.read_text().replace("set(span.cache", "sett(span.cache", 1))
    result = validate(otelcol_bin, config=broken)
    assert result.returncode != 0
    assert "sett" in result.stderr


def test_a_local_provider_costs_zero_said_so_like_the_python_collector(otelcol: Otelcol) -> None:
    """Ollama's models run locally: cost 0 with source "local", not an unknown model; another provider's
    span naming the same model is still unknown (the provider decides, in any case)."""
    cases = {
        "ollama": {
            sc.GEN_AI_PROVIDER_NAME: "ollama",
            sc.GEN_AI_REQUEST_MODEL: "llama3.2",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 13,
        },
        "ollama-system": {
            sc.GEN_AI_SYSTEM: "Ollama",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",  # a local model named like a priced one is still local
            sc.GEN_AI_USAGE_INPUT_TOKENS: 5,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
        },
        "not-local": {
            sc.GEN_AI_PROVIDER_NAME: "my-proxy",
            sc.GEN_AI_REQUEST_MODEL: "llama3.2",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 1,
        },
    }
    expected = {name: enrich_attributes(attrs) for name, attrs in cases.items()}
    assert expected["ollama"][sc.COST_SOURCE] == expected["ollama-system"][sc.COST_SOURCE] == LOCAL_SOURCE
    assert expected["ollama-system"][sc.GEN_AI_USAGE_COST] == 0.0
    assert expected["not-local"][sc.COST_SOURCE] == UNKNOWN_MODEL_SOURCE
    send_spans(otelcol.http_endpoint, list(cases.items()))
    _check(otelcol, cases, expected)
