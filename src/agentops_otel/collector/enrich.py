"""Cost and token attributes a collector adds to a span, as a plain function over attributes.

The rules live in :mod:`agentops_otel.meaning` (which spans are LLM calls),
:mod:`agentops_otel.usage` (token normalisation, :func:`~agentops_otel.usage.span_price`) and
:mod:`agentops_otel.pricing` (rates); this module only decides which attributes a collector writes.
The OTTL generated for ``otel-collector.yaml`` is checked against :func:`enrich_attributes`.

Written for every span, whatever the client sent:
- cost attributes and ``agentops.project.id`` are dropped first (never trusted from a client); a
  ``gen_ai.usage.cost`` the sender set is kept, as sent, under ``agentops.cost.sender``;
- on LLM spans, the contract's ``gen_ai.usage.*`` counts (normalised from older conventions) and
  ``agentops.cost.source``; when the cost is known, ``gen_ai.usage.cost`` (USD, double): ours, or
  the sender's when we have no price for its model (``agentops.cost.source = sender``), and with
  ours ``agentops.cost.input`` and ``agentops.cost.output``. An LLM call without a cost has
  ``agentops.cost.source`` ``no-usage`` or ``unknown-model``;
- ``agentops.project.id`` when the collector knows the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel import usage
from agentops_otel.meaning import classify

# Attributes only a collector may set: whatever a client sent under these names is discarded
# (gen_ai.usage.cost is first kept as agentops.cost.sender).
UNTRUSTED_KEYS: frozenset[str] = frozenset(
    {sc.PROJECT_ID, sc.GEN_AI_USAGE_COST, sc.COST_INPUT, sc.COST_OUTPUT, sc.COST_SOURCE, sc.COST_SENDER}
)


@dataclass(frozen=True)
class Enrichment:
    """What the collector computed for one span (exact Decimals, for the store's rollup)."""

    is_llm: bool
    usage: Mapping[str, int]  # the contract's gen_ai.usage.* counts the span reports
    cost: Decimal | None  # None: not an LLM span, or its cost cannot be known (unpriced)
    cost_input: Decimal | None  # None also for a sender's cost (no split)
    cost_output: Decimal | None
    source: str | None  # agentops.cost.source for LLM spans
    model: str | None

    def attributes(self) -> dict[str, Any]:
        """The attributes this enrichment writes onto the span (project id aside)."""
        if not self.is_llm:
            return {}
        out: dict[str, Any] = dict(self.usage)
        out[sc.COST_SOURCE] = self.source
        if self.cost is not None:
            out[sc.GEN_AI_USAGE_COST] = float(self.cost)
        if self.cost_input is not None and self.cost_output is not None:
            out[sc.COST_INPUT] = float(self.cost_input)
            out[sc.COST_OUTPUT] = float(self.cost_output)
        return out


NOT_LLM = Enrichment(False, {}, None, None, None, None, None)


def llm_enrichment(attrs: Mapping[str, Any]) -> Enrichment:
    """Usage and cost of an LLM span; ``attrs`` holds the sender's ``gen_ai.usage.cost`` if it set one."""
    counts = usage.normalised_usage(attrs)
    price = usage.span_price(attrs, counts)
    return Enrichment(
        is_llm=True,
        usage=counts,
        cost=price.total,
        cost_input=price.input,
        cost_output=price.output,
        source=price.source,
        model=usage.llm_model(attrs),
    )


def enrichment(attrs: Mapping[str, Any]) -> Enrichment:
    """Usage and cost for a span's attributes as sent (its kind from :func:`~agentops_otel.meaning.classify`)."""
    return llm_enrichment(attrs) if classify(attrs) == sc.KIND_LLM else NOT_LLM


def enrich_attributes(attrs: Mapping[str, Any], project_id: str | None = None) -> dict[str, Any]:
    """The span's attributes as the collector stores and forwards them (a new dict)."""
    out = {key: value for key, value in attrs.items() if key not in UNTRUSTED_KEYS}
    if sc.GEN_AI_USAGE_COST in attrs:
        out[sc.COST_SENDER] = attrs[sc.GEN_AI_USAGE_COST]
    out.update(enrichment(attrs).attributes())
    if project_id is not None:
        out[sc.PROJECT_ID] = project_id
    return out
