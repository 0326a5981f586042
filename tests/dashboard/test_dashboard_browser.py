"""The dashboard in a real headless Chromium against a real collector filled over OTLP.

Screenshots of every page land in artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from agentops_otel import semconv as sc
from agentops_otel.collector.process import CollectorProcess, collector_process
from tests.collector.conftest import SessionBuilder, send
from tests.conftest import sdk_free_env
from tests.dashboard.conftest import (
    DEMO_KEY,
    EMPTY_KEY,
    LIVE_KEY,
    SCREENSHOTS,
    Browser,
    browser_tab,
    get_json,
    wait_for,
)
from tests.dashboard.sessions_otlp import PROVIDERS, SCRIPT_PROMPT, OtlpSessions, Showcase

pytestmark = pytest.mark.browser

ROWS = "#sessions-table tbody tr.row-link"
REPO_ROOT = Path(__file__).resolve().parents[2]


def row_ids(browser: Browser) -> list[str]:
    return browser.page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.sessionId)")


def wait_rows_change(browser: Browser, before: list[str]) -> list[str]:
    browser.page.wait_for_function(
        "before => JSON.stringify([...document.querySelectorAll('#sessions-table tbody tr.row-link')]"
        ".map(r => r.dataset.sessionId)) !== before && !document.querySelector('#sessions-table.is-loading')",
        arg=json.dumps(before),
    )
    return row_ids(browser)


def assert_money_shown(text: str, exact: Decimal) -> None:
    """The dashboard's one money rule: cents from $1, three significant digits below (never rounded
    to a neighbour's price), "<$0.000001" for a speck."""
    if exact == 0:
        assert text == "$0.00", (text, exact)
    elif exact < Decimal("0.000001"):
        assert text == "<$0.000001", (text, exact)
    elif exact >= 1:
        assert re.fullmatch(r"\$[\d,]+\.\d{2}", text), (text, exact)
        assert abs(Decimal(text.lstrip("$").replace(",", "")) - exact) <= Decimal("0.005")
    else:
        assert re.fullmatch(r"\$0\.\d{2,}", text), (text, exact)
        assert abs(Decimal(text.lstrip("$")) - exact) <= exact * Decimal("0.005") + Decimal("1e-12"), (text, exact)


def shown_seconds(text: str) -> float:
    """A duration as the dashboard prints it ("803 ms", "9.42 s", "1m 05s"), in seconds."""
    if text.endswith(" ms"):
        return float(text[:-3]) / 1000
    if text.endswith(" s"):
        return float(text[:-2])
    minutes, secs = re.fullmatch(r"(\d+)m (\d+)s", text).groups()
    return int(minutes) * 60 + int(secs)


def shown_count(text: str) -> tuple[float, float]:
    """The range a count as printed ("9,079", "14.9K", "2.5M") stands for."""
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}.get(text[-1:])
    if scale is None:
        value = int(text.replace(",", ""))
        return value, value
    value = float(text[:-1]) * scale
    return value - 0.05 * scale, value + 0.05 * scale


def assert_count_shown(text: str, exact: int) -> None:
    low, high = shown_count(text)
    assert low <= exact <= high, (text, exact)


def cell_texts(browser: Browser) -> dict[str, list[str]]:
    return dict(
        browser.page.eval_on_selector_all(
            ROWS, "rows => rows.map(r => [r.dataset.sessionId, [...r.children].map(td => td.innerText.trim())])"
        )
    )


def open_span(browser: Browser, name: str) -> None:
    """Select a span in the waterfall by its name (filtering first so it is on screen)."""
    page = browser.page
    page.fill("#wf-search", name)
    page.locator(".wf-row", has=page.locator(".wf-name", has_text=name)).first.click()
    page.wait_for_selector("#span-details .panel-name")


def test_api_key_gate_keeps_the_key_in_session_storage_only(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    sent_keys: list[str | None] = []
    page.on("request", lambda r: sent_keys.append(r.headers.get("x-agentops-api-key")) if "/v2/" in r.url else None)
    page.goto(browser.url + "/")
    page.wait_for_selector("#key-form")
    browser.screenshot("01-api-key")

    page.fill("#api-key", "not-a-key")
    page.click("#key-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('.form-error').textContent.includes('not accepted')")
    assert page.evaluate("sessionStorage.length") == 0

    page.fill("#api-key", DEMO_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#view[data-loaded]")
    assert page.evaluate("Object.values(sessionStorage)") == [DEMO_KEY]
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert DEMO_KEY not in page.url
    assert sent_keys[-1] == DEMO_KEY  # sent as X-Agentops-Api-Key

    # Entered once: a reload in the same tab needs no key again.
    page.reload()
    page.wait_for_selector("#view[data-loaded]")
    assert page.locator(ROWS).count() > 0
    # Forgetting it returns to the gate.
    page.click("#sign-out")
    page.wait_for_selector("#key-form")
    assert page.evaluate("sessionStorage.length") == 0
    # The rejected key's 401 is the only console error.
    assert all("401" in e for e in browser.errors), browser.errors


def test_sessions_list_sorts_filters_and_paginates(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    browser.login(DEMO_KEY)
    ids = row_ids(browser)
    assert len(ids) == showcase.total
    starts = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.querySelector('td').textContent)")
    assert all(starts)
    # Newest first: the running session (started 30 s ago) leads, and shows as running.
    assert ids[0] == showcase.running_session
    assert "Running" in page.locator(ROWS).first.inner_text()
    row = page.locator(f'{ROWS}[data-session-id="{showcase.error_session}"]')
    assert "Failure" in row.inner_text()
    assert row.locator(".count-error").inner_text() == "1"
    browser.screenshot("02-sessions")

    # Filter by tag: only sessions carrying it, each showing the tag.
    page.fill("#filter-tags", "research")
    page.press("#filter-tags", "Enter")
    ids = wait_rows_change(browser, ids)
    assert len(ids) == showcase.tagged["research"]
    for tags in page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.querySelector('.col-tags').textContent)"):
        assert "research" in tags
    assert "tags=research" in page.url  # shareable
    active = page.eval_on_selector_all(f"{ROWS} .tag-active", "els => els.map(e => e.textContent)")
    assert active == ["research"] * len(ids)  # the filtered tag stands out in each row
    browser.screenshot("03-sessions-filtered-by-tag")

    # Two tags: sessions having both. Clicking a tag chip adds it to the filter.
    page.locator(f"{ROWS} .tag-button").filter(has_text="research").first.click()  # already there: no change
    page.click("#filter-clear")
    ids = wait_rows_change(browser, ids)
    assert len(ids) == showcase.total
    page.locator(f'{ROWS}[data-session-id="{showcase.error_session}"] .tag-button', has_text="checkout-agent").click()
    ids = wait_rows_change(browser, ids)
    assert len(ids) == showcase.tagged["checkout-agent"]

    # End state filter.
    page.click("#filter-clear")
    ids = wait_rows_change(browser, ids)
    page.click('#filter-state button[data-value="Failure"]')
    ids = wait_rows_change(browser, ids)
    badges = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.querySelector('.badge').textContent)")
    assert badges and set(badges) == {"Failure"}

    # Sort by cost, most expensive first.
    page.click("#filter-clear")
    ids = wait_rows_change(browser, ids)
    page.click('button[data-sort="cost"]')
    ids = wait_rows_change(browser, ids)
    cells = page.eval_on_selector_all(ROWS, "rows => rows.map(r => [r.children[8].textContent, r.children[8].title])")
    costs = [Decimal(title.lstrip("$")) for _, title in cells]  # the exact cost is the tooltip
    assert costs == sorted(costs, reverse=True)
    for text, title in cells:
        assert_money_shown(text, Decimal(title.lstrip("$")))

    # Cursor pagination, 25 a page.
    page.click('button[data-sort="init_timestamp"]')  # back to newest first
    ids = wait_rows_change(browser, ids)
    page.select_option("#page-size", "25")
    first_page = wait_rows_change(browser, ids)
    assert len(first_page) == 25
    page.click("#page-next")
    second_page = wait_rows_change(browser, first_page)
    assert len(second_page) == showcase.total - 25
    assert not set(first_page) & set(second_page)
    assert page.is_disabled("#page-next")
    page.click("#page-prev")
    assert wait_rows_change(browser, second_page) == first_page
    assert browser.errors == []


def test_state_filter_tells_running_inactive_and_ended_sessions_apart(
    browser: Browser, showcase: Showcase, collector: CollectorProcess
) -> None:
    """Running and Inactive (not ended, a span within the last hour or not) beside the end states;
    Indeterminate is an ended session's state only, never one still open."""
    page = browser.page
    browser.login(DEMO_KEY)
    ids = row_ids(browser)
    labels = page.eval_on_selector_all("#filter-state button", "bs => bs.map(b => b.textContent)")
    assert labels == ["All", "Success", "Failure", "Indeterminate", "Running", "Inactive"]
    assert "last hour" in page.get_attribute('#filter-state button[data-value="Running"]', "title")
    assert "over an hour" in page.get_attribute('#filter-state button[data-value="Inactive"]', "title")
    assert showcase.states[showcase.running_session] == "Running"
    assert showcase.states[showcase.inactive_session] == "Inactive"
    for state in ("Running", "Inactive", "Indeterminate", "Failure", "Success"):
        page.click(f'#filter-state button[data-value="{state}"]')
        ids = wait_rows_change(browser, ids)
        expected = {sid for sid, shown in showcase.states.items() if shown == state}
        assert expected and set(ids) == expected, state
        api = get_json(collector, f"/v2/sessions?limit=50&end_state={state}", DEMO_KEY)["sessions"]
        assert ids == [s["session_id"] for s in api], state  # newest first, as the API lists them
        badges = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.querySelector('.badge').textContent)")
        assert set(badges) == {state}, (state, badges)
        assert f"end_state={state}" in page.url
        pressed = page.eval_on_selector_all(
            "#filter-state button[aria-pressed=true]", "bs => bs.map(b => b.dataset.value)"
        )
        assert pressed == [state]
        if state == "Inactive":
            # The session whose process died: its failed tool call counts, but it has not ended Failure.
            row = page.locator(f'{ROWS}[data-session-id="{showcase.inactive_session}"]')
            assert row.locator(".count-error").inner_text() == "1"
            assert row.locator(".col-tags").inner_text() == "not received"
            page.mouse.move(0, 0)
            browser.screenshot("19-sessions-filtered-inactive", full_page=False)
        if state == "Indeterminate":
            assert showcase.running_session not in ids and showcase.inactive_session not in ids
            browser.screenshot("20-sessions-filtered-indeterminate", full_page=False)

    # A shared link opens filtered; a project with nothing running says what Running means.
    page.goto(f"{browser.url}/#/sessions?end_state=Running")
    page.wait_for_function(
        "id => [...document.querySelectorAll('#sessions-table tbody tr.row-link')].map(r => r.dataset.sessionId)"
        ".join() === id",
        arg=showcase.running_session,
    )
    assert page.get_attribute('#filter-state button[data-value="Running"]', "aria-pressed") == "true"
    page.click("#sign-out")
    browser.login(EMPTY_KEY, "#/sessions?end_state=Running")
    page.wait_for_selector("#sessions-table .notice")
    assert "No running sessions" in page.inner_text("#sessions-table .notice")
    page.click('#filter-state button[data-value="Inactive"]')
    page.wait_for_function(
        "() => document.querySelector('#sessions-table .notice')?.textContent.includes('No inactive')"
    )
    assert browser.errors == []


def visible_headers(browser: Browser) -> list[str]:
    return browser.page.eval_on_selector_all(
        "#sessions-table thead th",
        "ths => ths.filter(t => t.offsetWidth > 0).map(t => t.innerText.replace(/[↑↓↕]/g, '').trim())",
    )


def test_sessions_table_at_narrow_widths(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    widths = "() => [document.documentElement.scrollWidth, document.querySelector('#sessions-table-wrap').scrollWidth,"
    widths += " document.querySelector('#sessions-table-wrap').clientWidth]"
    page.set_viewport_size({"width": 800, "height": 900})
    browser.login(DEMO_KEY)
    # At 800 px the call counts and the duration give way, and the rest fits in the card unscrolled.
    assert visible_headers(browser) == ["Started", "Session", "State", "Tags", "Tokens", "Cost", "Errors"]
    page_width, table_width, card_width = page.evaluate(widths)
    assert page_width <= 800 and table_width <= card_width, (page_width, table_width, card_width)
    row = page.locator(f'{ROWS}[data-session-id="{showcase.error_session}"]')
    assert "2 LLM calls · 1 tool call" in row.locator("td").nth(7).get_attribute("title")  # what gave way
    assert "duration 9.42 s" in row.locator("td").first.get_attribute("title")
    browser.screenshot("13-sessions-800px", full_page=False)
    # The other pages at 800 px: nothing sticks out of the page either.
    row.locator("td").nth(2).click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
    page.mouse.move(0, 0)
    browser.screenshot("14-session-detail-800px")
    page.goto(f"{browser.url}/#/overview")
    page.wait_for_selector("#view[data-loaded] #chart-cost")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
    page.mouse.move(0, 0)
    browser.screenshot("15-overview-800px")
    page.goto(f"{browser.url}/#/sessions")
    page.wait_for_selector(f"#view[data-loaded] {ROWS}")
    # Narrower still, the table scrolls inside its card; the page itself never scrolls sideways.
    page.set_viewport_size({"width": 600, "height": 900})
    page.wait_for_function("() => (w => w.scrollWidth > w.clientWidth)(document.querySelector('#sessions-table-wrap'))")
    assert page.evaluate(widths)[0] <= 600
    page.set_viewport_size({"width": 1440, "height": 900})
    assert len(visible_headers(browser)) == 10
    assert browser.errors == []


def test_sessions_list_shows_the_api_figures(browser: Browser, showcase: Showcase, collector: CollectorProcess) -> None:
    """Every row's duration, LLM calls, tool calls, tokens, cost and errors are the API's."""
    browser.login(DEMO_KEY)
    api = get_json(collector, "/v2/sessions?limit=50", DEMO_KEY)["sessions"]
    shown = cell_texts(browser)
    assert list(shown) == [s["session_id"] for s in api]
    for summary in api:
        _, _, _, duration, _, llm_calls, tool_calls, tokens, cost, errors = shown[summary["session_id"]]
        where = summary["session_id"]
        exact = summary["duration_s"]
        assert abs(shown_seconds(duration) - exact) <= (0.0005 if exact < 1 else 0.005 if exact < 10 else 0.05), where
        assert llm_calls == f"{summary['llm_calls']:,}", where
        assert tool_calls == f"{summary['tool_calls']:,}", where
        assert_count_shown(tokens, summary["prompt_tokens"] + summary["completion_tokens"])
        assert_money_shown(cost, Decimal(summary["cost"]))
        assert errors == f"{summary['errors']:,}", where
    # The session the other tests look at, spelled out.
    error_row = shown[showcase.error_session]
    assert error_row[3] == "9.42 s" and error_row[5:10] == ["2", "1", "8,840", "$0.0208", "1"]
    assert browser.errors == []


def test_sort_ascending_and_by_other_keys(browser: Browser, showcase: Showcase, collector: CollectorProcess) -> None:
    page = browser.page
    browser.login(DEMO_KEY)
    ids = row_ids(browser)
    for key, order in (
        ("tokens", "desc"),
        ("tokens", "asc"),
        ("duration", "desc"),
        ("duration", "asc"),
        ("cost", "desc"),
    ):
        page.click(f'button[data-sort="{key}"]')
        ids = wait_rows_change(browser, ids)
        expected = get_json(collector, f"/v2/sessions?limit=50&sort={key}&order={order}", DEMO_KEY)["sessions"]
        assert ids == [s["session_id"] for s in expected], (key, order)
        assert f"sort={key}" in page.url and (f"order={order}" in page.url) == (order == "asc")
        header = page.locator(f"th:has(button[data-sort='{key}'])")
        assert header.get_attribute("aria-sort") == ("ascending" if order == "asc" else "descending")
    # Ascending, as shown: the smallest token counts first (exact counts are in each cell's tooltip).
    page.click('button[data-sort="tokens"]')
    ids = wait_rows_change(browser, ids)
    page.click('button[data-sort="tokens"]')
    ids = wait_rows_change(browser, ids)
    titles = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.children[7].title)")
    tokens = [
        sum(int(n.replace(",", "")) for n in re.search(r"Prompt ([\d,]+) · Completion ([\d,]+)", t).groups())
        for t in titles
    ]
    assert tokens == sorted(tokens) and tokens[0] < tokens[-1]
    assert browser.errors == []


def test_a_session_with_nan_and_infinite_doubles_opens_and_shows_them_as_the_api_serves_them(
    browser: Browser, live_sender: OtlpSessions, collector: CollectorProcess
) -> None:
    with live_sender.session(time.time_ns() - 2_000_000_000, tags=["odd-numbers"], reason="scored") as session:
        odd = {"eval.score": float("nan"), "eval.max": float("inf"), "eval.min": float("-inf")}
        with session.span("judge", sc.KIND_ACTION, **odd):
            pass
    live_sender.flush()
    wait_for(lambda: collector.get(f"/v2/sessions/{session.session_id}/stats", LIVE_KEY)[0] == 200, 30, "the session")
    served = get_json(collector, f"/v2/sessions/{session.session_id}/spans", LIVE_KEY)
    (judge,) = [s for s in served["spans"] if s["name"] == "judge"]
    shown_as = {"eval.score": "NaN", "eval.max": "Infinity", "eval.min": "-Infinity"}
    assert {k: judge["attributes"][k] for k in odd} == shown_as
    page = browser.page
    browser.login(LIVE_KEY, f"#/sessions/{session.session_id}")
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert page.locator(".notice-error").count() == 0
    open_span(browser, "judge")
    rows = dict(
        page.eval_on_selector_all(
            "#span-details .attr-table tr",
            "rows => rows.map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent])",
        )
    )
    assert {k: rows[k] for k in odd} == shown_as
    assert browser.errors == []


def test_a_new_session_appears_while_the_list_is_open(browser: Browser, live_sender: OtlpSessions) -> None:
    page = browser.page
    browser.login(LIVE_KEY)  # other tests' sessions, or none yet
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloaded
    with live_sender.session(time.time_ns() - 1_000_000_000, tags=["arrived-live"], reason="late") as late:
        late.llm("gpt-4o-mini", ms=300)
    live_sender.flush()
    page.wait_for_selector(f'{ROWS}[data-session-id="{late.session_id}"]', timeout=20_000)  # the next poll
    assert row_ids(browser)[0] == late.session_id
    row = page.locator(f'{ROWS}[data-session-id="{late.session_id}"]')
    assert "Success" in row.inner_text() and "arrived-live" in row.locator(".col-tags").inner_text()
    assert page.evaluate("() => window.__sameDocument") is True
    assert browser.errors == []


def test_time_filter(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    now = pin_clock(browser, showcase.now_ns)  # ranges relative to when the showcase was sent
    browser.login(DEMO_KEY)
    ids = row_ids(browser)
    page.select_option("#filter-range", "1h")
    ids = wait_rows_change(browser, ids)
    # The running session (30 s ago) and the script session (1 h ago) are the recent ones.
    assert showcase.running_session in ids
    assert showcase.error_session not in ids  # 2 h ago

    # A custom range (the browser runs in UTC): 90 to 30 minutes ago holds the 1-hour-old session.
    page.select_option("#filter-range", "custom")
    ids = wait_rows_change(browser, ids)  # no bounds yet: every session
    page.fill("#filter-from", (now - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M"))
    ids = wait_rows_change(browser, ids)
    page.fill("#filter-to", (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    ids = wait_rows_change(browser, ids)
    assert ids == [showcase.script_session]
    assert "range=custom" in page.url

    # Clear resets the custom bounds too: choosing "Custom range…" again starts from empty inputs.
    page.click("#filter-clear")
    ids = wait_rows_change(browser, ids)
    assert len(ids) == showcase.total
    assert page.is_hidden("#filter-from")
    assert "range=" not in page.url and "from=" not in page.url
    page.select_option("#filter-range", "custom")
    page.wait_for_selector("#filter-from", state="visible")
    assert page.input_value("#filter-from") == "" and page.input_value("#filter-to") == ""
    page.wait_for_selector("#sessions-table:not(.is-loading)")
    assert len(row_ids(browser)) == showcase.total
    assert browser.errors == []


def test_session_detail_waterfall_llm_span_and_error(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    browser.login(DEMO_KEY)
    page.click(f'{ROWS}[data-session-id="{showcase.error_session}"] td:nth-child(4)')
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert page.url.endswith(f"#/sessions/{showcase.error_session}")

    assert page.inner_text("#session-id") == showcase.error_session
    assert "Failure" in page.inner_text(".detail-state")
    assert page.inner_text("#end-state-reason") == "Unhandled TimeoutError in lookup_order"
    assert page.get_attribute("#video-link", "href") == "https://videos.example.com/sessions/checkout-42.mp4"
    page.click("#host-env summary")
    assert "agent-worker-3" in page.inner_text("#host-env")

    # The waterfall: every span, nested by parent, with durations.
    rows = page.eval_on_selector_all(
        ".wf-row",
        "rows => rows.map(r => [r.querySelector('.wf-name').textContent, r.getAttribute('aria-level'),"
        " r.querySelector('.wf-dur').textContent])",
    )
    assert rows == [
        ["session", "1", rows[0][2]],
        ["checkout flow", "2", rows[1][2]],
        ["chat claude-sonnet-4-20250514", "3", "1.80 s"],
        ["execute_tool lookup_order", "3", "5.00 s"],
        ["chat o3-mini", "3", "2.60 s"],
    ]
    # The failing tool span opens first: its exception and stack trace.
    details = page.locator("#span-details")
    assert "execute_tool lookup_order" in details.locator(".panel-name").inner_text()
    assert details.locator(".exception-type").inner_text() == "TimeoutError"
    assert "order service did not answer within 5 s" in details.locator(".exception-message").inner_text()
    stack = details.locator(".stacktrace").inner_text()
    assert "Traceback (most recent call last)" in stack and "sessions_otlp.py" in stack
    browser.screenshot("05-session-error-span")

    # An LLM span: provider, model, tokens with cache and reasoning, cost, messages.
    export = browser_export(browser, showcase.error_session)
    llm = next(s for s in export["spans"] if s["name"] == "chat claude-sonnet-4-20250514")
    page.click(f".wf-row[data-span-id='{llm['span_id']}']")
    page.wait_for_selector(f"#span-details[data-span-id='{llm['span_id']}']")
    text = details.inner_text()
    assert "anthropic" in text and "claude-sonnet-4-20250514" in text
    tokens = details.locator(".tokens-table").inner_text()
    for label, value in [("Input", "5,200"), ("cache read", "4,096"), ("cache write", "512"), ("Output", "640")]:
        assert f"{label}\t{value}" in tokens, tokens
    cost = Decimal(llm["cost"])
    assert cost > 0
    shown = Decimal(details.locator("#span-cost").inner_text().lstrip("$"))
    assert abs(shown - cost) <= Decimal("0.00005"), (shown, cost)
    assert "Look up order #4411" in details.locator("#input-messages").inner_text()
    assert "I'll look up the order now." in details.locator("#output-messages").inner_text()
    assert "You are the checkout assistant." in text
    browser.reveal("#span-details .llm-usage")
    browser.screenshot("04-session-detail-llm-span")

    # Reasoning tokens on the o3-mini call.
    open_span(browser, "chat o3-mini")
    assert "of which reasoning\t640" in details.locator(".tokens-table").inner_text()

    # Totals match the API's.
    totals = page.inner_text("#session-totals")
    stats = export["stats"]
    assert f"{stats['prompt_tokens']:,} in" in totals and f"{stats['completion_tokens']:,} out" in totals
    # Cache reads, cache writes and reasoning side by side, never added together.
    breakdown = page.eval_on_selector_all(
        "#cache-reasoning .breakdown-item",
        "items => items.map(i => [i.querySelector('.breakdown-label').textContent,"
        " i.querySelector('.breakdown-value').textContent])",
    )
    assert breakdown == [["read", "4,096"], ["write", "512"], ["reasoning", "640"]]
    titles = page.eval_on_selector_all("#cache-reasoning .breakdown-item", "items => items.map(i => i.title)")
    assert titles == ["4,096 cache read tokens", "512 cache write tokens", "640 reasoning tokens"]
    assert [stats["cache_read_tokens"], stats["cache_creation_tokens"], stats["reasoning_tokens"]] == [4096, 512, 640]
    assert browser.errors == []


def test_names_stay_readable_at_1400_px(browser: Browser, showcase: Showcase) -> None:
    """At 1400 px the models under a session id and the LLM span names in the waterfall are whole (the
    cost and model beside a span name give way first), and a short waterfall leaves no tall empty box."""
    page = browser.page
    page.set_viewport_size({"width": 1400, "height": 900})
    cut = "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
    browser.login(DEMO_KEY)
    models = page.locator(f"{ROWS} .cell-models div")
    assert models.count() > 0 and page.eval_on_selector_all(f"{ROWS} .cell-models div", cut) == []
    page.click(f'{ROWS}[data-session-id="{showcase.error_session}"] td:nth-child(4)')
    page.wait_for_selector("#view[data-loaded] .wf-row")
    names = page.eval_on_selector_all(".wf-row .wf-name", "els => els.map(e => e.textContent)")
    assert "chat claude-sonnet-4-20250514" in names
    assert page.eval_on_selector_all(".wf-row .wf-name", cut) == []
    assert page.eval_on_selector_all(".wf-row .wf-meta", "els => els.length") > 0  # costs still shown beside
    # Five rows of 30 px: the body is the 300 px minimum, and the card ends right below it.
    body = page.eval_on_selector(".wf-body", "el => el.getBoundingClientRect()")
    card = page.eval_on_selector(".timeline", "el => el.getBoundingClientRect()")
    assert body["height"] <= 302 and card["bottom"] - body["bottom"] <= 2, (body, card)
    assert browser.errors == []


def browser_export(browser: Browser, session_id: str) -> dict:
    """The export as the page's own origin serves it (fetch with the key from sessionStorage)."""
    return browser.page.evaluate(
        """async (id) => {
            const key = Object.values(sessionStorage)[0];
            const r = await fetch(`/v2/sessions/${id}/export`, {headers: {"X-Agentops-Api-Key": key}});
            return r.json();
        }""",
        session_id,
    )


def test_download_export(browser: Browser, showcase: Showcase, collector: CollectorProcess) -> None:
    page = browser.page
    api_paths: list[str] = []
    page.on("request", lambda r: api_paths.append(r.url.split("/v2/")[-1]) if "/v2/sessions/" in r.url else None)
    browser.login(DEMO_KEY, f"#/sessions/{showcase.error_session}")
    page.wait_for_selector("#view[data-loaded] .wf-row")
    # The page shows the lean spans; the full export is fetched only for the download.
    assert f"sessions/{showcase.error_session}/spans" in api_paths
    assert not any(path.endswith("/export") for path in api_paths)
    with page.expect_download() as info:
        page.click("#download-export")
    download = info.value
    assert api_paths[-1] == f"sessions/{showcase.error_session}/export"
    assert download.suggested_filename == f"session-{showcase.error_session}.json"
    saved = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert saved == get_json(collector, f"/v2/sessions/{showcase.error_session}/export", DEMO_KEY)
    assert saved["session"]["session_id"] == showcase.error_session
    assert len(saved["spans"]) == 5
    assert browser.errors == []


def test_script_in_prompt_renders_as_text(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    browser.login(DEMO_KEY)
    row = page.locator(f'{ROWS}[data-session-id="{showcase.script_session}"]')
    assert "<b>bold</b>" in row.locator(".col-tags").inner_text()  # a tag that is HTML, shown as text
    assert row.locator(".col-tags b").count() == 0
    row.locator("td").nth(3).click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    # One of each: counted in the singular.
    subs = page.eval_on_selector_all("#session-totals .stat-sub", "els => els.map(e => e.textContent)")
    assert "1 LLM call" in subs and "0 actions" in subs and "span besides the session" in subs, subs
    assert page.inner_text(".wf-count") == "2 spans"
    open_span(browser, "chat gpt-4o-mini")
    prompt = page.locator("#input-messages .msg-text").inner_text()
    assert prompt == SCRIPT_PROMPT
    assert "<script>alert(1)</script> I will not run." in page.locator("#output-messages").inner_text()
    assert "You are <i>helpful</i>." in page.inner_text("#span-details")
    attributes = page.inner_text("#span-details .attr-table")
    assert "window.__pwned" in attributes  # raw attribute values are text too
    # Nothing ran and nothing was parsed into elements.
    assert page.evaluate("window.__pwned") is None
    assert page.title() == "AgentOps OTel"
    assert page.locator("#view script, #view img, #view i, #view b").count() == 0
    browser.reveal("#span-details .panel-section:has(#input-messages)")
    browser.screenshot("06-script-prompt-as-text")
    assert browser.errors == []


def test_in_progress_sessions_update_live(browser: Browser, live_sender: OtlpSessions) -> None:
    page = browser.page
    started = time.time_ns() - 5_000_000_000
    live = live_sender.start(started, tags=["live-test"])
    live.llm("gpt-4o-mini", ms=200, prompt="first step")
    live_sender.flush()
    # Newest first (tags only arrive with the root span, at the session's end).
    browser.login(LIVE_KEY)
    row = page.locator(f'{ROWS}[data-session-id="{live.session_id}"]')
    row.wait_for()
    assert "Running" in row.inner_text()
    assert not page.locator(".live").is_hidden()
    # Its tags are not here yet, and the cell says when they come rather than looking untagged.
    assert row.locator(".col-tags").inner_text() == "arrive at session end"
    assert "root span" in row.locator(".col-tags .tags-pending").get_attribute("title")

    # The detail page of the running session picks up new spans without a reload.
    row.locator("td").nth(3).click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert page.locator(".wf-row").count() == 1
    assert "arrive at session end" in page.inner_text(".detail-header .meta-row")
    browser.screenshot("17-running-session")
    live.tool("late_tool", ms=50)
    live_sender.flush()
    page.wait_for_function("() => document.querySelectorAll('.wf-row').length === 2", timeout=20_000)

    # Back on the list, the session's end arrives and the row turns into Success on its own.
    page.go_back()
    row.wait_for()
    live.end("Success", reason="finished live")
    live_sender.flush()
    page.wait_for_function(
        "id => (document.querySelector(`tr[data-session-id='${id}'] .badge`) || {}).textContent === 'Success'",
        arg=live.session_id,
        timeout=20_000,
    )
    assert row.locator(".col-tags").inner_text() == "live-test"  # came with the end
    assert browser.errors == []


def test_a_session_silent_for_over_an_hour_shows_as_inactive(browser: Browser, live_sender: OtlpSessions) -> None:
    # A process killed with -9 never sends its session's end: it must not pulse "Running" forever.
    page = browser.page
    silent = live_sender.start(time.time_ns() - 3 * 3600 * 1_000_000_000)
    silent.llm("gpt-4o-mini", ms=200)
    recent = live_sender.start(time.time_ns() - 60 * 1_000_000_000)
    recent.llm("gpt-4o-mini", ms=200)
    live_sender.flush()
    browser.login(LIVE_KEY)
    for session, label in ((silent, "Inactive"), (recent, "Running")):
        badge = page.locator(f'{ROWS}[data-session-id="{session.session_id}"] .badge')
        badge.wait_for()
        assert badge.inner_text().strip() == label
    silent_row = page.locator(f'{ROWS}[data-session-id="{silent.session_id}"]')
    assert "over an hour" in silent_row.locator(".badge").get_attribute("title")
    assert silent_row.locator(".col-tags").inner_text() == "not received"  # they come with the end
    recent_row = page.locator(f'{ROWS}[data-session-id="{recent.session_id}"]')
    assert recent_row.locator(".col-tags").inner_text() == "arrive at session end"

    silent_row.locator("td").nth(3).click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert "Not ended; last activity" in page.locator(".detail-header").inner_text()
    browser.screenshot("10-inactive-session")
    assert browser.errors == []


def pin_clock(browser: Browser, now_ns: int) -> datetime:
    """The tab's clock (Date.now, new Date()) stands at ``now_ns``: the day buckets the dashboard asks
    for and draws follow the data's reference time, not the hour the test happens to run at."""
    now = datetime.fromtimestamp(now_ns / 1e9, timezone.utc)
    browser.page.clock.set_fixed_time(now)
    return now


def test_overview(browser: Browser, showcase: Showcase) -> None:
    check_overview(browser, showcase, DEMO_KEY, screenshots=True)


def test_overview_at_any_hour(browser: Browser, showcase_at: tuple[Showcase, str]) -> None:
    """The same page for data placed before 00:30, 12:00 and 23:30 UTC (a day's first and last bucket
    nearly empty or nearly full), across a month's and a year's end."""
    check_overview(browser, *showcase_at)


def check_overview(browser: Browser, showcase: Showcase, key: str, screenshots: bool = False) -> None:
    page = browser.page
    now = pin_clock(browser, showcase.now_ns)
    with page.expect_response(lambda r: "/v2/overview" in r.url) as response:
        browser.login(key, "#/overview")
    data = response.value.json()
    assert "bucket=day" in response.value.url and "start_after=" in response.value.url
    page.wait_for_selector("#overview-totals")
    cards = page.eval_on_selector_all("#overview-totals .stat-value", "els => els.map(e => e.textContent)")
    assert cards[0] == f"{data['totals']['sessions']:,}"
    assert cards[1] == f"{data['totals']['llm_calls']:,}"
    assert data["totals"]["sessions"] >= showcase.total
    assert page.locator("#chart-cost svg .bar").count() > 0
    assert page.locator("#chart-tokens svg .bar").count() > 0
    assert page.locator("#chart-errors svg .bar").count() > 0
    # Cost by model is over the range's sessions (by their start), as the totals: the showcase's
    # sessions all started within the 7 days and between them call every one of the five models.
    assert page.locator("#chart-models .model-table tbody tr").count() == len(data["cost_by_model"]) == len(PROVIDERS)
    assert page.locator("#chart-models svg .donut-seg").count() == len(PROVIDERS)
    assert page.locator("#top-sessions tbody tr").count() == 10
    assert "%" in page.inner_text("#error-rate")

    # The figures are the API's: totals...
    totals = data["totals"]
    assert_money_shown(cards[2], Decimal(totals["cost"]))
    assert page.get_attribute("#overview-totals .stat-accent .money", "title") == f"${totals['cost']}"
    assert_count_shown(cards[3], totals["prompt_tokens"] + totals["completion_tokens"])
    assert abs(float(cards[4].rstrip("%")) - data["error_rate"] * 100) <= 0.05
    assert data["error_rate"] == totals["failed_sessions"] / totals["sessions"]
    assert f"{totals['failed_sessions']:,} of {totals['sessions']:,} failed" in page.inner_text("#error-rate")
    assert f"{totals['errors']:,} error" in page.inner_text("#overview-totals")
    # ...the donut's total is the total cost card's, to the last digit...
    assert sum(Decimal(m["cost"]) for m in data["cost_by_model"]) == Decimal(totals["cost"])
    assert page.text_content("#chart-models .donut-value") == cards[2]
    assert page.text_content("#chart-models .donut-centre > title") == f"${totals['cost']} over {len(PROVIDERS)} models"
    # ...the cost by model, most expensive first...
    models = page.eval_on_selector_all(
        "#chart-models .model-table tbody tr", "rows => rows.map(r => [...r.children].map(td => td.innerText.trim()))"
    )
    by_cost = sorted(data["cost_by_model"], key=lambda m: Decimal(m["cost"]), reverse=True)
    assert [m[0] for m in models] == [m["model"] for m in by_cost]
    for (_, calls, tokens, cost), expected in zip(models, by_cost, strict=True):
        assert calls == f"{expected['calls']:,}"
        assert_count_shown(tokens, expected["prompt_tokens"] + expected["completion_tokens"])
        assert_money_shown(cost, Decimal(expected["cost"]))
    # ...and every day's bars (their tooltips; the last bar is today, UTC).
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    charts = {
        "#chart-cost": (("Cost", "cost"),),
        "#chart-tokens": (("Prompt", "prompt_tokens"), ("Completion", "completion_tokens")),
        "#chart-errors": (("Sessions", "sessions"), ("Error spans", "errors")),
    }
    for chart, fields in charts.items():
        hits = page.locator(f"{chart} svg .hit")
        for bucket in data["buckets"]:
            days_back = (today - datetime.fromisoformat(bucket["start"].replace("Z", "+00:00"))).days
            hits.nth(hits.count() - 1 - days_back).hover()
            tip = dict(
                page.eval_on_selector_all(
                    f"{chart} .chart-tip .tip-row",
                    "rows => rows.map(r => [r.querySelector('.tip-label').textContent,"
                    " r.querySelector('.tip-value').textContent])",
                )
            )
            for label, key in fields:
                if key == "cost":
                    assert_money_shown(tip[label], Decimal(bucket[key]))
                else:
                    assert tip[label] == f"{bucket[key]:,}", (chart, bucket, tip)
    assert sum(b["sessions"] for b in data["buckets"]) == totals["sessions"]
    # ...and every day's error rate: failed sessions of the day's sessions, as the headline one.
    assert sum(b["failed_sessions"] for b in data["buckets"]) == totals["failed_sessions"] > 0
    hits = page.locator("#chart-error-rate svg .hit")
    assert hits.count() == page.locator("#chart-cost svg .hit").count() == 8  # 7 days back and today
    assert page.locator("#chart-error-rate svg .rate-point").count() == len(data["buckets"])
    assert page.locator("#chart-error-rate svg .rate-ref").count() == 1
    assert f"Overall {cards[4]}" in page.inner_text("#chart-error-rate .chart-legend")
    rates = {}
    for i in range(hits.count()):
        hits.nth(i).hover()
        rows = page.eval_on_selector_all(
            "#chart-error-rate .chart-tip .tip-row",
            "rows => rows.map(r => [r.querySelector('.tip-label').textContent,"
            " r.querySelector('.tip-value').textContent])",
        )
        rates[page.inner_text("#chart-error-rate .chart-tip .tip-title")] = dict(rows)
    for bucket in data["buckets"]:
        assert bucket["error_rate"] == bucket["failed_sessions"] / bucket["sessions"]
        day = datetime.fromisoformat(bucket["start"].replace("Z", "+00:00"))
        shown = rates.pop(f"{day:%b} {day.day} (UTC)")
        assert shown["Failed sessions"] == f"{bucket['failed_sessions']:,} of {bucket['sessions']:,}", (bucket, shown)
        assert shown["Error spans"] == f"{bucket['errors']:,}"
        rate = bucket["error_rate"] * 100
        assert shown["Error rate"] == ("0%" if rate == 0 else f"{rate:.2f}%" if rate < 1 else f"{rate:.1f}%"), shown
    # Count axes count in whole numbers; no y-axis label is clipped at the chart's left edge.
    for chart in ("#chart-tokens", "#chart-errors"):
        ticks = page.eval_on_selector_all(
            f"{chart} svg text.axis-label[text-anchor=end]", "els => els.map(e => e.textContent)"
        )
        assert ticks and all(re.fullmatch(r"[\d,]+|[\d.]+[KMB]", t) for t in ticks), (chart, ticks)
    for chart in ("#chart-cost", "#chart-tokens", "#chart-errors", "#chart-error-rate"):
        lefts = page.eval_on_selector_all(
            f"{chart} svg text.axis-label[text-anchor=end]", "els => els.map(e => e.getBBox().x)"
        )
        assert lefts and min(lefts) >= 0, (chart, lefts)
    # A day at 0% gets a quiet dot, not one in the alert colour.
    quiet = sum(1 for b in data["buckets"] if b["failed_sessions"] == 0)
    assert page.locator("#chart-error-rate svg .rate-point-zero").count() == quiet
    # Days without any: the one the showcase leaves empty among them.
    empty_day = datetime.fromtimestamp(showcase.empty_day_ns / 1e9, timezone.utc)
    assert f"{empty_day:%b} {empty_day.day} (UTC)" in rates
    assert all(row == {"Error rate": "—", "Sessions": "0"} for row in rates.values())
    if screenshots:
        hits.nth(hits.count() - 1).hover()  # today's: its tooltip, for the eye
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#chart-error-rate").screenshot(path=str(SCREENSHOTS / "21-overview-error-rate-tooltip.png"))
        page.mouse.move(0, 0)
        browser.screenshot("07-overview")
    # Top sessions link to their detail.
    page.locator("#top-sessions tbody tr a").first.click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    assert browser.errors == []


def test_overview_days_are_utc_days_in_any_time_zone(browser_in_los_angeles: Browser, showcase: Showcase) -> None:
    """Day buckets run UTC midnight to UTC midnight: labelled as UTC days, not as the viewer's dates."""
    browser = browser_in_los_angeles
    page = browser.page
    now = pin_clock(browser, showcase.now_ns)
    with page.expect_response(lambda r: "/v2/overview" in r.url) as response:
        browser.login(DEMO_KEY, "#/overview")
    data = response.value.json()
    page.wait_for_selector("#chart-cost svg .hit")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/Los_Angeles"
    assert "per day (UTC)" in page.inner_text("#chart-cost .card-head")

    def utc_label(iso: str) -> str:
        day = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)
        return f"{day:%b} {day.day}"

    page.locator("#chart-cost svg .hit").last.hover()
    assert page.inner_text("#chart-cost .chart-tip .tip-title") == f"{utc_label(now.isoformat())} (UTC)"
    # The axis names exactly the days the API bucketed, in UTC.
    axis = page.eval_on_selector_all(
        "#chart-cost svg text.axis-label[text-anchor=middle]", "els => els.map(e => e.textContent)"
    )
    assert axis == [utc_label((now - timedelta(days=back)).isoformat()) for back in range(len(axis) - 1, -1, -1)]
    assert {utc_label(b["start"]) for b in data["buckets"]} <= set(axis)
    page.mouse.move(0, 0)
    assert browser.errors == []


@pytest.fixture(scope="module")
def sdk_session(collector: CollectorProcess) -> str:
    """A session recorded by the agentops_otel SDK itself, in its own process."""
    env = sdk_free_env()
    done = subprocess.run(
        [sys.executable, "-m", "tests.dashboard.sdk_agent", collector.url, LIVE_KEY],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    session_id = done.stdout.strip().splitlines()[-1]
    wait_for(
        lambda: get_json(collector, f"/v2/sessions/{session_id}/stats", LIVE_KEY)["events"] == 3,
        30,
        "the SDK session's spans",
    )
    return session_id


def test_session_recorded_by_the_sdk(browser: Browser, sdk_session: str) -> None:
    page = browser.page
    browser.login(LIVE_KEY, "#/sessions?tags=sdk")
    page.wait_for_selector(f'{ROWS}[data-session-id="{sdk_session}"]')
    assert row_ids(browser) == [sdk_session]
    row = page.locator(ROWS).first
    assert "Failure" in row.inner_text() and "travel-agent" in row.inner_text()
    row.locator("td").nth(3).click()
    page.wait_for_selector("#view[data-loaded] .wf-row")
    names = page.eval_on_selector_all(".wf-row .wf-name", "els => els.map(e => e.textContent)")
    assert names == ["session", "chat gpt-4o-mini", "execute_tool search_flights", "ConnectionError"]
    # The recorded error opens first, with the traceback the SDK captured.
    assert page.inner_text("#span-details .exception-type") == "ConnectionError"
    assert "raise ConnectionError" in page.inner_text("#span-details .stacktrace")
    # ...once: the ErrorEvent's logs (agentops.error.logs) are the same traceback, not shown again.
    assert page.inner_text("#span-details").count("raise ConnectionError") == 1
    browser.screenshot("16-sdk-session-error")
    open_span(browser, "chat gpt-4o-mini")
    assert "Find me a flight from Lisbon to Berlin on Friday." in page.inner_text("#input-messages")
    assert "openai" in page.inner_text("#span-details")
    assert browser.errors == []


def test_empty_project_unknown_and_malformed_sessions(browser: Browser, collector: CollectorProcess) -> None:
    page = browser.page
    browser.login(EMPTY_KEY)
    assert page.locator(ROWS).count() == 0
    assert collector.url in page.inner_text("#sessions-empty .code-block")
    browser.screenshot("11-empty-project")

    page.goto(f"{browser.url}/#/sessions/6f1c2a9e-1d2b-4c3d-8e4f-5a6b7c8d9e0f")
    page.wait_for_selector(".notice-error")
    assert "Session not found" in page.inner_text(".notice-error")
    page.goto(f"{browser.url}/#/sessions/not-a-uuid")
    page.wait_for_function(
        "() => (document.querySelector('.notice-error') || {}).textContent?.includes('Not a session id')"
    )
    # The 404 and 400 responses are the only console errors.
    assert browser.errors and all("404" in e or "400" in e for e in browser.errors), browser.errors


def test_a_mistyped_key_on_a_keyless_collector_is_hinted(browser_context, tmp_path: Path) -> None:
    """No key registered (loopback): every key is its own project, so a typo shows an empty one. The
    empty list says so and names the keys that sent spans by their hint, never in full."""
    app_key = "sk-agent-key-0123456789"
    with collector_process(tmp_path / "keyless", args=["--no-grpc"], env={"AGENTOPS_COLLECTOR_KEYS": ""}) as keyless:
        send(keyless, [SessionBuilder.new(seed=7).root()], key=app_key)
        with browser_tab(browser_context, keyless) as tab:
            tab.login("sk-agent-key-0123456780")  # one character off
            tab.page.wait_for_selector("#key-hint .notice")
            hint = tab.page.inner_text("#key-hint")
            assert "every key is its own project" in hint and "AGENTOPS_API_KEY" in hint
            hints = tab.page.eval_on_selector_all("#key-hint code.key-hint", "els => els.map(e => e.textContent)")
            assert hints == ["sk-a…89"] and "1 span" in hint and app_key not in tab.page.content()
            tab.screenshot("22-mistyped-key-hint")
            assert tab.errors == []


def test_malformed_link_shows_a_message_in_the_normal_layout(browser: Browser, showcase: Showcase) -> None:
    page = browser.page
    browser.login(DEMO_KEY)
    for route in ("#/sessions/%E0", "#/%zz/x", f"#/sessions/{showcase.error_session[:8]}%"):
        page.goto(f"{browser.url}/{route}")
        page.wait_for_selector("#view[data-loaded] #error-page")
        assert "This link is broken" in page.inner_text("#error-page .notice-error")
        assert page.is_visible(".topbar .nav") and page.is_visible("#sign-out")  # the usual frame around it
    browser.screenshot("12-broken-link")
    # The way back works, and nothing threw (a URIError would be a pageerror).
    page.click("#error-page .breadcrumb a")
    page.wait_for_selector(f"#view[data-loaded] {ROWS}")
    assert browser.errors == []


def test_number_formatting(browser: Browser) -> None:
    """The formatting module, run in the browser it ships to."""
    browser.page.goto(browser.url + "/")
    results = browser.page.evaluate(
        """async () => {
            const f = await import('/dashboard/js/format.js');
            const c = await import('/dashboard/js/charts.js');
            return {
                money: [
                    "0", "0.00004", "0.000123", "0.00036", "0.006", "0.0208", "0.5", "12.345", "1234.5", "-0.25",
                    "0.0001605", "0.0000004",
                ].map(f.money),
                exact: ["0.000360", 0.0145, null].map(f.exactMoney),
                ticks: [0, 0.3, 0.0025, 2.5, 1200].map(f.moneyTick),
                millis: [0, 0.25, 38, 1800, 65000, 7300000].map(f.millis),
                compact: [999, 12345, 2500000].map(f.compact),
                percent: [0, 0.004, 0.128].map(f.percent),
                percentTicks: [0, 0.025, 0.25, 1].map(f.percentTick),
                sums: [["0.1", "0.2"], ["0.4907", "0.3185", "0.00000015"], [], ["1.5", "-0.25"], ["0.5", "-0.5"]]
                    .map(f.sumMoney),
                counts: [0, 1, 2, 1234].map((n) => f.count(n, "LLM call")),
                irregular: [1, 3].map((n) => f.count(n, "reply", "replies")),
                countTicks: [1, 3, 7, 120].map((max) => c.niceTicks(max, 4, true)),
                moneyTicks: c.niceTicks(0.00015).map(f.moneyTick),
            };
        }"""
    )
    assert results == {
        "money": [
            *["$0.00", "$0.00004", "$0.000123", "$0.00036", "$0.006", "$0.0208", "$0.50"],
            *["$12.35", "$1,234.50", "\u2212$0.25", "$0.00016", "<$0.000001"],
        ],
        "exact": ["$0.000360", "$0.0145", ""],
        "ticks": ["$0", "$0.30", "$0.0025", "$2.50", "$1,200"],
        "millis": ["0 ms", "0.25 ms", "38 ms", "1.80 s", "1m 05s", "2h 01m"],
        "compact": ["999", "12.3K", "2.5M"],
        "percent": ["0%", "0.40%", "12.8%"],
        "percentTicks": ["0%", "2.5%", "25%", "100%"],
        "sums": ["0.3", "0.80920015", "0", "1.25", "0"],  # exact, as the API adds money
        "counts": ["0 LLM calls", "1 LLM call", "2 LLM calls", "1,234 LLM calls"],
        "irregular": ["1 reply", "3 replies"],
        "countTicks": [[0, 1], [0, 1, 2, 3], [0, 2, 4, 6, 8], [0, 50, 100, 150]],  # whole numbers only
        "moneyTicks": ["$0", "$0.00005", "$0.0001", "$0.00015"],
    }


def test_waterfall_tree_from_untidy_spans(browser: Browser) -> None:
    """Spans out of order, a missing parent and a parent cycle (bad client data) still make a tree."""
    browser.page.goto(browser.url + "/")
    result = browser.page.evaluate(
        """async () => {
            const { Waterfall } = await import('/dashboard/js/waterfall.js');
            const at = (ms) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
            const span = (span_id, parent_span_id, name, start, end, status_code = "UNSET") =>
                ({ span_id, parent_span_id, name, kind: null, start_time: at(start), end_time: at(end), status_code });
            const selected = [];
            const waterfall = new Waterfall({
                spans: [
                    span("c", "a", "child", 3, 5),
                    span("a", null, "root", 0, 10),
                    span("x", "y", "cycle x", 1, 2, "ERROR"),
                    span("y", "x", "cycle y", 2, 3),
                    span("o", "missing", "orphan", 4, 6),
                ],
                onSelect: (s) => selected.push(s.span_id),
            });
            document.body.appendChild(waterfall.el);
            waterfall.select("y");  // walks up its parents: must end
            waterfall.select("x");
            const rows = [...waterfall.el.querySelectorAll('.wf-row')]
                .sort((p, q) => parseFloat(p.style.top) - parseFloat(q.style.top))
                .map((r) => [r.querySelector('.wf-name').textContent, r.getAttribute('aria-level')]);
            const count = waterfall.el.querySelector('.wf-count').textContent;
            waterfall.destroy();
            waterfall.el.remove();
            return { rows, selected, count };
        }"""
    )
    assert result == {
        "rows": [["root", "1"], ["child", "2"], ["orphan", "1"], ["cycle x", "1"], ["cycle y", "2"]],
        "selected": ["y", "x"],
        "count": "5 spans",
    }
    assert browser.errors == []
