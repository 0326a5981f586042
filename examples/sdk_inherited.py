"""One session across two processes: a worker process joins the parent's session.

    python examples/sdk_inherited.py

The child learns the session id from the ``AGENTOPS_INHERITED_SESSION_ID`` environment variable
that a running session sets, so ``ao.init()`` in the child joins it: same trace, same root span.
Only the parent ends the session. Offline by default, each process prints the spans it exports;
set ``AGENTOPS_EXPORTER_ENDPOINT`` to a collector to send them there instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import agentops_otel as ao


class PrintExporter(SpanExporter):
    """Prints one line per span: process, name, trace id and parent span id."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            parent = f"{span.parent.span_id:016x}" if span.parent else "-" * 16
            print(f"  pid {os.getpid()}  trace {span.context.trace_id:032x}  parent {parent}  {span.name}")
        return SpanExportResult.SUCCESS


EXPORTER = None if os.environ.get("AGENTOPS_EXPORTER_ENDPOINT") else PrintExporter()


def child() -> None:
    session = ao.init(exporter=EXPORTER)
    assert session is not None and session.is_inherited
    ao.record(ao.ActionEvent(action_type="work in the child process"))
    print(f"child joined session {session.session_id}; it exits without ending it")


def parent() -> None:
    session = ao.init(default_tags=["two-processes"], exporter=EXPORTER)
    print(f"parent started session {session.session_id} (root span {ao.root_span_id(session.session_id):016x})")
    ao.record(ao.ActionEvent(action_type="work in the parent process"))
    subprocess.run([sys.executable, __file__, "--child"], check=True)
    session.end_session("Success")
    print(f"parent ended the session: {session.get_analytics()}")


if __name__ == "__main__":
    child() if "--child" in sys.argv else parent()
