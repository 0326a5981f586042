"""The property-based proof of test_properties.py (any OTLP in, any query: no 5xx, answers as the
OpenAPI document says, stored sessions stay readable) on a collector whose store is ClickHouse
(chDB, in this process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.collector.test_properties import (  # collected here too, on this module's collector
    KEY,
    test_any_otlp_json_request_valid_or_mutated_is_stored_or_refused,
    test_any_otlp_protobuf_request_is_stored_or_refused_and_stays_readable,
    test_any_overview_query_is_answered_as_documented,
    test_any_session_id_is_answered_as_documented,
    test_any_sessions_query_is_answered_as_documented,
    test_damaged_protobuf_bytes_are_stored_or_refused,
)

pytestmark = pytest.mark.timeout(900)
__all__ = [
    "KEY",
    "test_any_otlp_json_request_valid_or_mutated_is_stored_or_refused",
    "test_any_otlp_protobuf_request_is_stored_or_refused_and_stays_readable",
    "test_any_overview_query_is_answered_as_documented",
    "test_any_session_id_is_answered_as_documented",
    "test_any_sessions_query_is_answered_as_documented",
    "test_damaged_protobuf_bytes_are_stored_or_refused",
]


@pytest.fixture(scope="module")
def collector(chdb_dir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.support.store_collector import chdb_collector

    with chdb_collector(chdb_dir, tmp_path_factory.mktemp("properties-ch")) as running:
        yield running
