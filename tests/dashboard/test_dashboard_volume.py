"""Real volumes: 10,000 sessions and a 5,000-span session load, page, filter, sort and scroll right.

How fast they are is measured by ``bench/bench_dashboard.py`` (medians against the bare API call in
the same run; figures in the README), not asserted here: a test must not depend on the machine's load.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from agentops_otel.collector.process import CollectorProcess
from tests.dashboard.conftest import BIG_SESSION_SPANS, BULK_KEY, Browser, Bulk, get_json

pytestmark = pytest.mark.browser

ROWS = "#sessions-table tr.row-link"


def load(browser: Browser, route: str, ready_selector: str) -> None:
    """Navigate to `route` as a fresh document and wait until `ready_selector` is visible."""
    browser.page.goto("about:blank")
    browser.page.goto(f"{browser.url}/{route}")
    browser.page.wait_for_selector(ready_selector, timeout=60_000)


def test_sessions_page_with_10000_sessions(browser: Browser, bulk: Bulk, collector: CollectorProcess) -> None:
    page = browser.page
    browser.login(BULK_KEY)
    load(browser, "#/sessions", f"#view[data-loaded] {ROWS}")
    expected = get_json(collector, "/v2/sessions?limit=50", BULK_KEY)["sessions"]
    assert page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.sessionId)") == [
        s["session_id"] for s in expected
    ]

    # Paging deep into them: each page is one cursor query, and the pages do not overlap.
    seen = set(page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.sessionId)"))
    for _ in range(5):
        first = page.eval_on_selector(ROWS, "r => r.dataset.sessionId")
        page.click("#page-next")
        page.wait_for_function(
            "first => document.querySelector('#sessions-table tr.row-link').dataset.sessionId !== first", arg=first
        )
        ids = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.sessionId)")
        assert len(ids) == 50 and not seen & set(ids)
        seen.update(ids)
    assert "Showing 251\u2013300" in page.inner_text("#page-info")
    assert len(seen) == 300 <= bulk.sessions
    browser.screenshot("08-sessions-10000")
    assert browser.errors == []


def test_10000_sessions_filtered_by_tag_and_sorted_by_cost(
    browser: Browser, bulk: Bulk, collector: CollectorProcess
) -> None:
    page = browser.page
    browser.login(BULK_KEY)
    load(browser, "#/sessions?tags=batch-7&sort=cost", f"#view[data-loaded] {ROWS}")
    expected = get_json(collector, "/v2/sessions?tags=batch-7&sort=cost&limit=50", BULK_KEY)["sessions"]
    rows = page.eval_on_selector_all(
        ROWS,
        "rows => rows.map(r => [r.dataset.sessionId, r.querySelector('.col-tags').textContent,"
        " r.querySelector('.col-cost').title])",
    )
    assert [r[0] for r in rows] == [s["session_id"] for s in expected] and len(rows) == 50
    assert all("batch-7" in tags for _, tags, _ in rows)
    costs = [Decimal(title.lstrip("$")) for _, _, title in rows]
    assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]

    # Applied by hand on the open page: type a tag, then sort by cost, then cheapest first.
    load(browser, "#/sessions", f"#view[data-loaded] {ROWS}")
    for action in (
        lambda: (page.fill("#filter-tags", "batch-3"), page.press("#filter-tags", "Enter")),
        lambda: page.click('button[data-sort="cost"]'),
        lambda: page.click('button[data-sort="cost"]'),
    ):
        first = page.eval_on_selector(ROWS, "r => r.dataset.sessionId")
        action()
        page.wait_for_function(
            """first => !document.querySelector('#sessions-table.is-loading')
                && document.querySelector('#sessions-table tr.row-link').dataset.sessionId !== first""",
            arg=first,
        )
    assert "tags=batch-3" in page.url and "sort=cost" in page.url and "order=asc" in page.url
    tags = page.eval_on_selector_all(f"{ROWS} .col-tags", "els => els.map(e => e.textContent)")
    assert len(tags) == 50 and all("batch-3" in t for t in tags)
    titles = page.eval_on_selector_all(f"{ROWS} .col-cost", "els => els.map(e => e.title)")
    assert [Decimal(t.lstrip("$")) for t in titles] == sorted(Decimal(t.lstrip("$")) for t in titles)
    browser.screenshot("18-sessions-10000-tag-by-cost")
    assert browser.errors == []


def test_detail_page_with_5000_spans(browser: Browser, bulk: Bulk) -> None:
    page = browser.page
    browser.login(BULK_KEY)
    # The summary (state, totals, export button) may show before the spans arrive; then the full tree.
    load(browser, f"#/sessions/{bulk.big_session}", "#view:is([data-summary], [data-loaded]) #session-totals")
    page.wait_for_function(
        """n => document.querySelector('#view[data-loaded] .wf-row') !== null
            && document.querySelector('.wf-count').textContent === n""",
        arg=f"{BIG_SESSION_SPANS:,} spans",
        timeout=60_000,
    )
    # Only the rows on screen exist in the DOM.
    assert page.locator(".wf-row").count() < 100

    # Scrolling to the very end renders the last rows.
    page.eval_on_selector(".wf-body", "b => { b.scrollTop = b.scrollHeight; }")
    page.wait_for_function(
        "n => [...document.querySelectorAll('.wf-row')].some(r => r.style.top === `${(n - 1) * 30}px`)",
        arg=BIG_SESSION_SPANS,
    )

    # Filtering 5,000 spans down to the LLM calls, and opening one.
    page.click('.wf-toolbar button[data-kind="llm"]')
    page.wait_for_function("() => document.querySelector('.wf-count').textContent.includes(' of ')")
    shown, total = page.inner_text(".wf-count").split(" of ")
    assert 0 < int(shown.replace(",", "")) < BIG_SESSION_SPANS and total == f"{BIG_SESSION_SPANS:,} spans"
    page.locator(".wf-row[data-kind='llm']").first.click()
    page.wait_for_selector("#span-details .tokens-table")
    browser.screenshot("09-session-5000-spans")
    assert browser.errors == []
