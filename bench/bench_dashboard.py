"""Dashboard benchmark: page loads in headless Chromium against a real collector with real volumes.

    .venv/bin/python bench/bench_dashboard.py            # 10,000 sessions, a 5,000-span session
    .venv/bin/python bench/bench_dashboard.py --quick    # 1,000 sessions, a 1,000-span session

Each figure is the median of several loads of a fresh document (HTML, modules, API calls, render).
A page counts as loaded when its content is on screen:
- sessions page: the 50 rows of the first page (all sessions; then one tag's, most expensive first);
- session detail, first content: the header and totals (from ``/stats``), spans still loading;
- session detail, full waterfall: every span of the session in the waterfall tree (the span count
  shows all of them) and the rows in view drawn; any other row is one scroll frame away;
- overview: the cost chart.
Baseline, same run and same tab: the bare API call the page waits for (``fetch`` + ``JSON.parse``,
no rendering), so the ratio is what the dashboard adds on top of the collector's API. For the
detail page the old payload, the full ``/export``, is measured the same way for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the OTLP data builder lives with the tests

from playwright.sync_api import sync_playwright
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.sessions_otlp import OtlpSessions, send_bulk

from agentops_otel.collector.process import collector_process

KEY = "bench-key"
BASELINE_JS = """async (path) => {
    const t0 = performance.now();
    const r = await fetch(path, {headers: {"X-Agentops-Api-Key": Object.values(sessionStorage)[0]}});
    const text = await r.text();
    JSON.parse(text);
    return [(performance.now() - t0) / 1000, text.length];
}"""
# In-page timings of the last detail load: the /spans call (request to last byte), then the
# browser's own work: JSON parse, then header + tree + drawing the waterfall.
DETAIL_PHASES_JS = """() => {
    const spans = performance.getEntriesByType('resource').find(e => e.name.endsWith('/spans'));
    const mark = (name) => performance.getEntriesByName(name)[0].startTime;
    const parsed = mark('dashboard:spans-parsed');
    return [(spans.responseEnd - spans.requestStart) / 1000, (parsed - spans.responseEnd) / 1000,
            (mark('dashboard:spans-rendered') - parsed) / 1000];
}"""
FULL_WATERFALL_JS = """(count) => document.querySelector('#view[data-loaded] .wf-row') !== null
    && document.querySelector('.wf-count').textContent === count"""


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.0f} ms"


def page_load(page, url: str, route: str, selector: str) -> float:
    page.goto("about:blank")
    start = time.perf_counter()
    page.goto(f"{url}/{route}")
    page.wait_for_selector(selector, timeout=60_000)
    return time.perf_counter() - start


def detail_load(page, url: str, session_id: str, spans: int) -> tuple[float, ...]:
    """Seconds to first content and to the full waterfall, then the phases of DETAIL_PHASES_JS."""
    page.goto("about:blank")
    start = time.perf_counter()
    page.goto(f"{url}/#/sessions/{session_id}")
    page.wait_for_selector("#view:is([data-summary], [data-loaded]) #session-totals", timeout=60_000)
    first = time.perf_counter() - start
    page.wait_for_function(FULL_WATERFALL_JS, arg=f"{spans:,} spans", timeout=60_000, polling=5)
    full = time.perf_counter() - start
    return first, full, *page.evaluate(DETAIL_PHASES_JS)


def bare(page, path: str, runs: int) -> tuple[list[float], int]:
    results = [page.evaluate(BASELINE_JS, path) for _ in range(runs)]
    return [seconds for seconds, _ in results], results[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    sessions, big = (1_000, 1_000) if options.quick else (10_000, 5_000)
    runs = options.runs
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not installed (apt-get install chromium)")

    with (
        tempfile.TemporaryDirectory() as data,
        collector_process(
            data, env={"AGENTOPS_COLLECTOR_KEYS": f"bench:{KEY}"}, args=["--no-grpc", "--log-level", "warning"]
        ) as collector,
    ):
        sender = OtlpSessions(collector.url, KEY)
        start = time.perf_counter()
        big_id = send_bulk(sender, time.time_ns(), sessions=sessions, big_spans=big)
        sender.close()
        while collector.get("/v2/overview", KEY)[1]["totals"]["sessions"] < sessions:
            time.sleep(0.2)
        spans = 2 * (sessions - 1) + big  # each small session: its root and one LLM call
        print(f"loaded {sessions:,} sessions ({spans:,} spans) over OTLP in {time.perf_counter() - start:.1f} s")

        with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1440, "height": 900},
            )  # fmt: skip
            page = context.new_page()
            page.goto(collector.url + "/")
            page.fill("#api-key", KEY)
            page.click("#key-form button[type=submit]")
            page.wait_for_selector("#view[data-loaded]")

            print(f"\n{'page':44} {'dashboard':>11} {'bare API':>11} {'ratio':>7}   (median of {runs})")

            def row(name: str, loads: list[float], api: list[float]) -> None:
                ratio = statistics.median(loads) / statistics.median(api)
                print(f"{name:44} {ms(loads)} {ms(api)} {ratio:6.2f}x")

            loads = [
                page_load(page, collector.url, "#/sessions", "#view[data-loaded] tr.row-link") for _ in range(runs)
            ]
            row(f"sessions page (50 of {sessions:,})", loads, bare(page, "/v2/sessions?limit=50", runs)[0])
            loads = [
                page_load(page, collector.url, "#/sessions?tags=batch-7&sort=cost", "#view[data-loaded] tr.row-link")
                for _ in range(runs)
            ]
            filtered_api = bare(page, "/v2/sessions?limit=50&tags=batch-7&sort=cost", runs)[0]
            row("sessions page, one tag, by cost", loads, filtered_api)

            detail = [detail_load(page, collector.url, big_id, big) for _ in range(runs)]
            first, full, server, parse, draw = (list(column) for column in zip(*detail, strict=True))
            stats_api = bare(page, f"/v2/sessions/{big_id}/stats", runs)[0]
            spans_api, spans_bytes = bare(page, f"/v2/sessions/{big_id}/spans", runs)
            export_api, export_bytes = bare(page, f"/v2/sessions/{big_id}/export", runs)
            row(f"session detail ({big:,} spans), first content", first, stats_api)
            row(f"session detail ({big:,} spans), full waterfall", full, spans_api)

            loads = [
                page_load(page, collector.url, "#/overview?range=30d", "#view[data-loaded] #chart-cost svg")
                for _ in range(runs)
            ]
            row("overview (30 days)", loads, bare(page, "/v2/overview?bucket=day", runs)[0])

            print(
                f"\ndetail page breakdown: /spans request {ms(server).strip()}, JSON parse {ms(parse).strip()},"
                f" header + tree + waterfall {ms(draw).strip()}"
            )
            print(
                f"payload: /spans {spans_bytes / 1e6:.2f} MB, fetch+parse {ms(spans_api).strip()};"
                f" /export {export_bytes / 1e6:.2f} MB, fetch+parse {ms(export_api).strip()}"
                f" ({statistics.median(export_api) / statistics.median(spans_api):.2f}x the time)"
            )
            context.close()


if __name__ == "__main__":
    main()
