"""The dashboard in a real headless Chromium: a session sent by another instrumentation (no
agentops attributes, no session root) reads like ours, and a partial cost says so and why."""

from __future__ import annotations

import json
import time

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentops_otel import semconv as sc
from tests.collector import test_other_instrumentations as other
from tests.dashboard.conftest import LIVE_KEY, Browser, get_json, wait_for
from tests.dashboard.sessions_otlp import OtlpSessions

pytestmark = pytest.mark.browser

ROWS = "#sessions-table tbody tr.row-link"
MS = 1_000_000
CHAT = {  # as opentelemetry-instrumentation-openai-v2 writes a chat span
    sc.GEN_AI_OPERATION_NAME: "chat",
    sc.GEN_AI_SYSTEM: "openai",
    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    sc.GEN_AI_USAGE_INPUT_TOKENS: 1200,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
}


def send_foreign_session(sender: OtlpSessions, start: int) -> tuple[str, dict[str, str]]:
    """An agent traced by another instrumentation: its local root, two chats (one a stream without
    usage), a tool call. Returns the session id and the span ids by name."""
    tracer = sender.tracer
    root = tracer.start_span(
        "invoke_agent trip_planner",
        start_time=start,
        attributes={sc.GEN_AI_OPERATION_NAME: "invoke_agent", sc.GEN_AI_AGENT_NAME: "trip_planner"},
        context=trace.set_span_in_context(trace.INVALID_SPAN),
    )
    inside = trace.set_span_in_context(root)
    ids = {}
    stream_attrs = {k: v for k, v in CHAT.items() if "usage" not in k} | {sc.GEN_AI_REQUEST_STREAM: True}
    for offset, name, attrs, kind in (
        (10, "chat gpt-4o-mini", CHAT, SpanKind.CLIENT),
        (400, "chat gpt-4o-mini stream", stream_attrs, SpanKind.CLIENT),
        (900, "execute_tool get_weather", {sc.GEN_AI_OPERATION_NAME: "execute_tool"}, SpanKind.INTERNAL),
    ):
        span = tracer.start_span(name, context=inside, kind=kind, start_time=start + offset * MS, attributes=attrs)
        span.end(end_time=start + (offset + 300) * MS)
        ids[name] = format(span.get_span_context().span_id, "016x")
    root.set_status(Status(StatusCode.OK))
    root.end(end_time=start + 1500 * MS)
    sender.flush()
    return str(trace.format_trace_id(root.get_span_context().trace_id)), ids


def test_a_foreign_session_has_llm_filters_badges_and_a_partial_cost(browser: Browser, live_sender, collector):
    trace_hex, ids = send_foreign_session(live_sender, time.time_ns() - 120_000 * MS)
    session_id = f"{trace_hex[:8]}-{trace_hex[8:12]}-{trace_hex[12:16]}-{trace_hex[16:20]}-{trace_hex[20:]}"
    stats = wait_for(
        lambda: (
            collector.get(f"/v2/sessions/{session_id}/stats", LIVE_KEY)[1]
            if collector.get(f"/v2/sessions/{session_id}/stats", LIVE_KEY)[0] == 200
            else None
        ),
        30,
        "the foreign session",
    )
    assert stats["state"] == "Success" and stats["llm_calls"] == 2 and stats["unpriced_llm_calls"] == 1

    page = browser.page
    browser.login(LIVE_KEY)
    row = page.locator(f'{ROWS}[data-session-id="{session_id}"]')
    row.wait_for()
    assert row.locator(".badge").inner_text().strip() == "Success", "ended with its local root, not Running"
    cost_cell = row.locator(".col-cost")
    assert "partial" in cost_cell.inner_text().lower()
    assert "1 LLM call without a known cost" in cost_cell.get_attribute("title")

    row.locator("td").nth(3).click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert "Success" in page.inner_text(".detail-state") and "Still running" not in page.inner_text(".detail-header")
    totals = page.inner_text("#session-totals")
    assert "partial" in totals.lower() and "1 without a cost" in totals
    notice = page.inner_text("#cost-partial-notice")
    assert "AGENTOPS_OPENAI_STREAM_USAGE=true" in notice

    # The LLM filter finds the two chats; their rows carry a cost, or say unpriced.
    page.click('.seg-btn[data-kind="llm"]')
    assert page.inner_text(".wf-count").startswith("2 of 4 spans")
    llm_rows = page.eval_on_selector_all(
        ".wf-row:not(.dim)", "rows => rows.map(r => [r.dataset.kind, r.querySelector('.wf-meta')?.textContent])"
    )
    llm_rows = [r for r in llm_rows if r[0] == "llm"]
    assert len(llm_rows) == 2
    assert llm_rows[0][1].startswith("$") and llm_rows[1][1].startswith("unpriced")
    page.click('.seg-btn[data-kind="agent"]')
    assert page.inner_text(".wf-count").startswith("1 of 4 spans")
    page.click('.seg-btn[data-kind="all"]')

    # Badges and cost labels in the span panel.
    page.click(f".wf-row[data-span-id='{ids['chat gpt-4o-mini']}']")
    details = page.locator(f"#span-details[data-span-id='{ids['chat gpt-4o-mini']}']")
    details.wait_for()
    assert details.locator(".panel-badges .kind").inner_text().strip().upper() == "LLM"
    assert details.locator("#span-cost").inner_text().startswith("$")
    page.click(f".wf-row[data-span-id='{ids['chat gpt-4o-mini stream']}']")
    details = page.locator(f"#span-details[data-span-id='{ids['chat gpt-4o-mini stream']}']")
    details.wait_for()
    assert details.locator("#span-cost").inner_text() == "unpriced"
    assert "AGENTOPS_OPENAI_STREAM_USAGE" in details.locator("#span-cost-reason").inner_text()
    page.click(f".wf-row[data-span-id='{ids['execute_tool get_weather']}']")
    page.locator(f"#span-details[data-span-id='{ids['execute_tool get_weather']}']").wait_for()
    assert page.locator("#span-details .panel-badges .kind").inner_text().strip().upper() == "TOOL"
    browser.screenshot("21-foreign-session-partial-cost")
    assert browser.errors == []
    assert get_json(collector, f"/v2/sessions/{session_id}/spans", LIVE_KEY)["stats"]["cost_partial"]


def test_the_official_instrumentations_message_events_show_with_their_span(browser: Browser, collector):
    """The real opentelemetry-instrumentation-openai-v2, content capture on (EVENT_ONLY: the messages
    go out as OTLP log records, not on the span), its logs through a real OTLP log exporter."""
    run = other.run_app(collector, "official", "zero-code", key=LIVE_KEY)
    other.assert_message_events_with_their_spans(collector, run["session_id"], LIVE_KEY)
    spans = get_json(collector, f"/v2/sessions/{run['session_id']}/spans", LIVE_KEY)["spans"]
    chat = next(s for s in spans if s["attributes"].get(sc.GEN_AI_REQUEST_MODEL) == "o4-mini")
    assert sc.GEN_AI_INPUT_MESSAGES not in chat["attributes"], "the span itself holds no content"

    page = browser.page
    browser.login(LIVE_KEY, f"#/sessions/{run['session_id']}")
    page.wait_for_selector("#view[data-loaded] .wf-row")
    # its agent, tool and LLM spans (opentelemetry-util-genai's) have their kinds in the waterfall
    for kind, count in (("llm", 2), ("tool", 1), ("agent", 1)):
        page.click(f'.seg-btn[data-kind="{kind}"]')
        assert page.inner_text(".wf-count").startswith(f"{count} of {len(spans)} spans"), kind
    page.click('.seg-btn[data-kind="all"]')
    tool = next(s for s in spans if s["kind"] == "tool")
    page.click(f".wf-row[data-span-id='{tool['span_id']}']")
    page.locator(f"#span-details[data-span-id='{tool['span_id']}']").wait_for()
    assert page.locator("#span-details .panel-badges .kind").inner_text().strip().upper() == "TOOL"
    page.click(f".wf-row[data-span-id='{chat['span_id']}']")
    details = page.locator(f"#span-details[data-span-id='{chat['span_id']}']")
    details.wait_for()
    prompts, answer = other.recorded_messages(other.CHAT)
    inputs = details.locator("#input-messages .msg")
    assert inputs.count() == len(prompts) == 2
    assert [inputs.nth(i).locator(".msg-text").inner_text() for i in range(2)] == prompts
    assert inputs.nth(0).locator(".msg-role").inner_text().lower().startswith("system")
    output = details.locator("#output-messages .msg")
    assert output.count() == 1 and output.locator(".msg-text").inner_text() == answer
    assert "stop" in output.locator(".msg-role").inner_text().lower()
    assert "not captured" not in details.inner_text()
    logs = details.locator("#span-logs")
    assert "logs (1)" in logs.inner_text().lower() and "gen_ai.client.inference.operation.details" in logs.inner_text()
    browser.screenshot("25-official-instrumentation-message-events")
    assert browser.errors == []


def test_message_events_of_older_conventions_and_span_events_show_as_messages(browser: Browser, live_sender, collector):
    """Content sent one event per message and per choice (older GenAI conventions, as log records),
    or as an operation.details span event, reads like content on the span."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    logs = LoggerProvider()
    logs.add_log_record_processor(
        SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{collector.url}/v1/logs", headers={"X-Agentops-Api-Key": LIVE_KEY})
        )
    )
    logger = logs.get_logger("tests.dashboard")
    tracer, start = live_sender.tracer, time.time_ns() - 60_000 * MS
    root = tracer.start_span("run", start_time=start, context=trace.set_span_in_context(trace.INVALID_SPAN))
    inside = trace.set_span_in_context(root)
    legacy = tracer.start_span("chat gpt-4o-mini", context=inside, start_time=start + MS, attributes=CHAT)
    at = trace.set_span_in_context(legacy)
    for name, body in (
        ("gen_ai.system.message", {"content": "Answer in French."}),
        ("gen_ai.user.message", {"content": "Hello?"}),
        ("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"content": "Bonjour !"}}),
    ):
        logger.emit(LogRecord(event_name=name, body=body, context=at))
    legacy.end(end_time=start + 200 * MS)
    details = tracer.start_span("chat gpt-4o-mini 2", context=inside, start_time=start + 300 * MS, attributes=CHAT)
    details.add_event(
        sc.GEN_AI_OPERATION_DETAILS_EVENT,
        {
            sc.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Ping"}]}]),
            sc.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "Pong"}]}]
            ),
        },
    )
    details.end(end_time=start + 400 * MS)
    root.end(end_time=start + 500 * MS)
    live_sender.flush()
    logs.shutdown()
    trace_hex = format(root.get_span_context().trace_id, "032x")
    session_id = f"{trace_hex[:8]}-{trace_hex[8:12]}-{trace_hex[12:16]}-{trace_hex[16:20]}-{trace_hex[20:]}"
    wait_for(lambda: collector.get(f"/v2/sessions/{session_id}/spans", LIVE_KEY)[0] == 200, 30, "the session")

    page = browser.page
    browser.login(LIVE_KEY, f"#/sessions/{session_id}")
    page.wait_for_selector("#view[data-loaded] .wf-row")
    for span, inputs, output in (
        (legacy, [("system", "Answer in French."), ("user", "Hello?")], ("assistant", "Bonjour !")),
        (details, [("user", "Ping")], ("assistant", "Pong")),
    ):
        span_id = format(span.get_span_context().span_id, "016x")
        page.click(f".wf-row[data-span-id='{span_id}']")
        panel = page.locator(f"#span-details[data-span-id='{span_id}']")
        panel.wait_for()
        shown = panel.locator("#input-messages .msg")
        assert [
            (shown.nth(i).locator(".msg-role").inner_text().lower(), shown.nth(i).locator(".msg-text").inner_text())
            for i in range(shown.count())
        ] == inputs
        answer = panel.locator("#output-messages .msg")
        assert answer.locator(".msg-role").inner_text().lower().startswith(output[0])
        assert answer.locator(".msg-text").inner_text() == output[1]
    assert browser.errors == []


def test_openinference_spans_show_their_model_provider_messages_and_tool(browser: Browser, collector):
    """The real OpenInference instrumentation: its model (llm.model_name), provider (llm.system),
    flattened messages (llm.input_messages.<i>.message.*) and tool name read like ours."""
    run = other.run_app(collector, "openinference", "zero-code", key=LIVE_KEY)
    spans = get_json(collector, f"/v2/sessions/{run['session_id']}/spans", LIVE_KEY)["spans"]
    chat = next(s for s in spans if s["kind"] == "llm" and s["cost"] is not None)
    tool = next(s for s in spans if s["kind"] == "tool")
    model = chat["attributes"][sc.OPENINFERENCE_MODEL_NAME]
    assert sc.GEN_AI_RESPONSE_MODEL not in chat["attributes"] and sc.GEN_AI_INPUT_MESSAGES not in chat["attributes"]

    page = browser.page
    browser.login(LIVE_KEY, f"#/sessions/{run['session_id']}")
    page.wait_for_selector("#view[data-loaded] .wf-row")
    row = page.locator(f".wf-row[data-span-id='{chat['span_id']}']")
    assert model in row.locator(".wf-meta").inner_text(), "the model on the row"
    row.click()
    details = page.locator(f"#span-details[data-span-id='{chat['span_id']}']")
    details.wait_for()
    text = details.inner_text()
    assert model in text and "openai" in text.lower()
    prompts, answer = other.recorded_messages(other.CHAT)
    inputs = details.locator("#input-messages .msg")
    assert [inputs.nth(i).locator(".msg-text").inner_text() for i in range(inputs.count())] == prompts
    assert inputs.nth(0).locator(".msg-role").inner_text().lower() == "system"
    assert details.locator("#output-messages .msg .msg-text").inner_text() == answer
    page.click(f".wf-row[data-span-id='{tool['span_id']}']")
    panel = page.locator(f"#span-details[data-span-id='{tool['span_id']}']")
    panel.wait_for()
    assert "get_weather" in panel.locator(".kv").first.inner_text()
    browser.screenshot("26-openinference-span")
    assert browser.errors == []
