"""Fixtures shared by every test area; each area keeps its own in its folder's conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.replay import FIXTURES_DIR, RECORDED_DIR, ReplayServer


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def recorded_path(relative: str) -> Path:
    """Path of a file in ../shared/recorded; skips the test with a clear reason when absent."""
    path = RECORDED_DIR / relative
    if not path.exists():
        pytest.skip(f"../shared/recorded/{relative} not available (recorded provider responses live beside the repo)")
    return path


def fixture_path(relative: str) -> Path:
    """Path of one of the project's own small fixtures in tests/fixtures."""
    return FIXTURES_DIR / relative
