"""pricing.py (shared by the collector, the SDK's analytics and the otel-collector.yaml generator):
what it keeps per model name stays bounded, whatever names clients send."""

from __future__ import annotations

import logging
import subprocess
import sys
import tracemalloc
import uuid

import pytest

from agentops_otel import pricing

USAGE = pricing.TokenUsage(input_tokens=10, output_tokens=1)


def test_an_unknown_model_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    name = f"never-a-model-{uuid.uuid4()}"
    with caplog.at_level(logging.WARNING, logger=pricing.__name__):
        for _ in range(3):
            assert pricing.llm_cost(name, "openai", USAGE) is None
        assert pricing.llm_cost(name + "-2", "openai", USAGE) is None
    warned = [r.getMessage() for r in caplog.records if "no price known" in r.getMessage()]
    assert len(warned) == 2 and name in warned[0]


def test_invented_model_names_neither_grow_memory_nor_evict_the_priced_models(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=pricing.__name__)  # 4,400 warnings would be records kept in memory
    monkeypatch.setattr(pricing, "NAME_CACHE_SIZE", 100)
    assert pricing.rates_for("gpt-4o") is not None
    prefix = f"invented-{uuid.uuid4()}"

    def invent(start: int, count: int) -> None:
        for i in range(start, start + count):
            assert pricing.llm_cost(f"{prefix}-{i}", None, USAGE) is None

    invent(0, 300)  # every bounded cache full
    tracemalloc.start()
    try:
        before, _peak = tracemalloc.get_traced_memory()
        invent(300, 4200)  # more names than the priced models' cache holds
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"{grown} bytes kept for 4,200 invented names"

    lookups = []
    real_calc_price = pricing._calc_price
    monkeypatch.setattr(pricing, "_calc_price", lambda *a, **k: lookups.append(a) or real_calc_price(*a, **k))
    assert pricing.rates_for("gpt-4o") is not None
    assert lookups == []  # still cached: no genai-prices lookup


def test_a_genai_prices_without_the_internals_trimmed_still_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """genai-prices' memos are trimmed through its private internals: another version may lack them."""
    code = (
        "import sys, types, genai_prices\n"
        "sys.modules['genai_prices.data_snapshot'] = types.ModuleType('genai_prices.data_snapshot')\n"
        "from agentops_otel import pricing\n"
        "assert pricing._get_snapshot is None\n"
        "assert pricing.rates_for('gpt-4o') is not None and pricing.rates_for('invented-model') is None\n"
        "print('priced')\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0 and child.stdout == "priced\n", child.stderr

    class Odd:  # memos of another shape, or none at all
        _lookup_cache = ["not", "a", "dict"]
        _provider_misses = None

    def broken() -> None:
        raise AttributeError("no snapshot here")

    monkeypatch.setattr(pricing, "NAME_CACHE_SIZE", 1)
    for snapshot in (broken, Odd, object):
        monkeypatch.setattr(pricing, "_get_snapshot", snapshot)
        assert pricing.rates_for(f"invented-{uuid.uuid4()}") is None
        assert pricing.rates_for("gpt-4o-mini", f"provider-{uuid.uuid4()}") is not None


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
        "arn:aws:bedrock:eu-west-3::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
        "ARN:AWS-US-GOV:BEDROCK:us-gov-west-1:123456789012:inference-profile/us-gov.anthropic.claude-sonnet-4-20250514-v1:0",
    ],
)
def test_a_bedrock_arn_is_priced_as_the_model_id_it_names(arn: str) -> None:
    model_id = arn.rsplit("/", 1)[1]
    rates = pricing.rates_for(arn, "aws.bedrock")
    assert rates is not None and rates == pricing.rates_for(model_id, "aws.bedrock")
    assert rates.provider == "aws"


def test_an_application_inference_profile_arn_is_not_priced() -> None:
    opaque = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    assert pricing.rates_for(opaque, "aws.bedrock") is None
