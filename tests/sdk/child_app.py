"""A small instrumented program the integration tests run as a real child process.

Usage: ``python tests/sdk/child_app.py MODE ENDPOINT [ARG]``. It prints ``SESSION <id>`` once
its session runs and ``READY`` when it is waiting for a signal. Modes:

- ``exit``: record, then exit without ``end_session`` (exit handler ends it).
- ``raise``: record, then die of an uncaught RuntimeError.
- ``wait``: record, print READY, wait for a signal (ARG = max_wait_time in ms, default 5000).
- ``parent``: record, run ``join`` as a child process (session inherited through the environment),
  then end the session Success.
- ``join``: joins the inherited session from the environment, records, exits without ending it.
- ``join-end``: joins session ARG explicitly and ends it Failure.
- ``owner-no-end``: records with ``skip_auto_end_session=True`` and exits.
- ``fork`` / ``spawn``: record, run ``worker`` in a multiprocessing child, end Success.
- ``env-only``: ``init()`` configured by the environment alone; ends Success.
- ``existing-provider``: the application set a TracerProvider first; prints a JSON report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import agentops_otel as ao


@ao.record_tool("lookup")
def lookup(key: str) -> str:
    return key.upper()


def started(session: ao.Session | None) -> ao.Session:
    assert session is not None
    print(f"SESSION {session.session_id}", flush=True)
    return session


def as_if_started_from_a_terminal() -> None:
    """The signal dispositions of a program run in a terminal, whatever the test run inherited.

    A process started from a background job (``cmd &``), ``nohup`` or some CI runners inherits
    SIGINT as ignored, and the SDK rightly leaves an ignored signal ignored: the SIGINT tests would
    then wait for an exit that never comes.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main() -> None:
    as_if_started_from_a_terminal()
    mode, endpoint = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    common = {"endpoint": endpoint, "api_key": "child-key", "instrument_llm_calls": False}

    if mode == "exit":
        started(ao.init(**common))
        ao.record(ao.ActionEvent(action_type="before-exit"))
    elif mode == "raise":
        started(ao.init(**common))
        ao.record(ao.ActionEvent(action_type="before-raise"))
        raise RuntimeError("boom")
    elif mode == "wait":
        started(ao.init(max_wait_time=int(arg or 5000), **common))
        ao.record(ao.ActionEvent(action_type="before-signal"))
        print("READY", flush=True)
        while True:
            time.sleep(0.05)
    elif mode == "parent":
        session = started(ao.init(**common))
        ao.record(ao.ActionEvent(action_type="parent-before"))
        child = subprocess.run([sys.executable, __file__, "join", endpoint], capture_output=True, text=True)
        sys.stderr.write(child.stderr)
        assert child.returncode == 0, child.returncode
        assert f"SESSION {session.session_id}" in child.stdout, child.stdout
        ao.record(ao.ActionEvent(action_type="parent-after"))
        session.end_session("Success", "parent finished")
    elif mode == "join":
        session = started(ao.init(**common))
        assert session.is_inherited
        ao.record(ao.ActionEvent(action_type="child-event"))
        lookup("k")
    elif mode == "join-end":
        session = started(ao.init(inherited_session_id=arg, **common))
        ao.record(ao.ActionEvent(action_type="joined"))
        session.end_session("Failure", "ended by the joining process")
    elif mode == "owner-no-end":
        started(ao.init(skip_auto_end_session=True, **common))
        ao.record(ao.ActionEvent(action_type="owner-event"))
    elif mode in ("fork", "spawn"):
        import multiprocessing

        session = started(ao.init(**common))
        ao.record(ao.ActionEvent(action_type="parent-event"))
        process = multiprocessing.get_context(mode).Process(target=worker, args=(endpoint,))
        process.start()
        process.join(60)
        assert process.exitcode == 0, process.exitcode
        session.end_session("Success")
    elif mode == "env-only":
        # everything (endpoint, key, service name, resource, tags) from the environment
        session = started(ao.init(instrument_llm_calls=False))
        session.end_session("Success")
    elif mode == "existing-provider":
        existing_provider(common)
    else:
        raise SystemExit(f"unknown mode {mode}")


def worker(endpoint: str) -> None:
    """Runs in a multiprocessing child: forked (inherits the session) or spawned (joins via the environment)."""
    session = ao.init(endpoint=endpoint, api_key="child-key", instrument_llm_calls=False)
    assert session is not None and session.is_inherited, session
    ao.record(ao.ActionEvent(action_type=f"worker-{os.getpid()}"))
    lookup("w")


def existing_provider(common: dict[str, object]) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app_exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    trace.set_tracer_provider(app_provider)
    app_tracer = trace.get_tracer("the-app")
    app_tracer.start_span("app-only-span").end()  # not in a session: never exported by us

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import logging

        records: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger().addHandler(handler)
        session = started(ao.init(**common))
        with app_tracer.start_as_current_span("app-span-in-session"):
            ao.record(ao.ActionEvent(action_type="inside-app-span"))
        session.end_session("Success")
    report = {
        "provider_kept": trace.get_tracer_provider() is app_provider,
        "override_messages": [m for m in records + [str(w.message) for w in caught] if "Overriding" in m],
        "app_exporter_names": sorted(s.name for s in app_exporter.get_finished_spans()),
        "pid": os.getpid(),
    }
    print("REPORT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
