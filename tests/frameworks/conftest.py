"""Fixtures for the agent-framework tests: the SDK harness, the replay server, span-tree helpers."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan

from agentops_otel import semconv as sc
from tests.sdk.conftest import sdk  # noqa: F401 (the fixture shared with the SDK tests)


class Tree:
    """The finished spans of one trace, by id, with the questions the tests ask of them."""

    def __init__(self, spans: list[ReadableSpan]) -> None:
        self.spans = spans
        self.by_id = {s.context.span_id: s for s in spans}

    def kind(self, kind: str) -> list[ReadableSpan]:
        return [s for s in self.spans if (s.attributes or {}).get(sc.SPAN_KIND) == kind]

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, (name, [s.name for s in self.spans])
        return found[0]

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        return self.by_id.get(span.parent.span_id) if span.parent is not None else None

    def parent_name(self, span: ReadableSpan) -> str | None:
        parent = self.parent(span)
        return parent.name if parent is not None else None

    def render(self) -> str:
        """The tree as indented lines ``name [kind]`` in start order (for assertion messages)."""
        children: dict[int | None, list[ReadableSpan]] = {}
        for span in sorted(self.spans, key=lambda s: s.start_time or 0):
            parent = span.parent.span_id if span.parent is not None and span.parent.span_id in self.by_id else None
            children.setdefault(parent, []).append(span)
        lines: list[str] = []

        def walk(parent: int | None, depth: int) -> None:
            for span in children.get(parent, []):
                lines.append(f"{'  ' * depth}{span.name} [{(span.attributes or {}).get(sc.SPAN_KIND)}]")
                walk(span.context.span_id, depth + 1)

        walk(None, 0)
        return "\n".join(lines)
