"""Fixtures for the tests that run the real OpenTelemetry Collector with otel-collector.yaml."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.otelcol.otelcol import BUILD_TIMEOUT_S, BinaryUnavailable, Otelcol, cached_otelcol_binary, otelcol_binary

# The collector build, made once after collection: a build takes minutes, far beyond pytest's
# per-test timeout (pyproject), which would fail the first test to ask for it.
_BUILT = pytest.StashKey["Path | Exception"]()


def _build(config: pytest.Config) -> Path | Exception:
    cached = cached_otelcol_binary()
    if cached is not None:
        return cached
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"tests/otelcol: building the OpenTelemetry Collector (up to {BUILD_TIMEOUT_S // 60} min)")
    started = time.monotonic()
    try:
        built: Path | Exception = otelcol_binary(timeout=BUILD_TIMEOUT_S)
    except (BinaryUnavailable, RuntimeError) as exc:
        built = exc
    if reporter is not None and isinstance(built, Path):
        reporter.write_line(f"tests/otelcol: built {built} in {time.monotonic() - started:.0f} s")
    return built


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the collector before the first test that needs it runs, outside any test's timeout."""
    if any("otelcol_bin" in getattr(item, "fixturenames", ()) for item in session.items):
        session.config.stash[_BUILT] = _build(session.config)


@pytest.fixture(scope="session")
def otelcol_bin(pytestconfig: pytest.Config) -> Path:
    """The collector build; skips without Go (fails instead under CI=true)."""
    built = pytestconfig.stash.get(_BUILT, None)
    if built is None:  # asked for by a test collection did not see (within that test's timeout)
        built = _build(pytestconfig)
    if isinstance(built, BinaryUnavailable):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no OpenTelemetry Collector: {built}")
        pytest.skip(str(built))
    if isinstance(built, Exception):
        pytest.fail(str(built))
    return built


@pytest.fixture(scope="module")
def otelcol(otelcol_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Otelcol]:
    """One collector for a test module, exporting to a file only."""
    with Otelcol(otelcol_bin, tmp_path_factory.mktemp("otelcol")) as running:
        yield running
