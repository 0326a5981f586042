"""The enrichment as a plain function: normalised tokens, cost from pricing.py, untrusted keys dropped."""

from __future__ import annotations

from agentops_otel import pricing
from agentops_otel import semconv as sc
from agentops_otel.collector.enrich import enrich_attributes, enrichment
from agentops_otel.pricing import TokenUsage


def expected_cost(model: str, provider: str | None, usage: TokenUsage) -> pricing.Cost:
    rates = pricing.rates_for(model, provider)
    assert rates is not None
    return pricing.cost_of(usage, rates)


def test_contract_attributes_get_cost_and_source():
    attrs = {
        sc.SPAN_KIND: sc.KIND_LLM,
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1200,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1024,
    }
    out = enrich_attributes(attrs, project_id="project-x")
    cost = expected_cost("gpt-4o-2024-08-06", "openai", TokenUsage(1200, 300, 1024))
    assert out[sc.GEN_AI_USAGE_COST] == float(cost.total)
    assert out[sc.COST_INPUT] == float(cost.input)
    assert out[sc.COST_OUTPUT] == float(cost.output)
    assert out[sc.COST_SOURCE] == pricing.PRICE_SOURCE
    assert out[sc.PROJECT_ID] == "project-x"
    assert out[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert attrs.get(sc.GEN_AI_USAGE_COST) is None, "the input mapping is not modified"
    # cache reads are cheaper than fresh input: the cached price really applied
    uncached = expected_cost("gpt-4o-2024-08-06", "openai", TokenUsage(1200, 300))
    assert cost.input < uncached.input


def test_older_conventions_are_normalised():
    attrs = {
        sc.GEN_AI_SYSTEM: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.LEGACY_PROMPT_TOKENS: 100,
        sc.LEGACY_COMPLETION_TOKENS: 50,
        sc.LEGACY_REASONING_TOKENS: 7,
    }
    out = enrich_attributes(attrs)
    assert out[sc.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert out[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert out[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 7
    assert out[sc.LEGACY_PROMPT_TOKENS] == 100, "older names are kept beside the contract's"
    cost = expected_cost("gpt-4o-mini", "openai", TokenUsage(100, 50, reasoning_tokens=7))
    assert out[sc.GEN_AI_USAGE_COST] == float(cost.total)


def test_openinference_and_provider_prefix():
    attrs = {
        sc.OPENINFERENCE_MODEL_NAME: "anthropic/claude-3-5-sonnet-20241022",
        sc.OPENINFERENCE_PROMPT_TOKENS: 10,
        sc.OPENINFERENCE_COMPLETION_TOKENS: 20,
    }
    found = enrichment(attrs)
    assert found.is_llm and found.cost is not None
    assert found.cost == expected_cost("claude-3-5-sonnet-20241022", "anthropic", TokenUsage(10, 20)).total


def test_anthropic_exclusive_input_count_includes_cache():
    attrs = {
        sc.SPAN_KIND: sc.KIND_LLM,
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-3-5-sonnet-20241022",
        sc.LEGACY_PROMPT_TOKENS: 5,  # Anthropic's own count: cache excluded
        sc.LEGACY_CACHE_READ_TOKENS: 1000,
        sc.LEGACY_CACHE_CREATION_TOKENS: 200,
        sc.LEGACY_COMPLETION_TOKENS: 30,
    }
    out = enrich_attributes(attrs)
    assert out[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1205
    assert out[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1000
    assert out[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 200
    cost = expected_cost("claude-3-5-sonnet-20241022", "anthropic", TokenUsage(1205, 30, 1000, 200))
    assert enrichment(attrs).cost == cost.total


def test_openinference_anthropic_prompt_count_already_includes_cache():
    # openinference-instrumentation-anthropic: prompt = input + cache creation + cache read
    attrs = {
        sc.OPENINFERENCE_MODEL_NAME: "claude-3-5-sonnet-20241022",
        sc.OPENINFERENCE_PROVIDER: "anthropic",
        sc.OPENINFERENCE_PROMPT_TOKENS: 1205,
        sc.OPENINFERENCE_CACHE_READ_TOKENS: 1000,
        sc.OPENINFERENCE_CACHE_WRITE_TOKENS: 200,
        sc.OPENINFERENCE_COMPLETION_TOKENS: 30,
    }
    out = enrich_attributes(attrs)
    assert out[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1205, "cache tokens are not added a second time"
    cost = expected_cost("claude-3-5-sonnet-20241022", "anthropic", TokenUsage(1205, 30, 1000, 200))
    assert enrichment(attrs).cost == cost.total
    # a prompt count smaller than its cache tokens cannot include them: still treated as exclusive
    smaller = enrich_attributes({**attrs, sc.OPENINFERENCE_PROMPT_TOKENS: 5})
    assert smaller[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1205


def test_unknown_model_has_no_cost_and_says_so():
    attrs = {sc.SPAN_KIND: sc.KIND_LLM, sc.GEN_AI_REQUEST_MODEL: "no-such-model-xyz", sc.GEN_AI_USAGE_INPUT_TOKENS: 3}
    out = enrich_attributes(attrs)
    assert out[sc.COST_SOURCE] == pricing.UNKNOWN_MODEL_SOURCE
    assert sc.GEN_AI_USAGE_COST not in out and sc.COST_INPUT not in out and sc.COST_OUTPUT not in out


def test_local_provider_costs_zero_and_says_so():
    attrs = {sc.GEN_AI_PROVIDER_NAME: "ollama", sc.GEN_AI_REQUEST_MODEL: "llama3.2", sc.GEN_AI_USAGE_INPUT_TOKENS: 13}
    out = enrich_attributes(attrs)
    assert out[sc.COST_SOURCE] == pricing.LOCAL_SOURCE
    assert out[sc.GEN_AI_USAGE_COST] == out[sc.COST_INPUT] == out[sc.COST_OUTPUT] == 0.0
    assert enrichment(attrs).cost == 0  # counted in session totals as known, not as an unknown model


def test_client_sent_cost_and_project_are_never_trusted():
    attrs = {
        sc.SPAN_KIND: sc.KIND_LLM,
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_COST: 1000.0,
        sc.COST_INPUT: 999.0,
        sc.COST_SOURCE: "client",
        sc.PROJECT_ID: "someone-else",
    }
    out = enrich_attributes(attrs, project_id="mine")
    assert out[sc.GEN_AI_USAGE_COST] < 1
    assert out[sc.COST_SOURCE] == pricing.PRICE_SOURCE
    assert out[sc.COST_SENDER] == 1000.0, "the sender's cost stays visible, ours is used"
    assert out[sc.PROJECT_ID] == "mine"
    # on a non-LLM span the untrusted keys go too
    tool = enrich_attributes({sc.SPAN_KIND: sc.KIND_TOOL, sc.GEN_AI_USAGE_COST: 5.0, sc.PROJECT_ID: "x"})
    assert tool == {sc.SPAN_KIND: sc.KIND_TOOL, sc.COST_SENDER: 5.0}, "the sender's cost stays visible, unused"


def test_non_llm_spans_are_unchanged():
    attrs = {sc.SPAN_KIND: sc.KIND_TOOL, sc.GEN_AI_TOOL_NAME: "search", "x": 1}
    assert enrich_attributes(attrs) == attrs
    assert not enrichment(attrs).is_llm
