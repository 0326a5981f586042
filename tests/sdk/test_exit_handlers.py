"""Exit hooks chain to what was there before, can be turned off, and never swallow a second signal.

The end-to-end behaviour (real SIGINT/SIGTERM, uncaught exception, exit) is in test_export.py with
child processes; these tests check the chaining in this process and undo everything they install.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from opentelemetry.trace import StatusCode

import agentops_otel as ao
from agentops_otel import semconv as sc
from agentops_otel.exit_handlers import ExitHandlers


@pytest.fixture
def previous_hooks():
    """A recording sys.excepthook and SIGTERM handler in place, restored afterwards."""
    calls: list[tuple[str, object]] = []
    saved_hook, saved_term = sys.excepthook, signal.getsignal(signal.SIGTERM)
    sys.excepthook = lambda t, v, tb: calls.append(("previous hook", v))
    signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(("previous handler", signum)))
    try:
        yield calls
    finally:
        sys.excepthook = saved_hook
        signal.signal(signal.SIGTERM, saved_term)


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_excepthook_and_signal_handler_chain_and_uninstall(previous_hooks):
    calls = previous_hooks
    hooks = ExitHandlers(
        on_exit=lambda: calls.append(("exit", None)),
        on_exception=lambda exc: calls.append(("ours", exc)),
        on_signal=lambda signum, dying: calls.append(("ours", (signum, dying))),
    )
    hook_before, term_before = sys.excepthook, signal.getsignal(signal.SIGTERM)
    hooks.install()
    try:
        error = ValueError("x")
        sys.excepthook(ValueError, error, None)
        assert calls == [("ours", error), ("previous hook", error)]
        calls.clear()
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: len(calls) == 2)
        assert calls == [("ours", (signal.SIGTERM, False)), ("previous handler", signal.SIGTERM)]
    finally:
        hooks.uninstall()
    assert sys.excepthook is hook_before and signal.getsignal(signal.SIGTERM) is term_before


def test_a_signal_during_our_handling_goes_straight_to_the_previous_handler(previous_hooks):
    calls = previous_hooks

    def on_signal(signum: int, dying: bool) -> None:
        calls.append(("ours", signum))
        os.kill(os.getpid(), signal.SIGTERM)  # the "second Ctrl-C", while we are still busy
        wait_until(lambda: ("previous handler", signal.SIGTERM) in calls)

    hooks = ExitHandlers(on_exit=lambda: None, on_exception=lambda exc: None, on_signal=on_signal)
    hooks.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: len(calls) == 3)
    finally:
        hooks.uninstall()
    assert calls == [
        ("ours", signal.SIGTERM),
        ("previous handler", signal.SIGTERM),
        ("previous handler", signal.SIGTERM),
    ]


def test_an_ignored_signal_stays_ignored():
    saved = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    hooks = ExitHandlers(on_exit=lambda: None, on_exception=lambda exc: None, on_signal=lambda s, d: None)
    try:
        hooks.install()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        hooks.uninstall()
    finally:
        signal.signal(signal.SIGTERM, saved)


def test_exit_handlers_off_leaves_hooks_alone(sdk, previous_hooks):
    hook_before, term_before, int_before = (
        sys.excepthook,
        signal.getsignal(signal.SIGTERM),
        signal.getsignal(signal.SIGINT),
    )
    session = sdk.init(exit_handlers=False)
    assert sys.excepthook is hook_before
    assert signal.getsignal(signal.SIGTERM) is term_before and signal.getsignal(signal.SIGINT) is int_before
    session.end_session("Success")


def test_uncaught_exception_through_the_client(sdk, previous_hooks):
    calls = previous_hooks
    session = sdk.init(exit_handlers=True)
    try:
        raise KeyError("missing")
    except KeyError as exc:
        sys.excepthook(KeyError, exc, exc.__traceback__)
    assert calls[-1][0] == "previous hook"
    assert session.end_state == "Failure" and session.end_state_reason == "KeyError: 'missing'"
    spans = sdk.spans()
    (error,) = [s for s in spans if s.attributes.get(sc.SPAN_KIND) == sc.KIND_ERROR]
    assert error.status.status_code is StatusCode.ERROR
    assert session.get_analytics()["Errors"] == 1


def test_skip_auto_end_session_keeps_sessions_running(sdk, previous_hooks):
    session = sdk.init(exit_handlers=True, skip_auto_end_session=True)
    os.kill(os.getpid(), signal.SIGTERM)
    wait_until(lambda: any(name == "previous handler" for name, _ in previous_hooks))
    assert session.is_running
    session.end_session("Success")


def test_signal_through_the_client_ends_the_session(sdk, previous_hooks):
    session = sdk.init(exit_handlers=True)
    os.kill(os.getpid(), signal.SIGTERM)
    wait_until(lambda: not session.is_running)
    assert session.end_state == "Indeterminate" and session.end_state_reason == "Process received SIGTERM"
    assert ("previous handler", signal.SIGTERM) in previous_hooks
    assert not ao.get_analytics()  # no session left running
