"""Fixtures for the dashboard tests: a real collector process, real OTLP data, a real Chromium."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from agentops_otel.collector.process import CollectorProcess, collector_process
from tests.dashboard.sessions_otlp import OtlpSessions, Showcase, send_bulk, send_showcase

CHROMIUM = Path("/usr/bin/chromium")
# Flags this network needs: no sandbox (root in a container), no GPU, and no background
# connections to Google services (only 127.0.0.1 is reachable).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DEMO_KEY = "demo-key-0123456789"
BULK_KEY = "bulk-key-9876543210"
LIVE_KEY = "live-key-5555555555"  # sessions that tests add while they run, apart from the showcase
EMPTY_KEY = "empty-key-0000000000"  # a project that never receives anything
# Projects holding the showcase placed before a fixed instant, to check the day buckets at any hour
# (just after midnight, midday, just before midnight; across a month's and a year's end).
CLOCK_PROJECTS = {
    "2026-03-01T00:30:00+00:00": "clock-key-0030-000000",
    "2025-12-31T12:00:00+00:00": "clock-key-1200-000000",
    "2026-06-15T23:30:00+00:00": "clock-key-2330-000000",
}
BULK_SESSIONS = 10_000
BIG_SESSION_SPANS = 5_000


def require_chromium() -> str:
    """Debian's Chromium; skips when absent, except under CI=true where that is a failure."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium): browser tests skipped")


def get_json(collector: CollectorProcess, path: str, key: str) -> dict:
    status, body = collector.get(path, key)
    assert status == 200, (path, status, body)
    return body


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """`agentops-otel collector` on a free port with a temp SQLite file and four projects."""
    keys = ",".join(
        [f"demo:{DEMO_KEY},bulk:{BULK_KEY},live:{LIVE_KEY},empty:{EMPTY_KEY}"]
        + [f"clock{i}:{key}" for i, key in enumerate(CLOCK_PROJECTS.values())]
    )
    # Forwarding settings from the outer environment must not leak in.
    env = {"AGENTOPS_COLLECTOR_KEYS": keys, "AGENTOPS_COLLECTOR_FORWARD": "", "AGENTOPS_COLLECTOR_FORWARD_HEADERS": ""}
    with collector_process(
        tmp_path_factory.mktemp("collector"), env=env, args=["--no-grpc", "--log-level", "warning"]
    ) as running:
        yield running


@pytest.fixture(scope="session")
def demo_sender(collector: CollectorProcess) -> Iterator[OtlpSessions]:
    with OtlpSessions(collector.url, DEMO_KEY) as sender:
        yield sender


@pytest.fixture(scope="session")
def live_sender(collector: CollectorProcess) -> Iterator[OtlpSessions]:
    with OtlpSessions(collector.url, LIVE_KEY) as sender:
        yield sender


@pytest.fixture(scope="session")
def showcase(collector: CollectorProcess, demo_sender: OtlpSessions) -> Showcase:
    """The varied demo project, stored and queryable."""
    return store_showcase(collector, demo_sender, DEMO_KEY, time.time_ns())


def store_showcase(collector: CollectorProcess, sender: OtlpSessions, key: str, now_ns: int) -> Showcase:
    data = send_showcase(sender, now_ns)
    wait_for(
        lambda: get_json(collector, "/v2/overview", key)["totals"]["sessions"] >= data.total,
        60,
        "the showcase sessions to be stored",
    )
    return data


@pytest.fixture(scope="session", params=list(CLOCK_PROJECTS))
def showcase_at(request: pytest.FixtureRequest, collector: CollectorProcess) -> tuple[Showcase, str]:
    """The showcase placed before a fixed instant, in a project of its own: (data, API key)."""
    key = CLOCK_PROJECTS[request.param]
    now_ns = int(datetime.fromisoformat(request.param).timestamp()) * 1_000_000_000
    with OtlpSessions(collector.url, key) as sender:
        return store_showcase(collector, sender, key, now_ns), key


@dataclass
class Bulk:
    big_session: str
    sessions: int


@pytest.fixture(scope="session")
def bulk(collector: CollectorProcess) -> Bulk:
    """10,000 sessions, one of them with 5,000 spans, in their own project."""
    with OtlpSessions(collector.url, BULK_KEY) as sender:
        big = send_bulk(sender, time.time_ns(), sessions=BULK_SESSIONS, big_spans=BIG_SESSION_SPANS)
    wait_for(
        lambda: get_json(collector, "/v2/overview", BULK_KEY)["totals"]["sessions"] >= BULK_SESSIONS,
        120,
        "10,000 bulk sessions to be stored",
        interval=0.5,
    )
    return Bulk(big_session=big, sessions=BULK_SESSIONS)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[object]:
    """Playwright, module-scoped: its sync API keeps an asyncio loop running while it lives, which
    would break asyncio tests in other modules run after these."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@contextmanager
def chromium_context(playwright, timezone_id: str = "UTC") -> Iterator[object]:
    """Headless Debian Chromium with a fresh user data dir, in the given time zone."""
    with tempfile.TemporaryDirectory(prefix="dashboard-chromium-") as user_data:
        context = playwright.chromium.launch_persistent_context(
            user_data,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
            accept_downloads=True,
            timezone_id=timezone_id,
            locale="en-US",
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def browser_context(playwright_driver) -> Iterator[object]:
    """The browser most tests share: UTC, en-US, 1440 x 900."""
    with chromium_context(playwright_driver) as context:
        yield context


@dataclass
class Browser:
    """One tab plus what it reported: page errors and console errors (CSP violations show there)."""

    page: object
    url: str
    errors: list[str]

    def login(self, key: str, route: str = "#/sessions") -> None:
        self.page.goto(f"{self.url}/{route}")
        self.page.fill("#api-key", key)
        self.page.click("#key-form button[type=submit]")
        self.page.wait_for_selector("#view[data-loaded]")

    def reveal(self, selector: str) -> None:
        """Scroll the span panel so `selector` sits at its top (for screenshots)."""
        self.page.eval_on_selector(
            selector, "el => { const p = el.closest('.span-panel-inner'); p.scrollTop = el.offsetTop - 8; }"
        )

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.evaluate("() => window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@contextmanager
def browser_tab(context, collector: CollectorProcess) -> Iterator[Browser]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    try:
        yield Browser(page=page, url=collector.url, errors=errors)
    finally:
        page.close()


@pytest.fixture
def browser(browser_context, collector: CollectorProcess) -> Iterator[Browser]:
    with browser_tab(browser_context, collector) as tab:
        yield tab


@pytest.fixture
def browser_in_los_angeles(playwright_driver, collector: CollectorProcess) -> Iterator[Browser]:
    """A tab of a browser whose clock is in America/Los_Angeles (UTC-8 or -7)."""
    with chromium_context(playwright_driver, "America/Los_Angeles") as context, browser_tab(context, collector) as tab:
        yield tab
