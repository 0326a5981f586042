"""Dashboard benchmark: page loads in headless Chromium against a real collector with real volumes.

    .venv/bin/python bench/bench_dashboard.py            # 10,000 sessions, a 5,000-span session
    .venv/bin/python bench/bench_dashboard.py --quick    # 1,000 sessions, a 1,000-span session

Each figure is the median of several loads of a fresh document (HTML, modules, API calls, render)
until the page's rows are on screen. Baseline, same run and same tab: the bare API call the page
makes (`fetch` + `JSON.parse`, no rendering), so the ratio is what the dashboard adds on top of
the collector's API.
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
    JSON.parse(await r.text());
    return (performance.now() - t0) / 1000;
}"""


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def page_load(page, url: str, route: str, selector: str) -> float:
    page.goto("about:blank")
    start = time.perf_counter()
    page.goto(f"{url}/{route}")
    page.wait_for_selector(selector, timeout=60_000)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    sessions, big = (1_000, 1_000) if options.quick else (10_000, 5_000)
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

            cases = [
                (f"sessions page (50 of {sessions:,})", "#/sessions", "#view[data-loaded] tr.row-link",
                 "/v2/sessions?limit=50"),
                (f"session detail ({big:,} spans)", f"#/sessions/{big_id}", "#view[data-loaded] .wf-row",
                 f"/v2/sessions/{big_id}/export"),
                ("overview (30 days)", "#/overview?range=30d", "#view[data-loaded] #chart-cost svg",
                 "/v2/overview?bucket=day"),
            ]  # fmt: skip
            print(f"\n{'page':34} {'dashboard':>11} {'bare API':>10} {'ratio':>7}   (median of {options.runs})")
            for name, route, selector, api_path in cases:
                loads = [page_load(page, collector.url, route, selector) for _ in range(options.runs)]
                bare = [page.evaluate(BASELINE_JS, api_path) for _ in range(options.runs)]
                dash_ms, bare_ms = median_ms(loads), median_ms(bare)
                print(f"{name:34} {dash_ms:8.0f} ms {bare_ms:7.0f} ms {dash_ms / bare_ms:6.2f}x")
            context.close()


if __name__ == "__main__":
    main()
