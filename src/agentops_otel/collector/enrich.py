"""Cost and token attributes a collector adds to a span, as a plain function over attributes.

The rules live in :mod:`agentops_otel.usage` (token normalisation, span cost) and
:mod:`agentops_otel.pricing` (rates); this module only decides which attributes a collector writes.
The OTTL generated for ``otel-collector.yaml`` is checked against :func:`enrich_attributes`.

Written for every span, whatever the client sent:
- cost attributes and ``agentops.project.id`` are dropped first (never trusted from a client);
- on LLM spans, the contract's ``gen_ai.usage.*`` counts (normalised from older conventions) and
  ``agentops.cost.source``; when the model has a price, ``gen_ai.usage.cost``,
  ``agentops.cost.input`` and ``agentops.cost.output`` (USD, doubles);
- ``agentops.project.id`` when the collector knows the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel import usage

# Attributes only a collector may set: whatever a client sent under these names is discarded.
UNTRUSTED_KEYS: frozenset[str] = frozenset(
    {sc.PROJECT_ID, sc.GEN_AI_USAGE_COST, sc.COST_INPUT, sc.COST_OUTPUT, sc.COST_SOURCE}
)


@dataclass(frozen=True)
class Enrichment:
    """What the collector computed for one span (exact Decimals, for the store's rollup)."""

    is_llm: bool
    usage: Mapping[str, int]  # the contract's gen_ai.usage.* counts the span reports
    cost: Decimal | None  # None: not an LLM span, or no price known for its model
    cost_input: Decimal | None
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
            out[sc.COST_INPUT] = float(self.cost_input)
            out[sc.COST_OUTPUT] = float(self.cost_output)
        return out


NOT_LLM = Enrichment(False, {}, None, None, None, None, None)


def enrichment(attrs: Mapping[str, Any]) -> Enrichment:
    """Compute usage and cost for a span's attributes (client-sent cost attributes ignored)."""
    if not usage.is_llm_span(attrs):
        return NOT_LLM
    counts = usage.normalised_usage(attrs)
    cost, source = usage.span_cost(attrs, counts)
    return Enrichment(
        is_llm=True,
        usage=counts,
        cost=cost.total if cost is not None else None,
        cost_input=cost.input if cost is not None else None,
        cost_output=cost.output if cost is not None else None,
        source=source,
        model=usage.llm_model(attrs),
    )


def enrich_attributes(attrs: Mapping[str, Any], project_id: str | None = None) -> dict[str, Any]:
    """The span's attributes as the collector stores and forwards them (a new dict)."""
    out = {key: value for key, value in attrs.items() if key not in UNTRUSTED_KEYS}
    out.update(enrichment(out).attributes())
    if project_id is not None:
        out[sc.PROJECT_ID] = project_id
    return out
