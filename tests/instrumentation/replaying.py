"""What the replay tests of every provider share: the checks of one call's LLM span, and the three tests
each runs over recordings (the project's own fixtures, ../shared/recorded, and that every recording is
listed so that it is replayed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from agentops_otel import semconv as sc
from tests.conftest import fixture_path, recorded_path
from tests.support.replay import RECORDED_DIR, ReplayServer

CAPTURE = pytest.mark.parametrize("capture", [False, True], ids=["capture_off", "capture_on"])
ReplayAndCheck = Callable[[Path, str, ReplayServer, Any, bool], None]  # (file, folder, server, tracing, capture)


def check_request(
    span: Any,
    *,
    operation: str,
    provider: str,
    model: str,
    server: ReplayServer,
    stream: bool,
    input_messages: bool,
) -> dict[str, Any]:
    """The span of one call, as the request makes it; returns its attributes."""
    attrs = dict(span.attributes)
    assert span.kind is SpanKind.CLIENT
    assert span.name == f"{operation} {model}"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == operation
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == provider
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == model
    assert attrs.get(sc.SERVER_ADDRESS) == "127.0.0.1"
    assert attrs.get(sc.SERVER_PORT) == server.port
    assert attrs.get(sc.GEN_AI_REQUEST_STREAM) is (True if stream else None)
    assert (sc.GEN_AI_INPUT_MESSAGES in attrs) is input_messages
    return attrs


def check_outcome(span: Any, error: BaseException | None, status: int) -> bool:
    """An error response is an error span with the library's own exception; else the status is unset.
    Returns whether the call failed (then there is no response to compare)."""
    if status >= 400:
        assert error is not None
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == type(error).__qualname__
        assert [e.name for e in span.events] == ["exception"]
        return True
    assert error is None
    assert span.status.status_code is StatusCode.UNSET
    return False


def replay_tests(
    replay_and_check: ReplayAndCheck,
    own: Iterable[str],
    recorded: dict[str, list[str]],
    other_recordings: frozenset[str] = frozenset(),
) -> tuple[Callable[..., None], Callable[..., None], Callable[[], None]]:
    """``test_own_fixture``, ``test_recorded`` and ``test_every_recording_is_replayed`` of one suite:
    ``own`` are files of tests/fixtures, ``recorded`` the files of ../shared/recorded by folder (those in
    ``other_recordings`` are tested elsewhere)."""

    @CAPTURE
    @pytest.mark.parametrize("name", list(own))
    def test_own_fixture(name: str, capture: bool, replay_server: ReplayServer, tracing: Any) -> None:
        replay_and_check(fixture_path(name), name.split("/")[0], replay_server, tracing, capture)

    @pytest.mark.recorded
    @CAPTURE
    @pytest.mark.parametrize("name", [f"{folder}/{n}.json" for folder, names in recorded.items() for n in names])
    def test_recorded(name: str, capture: bool, replay_server: ReplayServer, tracing: Any) -> None:
        replay_and_check(recorded_path(name), name.split("/")[0], replay_server, tracing, capture)

    @pytest.mark.recorded
    def test_every_recording_is_replayed() -> None:
        if not RECORDED_DIR.is_dir():
            pytest.skip("../shared/recorded not available (recorded provider responses live beside the repo)")
        on_disk = {
            str(p.relative_to(RECORDED_DIR).with_suffix(""))
            for folder in recorded
            for p in (RECORDED_DIR / folder).glob("*.json")
        }
        listed = {f"{folder}/{name}" for folder, names in recorded.items() for name in names}
        assert on_disk == listed | other_recordings  # a new recording must be listed, so it is tested

    return test_own_fixture, test_recorded, test_every_recording_is_replayed
