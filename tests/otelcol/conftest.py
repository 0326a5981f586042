"""Fixtures for the tests that run the real OpenTelemetry Collector with otel-collector.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.otelcol.otelcol import BinaryUnavailable, Otelcol, otelcol_binary


@pytest.fixture(scope="session")
def otelcol_bin() -> Path:
    """The collector build; skips without Go (fails instead under CI=true)."""
    try:
        return otelcol_binary()
    except BinaryUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no OpenTelemetry Collector: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def otelcol(otelcol_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Otelcol]:
    """One collector for a test module, exporting to a file only."""
    with Otelcol(otelcol_bin, tmp_path_factory.mktemp("otelcol")) as running:
        yield running
