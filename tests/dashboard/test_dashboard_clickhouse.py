"""The dashboard on a collector whose store is ClickHouse (chDB in this process): the same browser
tests as on SQLite (sessions list, state filter, session detail, export download, overview), the
same showcase data, the same expected pages."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.dashboard.conftest import DEMO_KEY, EMPTY_KEY, LIVE_KEY, store_showcase
from tests.dashboard.sessions_otlp import OtlpSessions, Showcase
from tests.dashboard.test_dashboard_browser import (  # collected here too, on this module's collector
    test_download_export,
    test_overview,
    test_session_detail_waterfall_llm_span_and_error,
    test_sessions_list_sorts_filters_and_paginates,
    test_state_filter_tells_running_inactive_and_ended_sessions_apart,
)

__all__ = [
    "test_download_export",
    "test_overview",
    "test_session_detail_waterfall_llm_span_and_error",
    "test_sessions_list_sorts_filters_and_paginates",
    "test_state_filter_tells_running_inactive_and_ended_sessions_apart",
]


@pytest.fixture(scope="module")
def collector(chdb_dir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The collector app in this process on a fresh chDB database, with the dashboard's projects."""
    from tests.support.store_collector import chdb_collector

    keys = f"demo:{DEMO_KEY},live:{LIVE_KEY},empty:{EMPTY_KEY}"
    with chdb_collector(chdb_dir, tmp_path_factory.mktemp("ch-collector"), keys=keys) as running:
        yield running


@pytest.fixture(scope="module")
def demo_sender(collector) -> Iterator[OtlpSessions]:
    with OtlpSessions(collector.url, DEMO_KEY) as sender:
        yield sender


@pytest.fixture(scope="module")
def live_sender(collector) -> Iterator[OtlpSessions]:
    with OtlpSessions(collector.url, LIVE_KEY) as sender:
        yield sender


@pytest.fixture(scope="module")
def showcase(collector, demo_sender: OtlpSessions) -> Showcase:
    return store_showcase(collector, demo_sender, DEMO_KEY, time.time_ns())
