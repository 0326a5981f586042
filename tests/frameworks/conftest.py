"""Fixtures for the agent-framework tests: the SDK harness, the replay server, span-tree helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from agentops_otel import semconv as sc
from tests.frameworks import crewai_env
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


# CrewAI's venv, built once after collection when a selected test needs it: a build takes minutes,
# beyond pytest's per-test timeout (pyproject), which would fail the first test to ask for it.
_CREWAI = pytest.StashKey["Path | Exception"]()


def _build_crewai(config: pytest.Config) -> Path | Exception:
    cached = crewai_env.cached_python()
    if cached is not None:
        return cached
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"tests/frameworks: installing {crewai_env.CREWAI_REQUIREMENT} in a venv of its own")
    try:
        return crewai_env.crewai_python()
    except crewai_env.CrewAIUnavailable as exc:
        return exc


def pytest_collection_finish(session: pytest.Session) -> None:
    if any("crewai_python" in getattr(item, "fixturenames", ()) for item in session.items):
        session.config.stash[_CREWAI] = _build_crewai(session.config)


@pytest.fixture(scope="session")
def crewai_python(pytestconfig: pytest.Config) -> Path:
    """The interpreter of CrewAI's venv; skips when it cannot be built (fails instead under CI=true)."""
    built = pytestconfig.stash.get(_CREWAI, None)
    if built is None:
        built = _build_crewai(pytestconfig)
    if isinstance(built, Exception):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no CrewAI venv: {built}")
        pytest.skip(str(built))
    return built
