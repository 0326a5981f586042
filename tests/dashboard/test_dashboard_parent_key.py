"""The dashboard opened with a parent key: its child projects' sessions, each row naming its project,
in a real Chromium against a real collector whose keys file names the parent."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agentops_otel.collector.auth import key_hash
from agentops_otel.collector.process import CollectorProcess, collector_process
from tests.collector.conftest import SessionBuilder, send
from tests.dashboard.conftest import Browser, browser_tab

pytestmark = pytest.mark.browser

ORG = "sk-dash-org-parent-0001"
KEY_A, KEY_B, KEY_C = (f"sk-dash-child-{n}-000001" for n in "abc")
ROWS = "#sessions-table tbody tr.row-link"


@pytest.fixture(scope="module")
def family(tmp_path_factory) -> Iterator[tuple[CollectorProcess, dict[str, str]]]:
    keys = f"team-a:{KEY_A} parent=sha256:{key_hash(ORG)},team-b:{KEY_B} parent=sha256:{key_hash(ORG)},team-c:{KEY_C}"
    env = {"AGENTOPS_COLLECTOR_KEYS": keys, "AGENTOPS_COLLECTOR_FORWARD": ""}
    with collector_process(tmp_path_factory.mktemp("family"), env=env, args=["--no-grpc"]) as collector:
        sessions = {}
        for i, (name, key) in enumerate((("a", KEY_A), ("b", KEY_B), ("c", KEY_C))):
            builder = SessionBuilder.new(time.time_ns() - (i + 1) * 60 * 10**9, seed=70 + i)
            send(collector, [builder.llm("gpt-4o", 100, 10), builder.root()], key=key)
            sessions[name] = builder.session_id
        yield collector, sessions


@pytest.fixture
def tab(browser_context, family) -> Iterator[Browser]:
    with browser_tab(browser_context, family[0]) as opened:
        yield opened


def rows(tab: Browser) -> dict[str, str]:
    """Session id -> the project named under it ("" when none is)."""
    return dict(
        tab.page.eval_on_selector_all(
            ROWS,
            "rows => rows.map(r => [r.dataset.sessionId,"
            " (r.querySelector('.session-project') || {dataset: {}}).dataset.project || ''])",
        )
    )


def test_a_parent_key_sees_its_child_projects_sessions(tab: Browser, family) -> None:
    _, sessions = family
    page = tab.page
    tab.login(ORG)
    page.wait_for_function("() => document.querySelectorAll('.session-project').length === 2")
    assert rows(tab) == {sessions["a"]: "team-a", sessions["b"]: "team-b"}
    tab.screenshot("30-parent-key-sessions")
    page.click(f"{ROWS}[data-session-id='{sessions['b']}'] .session-link")
    page.wait_for_selector("#view[data-loaded] .meta-row")
    assert "team-b" in page.inner_text(".meta-row")
    page.goto(f"{tab.url}/#/sessions/{sessions['c']}")  # not a child: as if there were no such session
    page.wait_for_selector(".notice-error")
    assert "Session not found" in page.inner_text(".notice-error")
    page.goto(f"{tab.url}/#/overview")
    page.wait_for_selector("#overview-totals")
    cards = page.eval_on_selector_all("#overview-totals .stat-value", "els => els.map(e => e.textContent)")
    assert cards[0] == "2" and cards[1] == "2"
    assert page.locator("#top-sessions tbody tr").count() == 2
    projects = page.eval_on_selector_all("#top-sessions .session-project", "els => els.map(e => e.dataset.project)")
    assert sorted(projects) == ["team-a", "team-b"]
    tab.screenshot("31-parent-key-overview")
    assert all("404" in e for e in tab.errors), tab.errors


def test_a_child_key_sees_only_its_project(tab: Browser, family) -> None:
    _, sessions = family
    tab.login(KEY_A)
    assert rows(tab) == {sessions["a"]: ""}, "one project: no project line"
    tab.page.goto(f"{tab.url}/#/overview")
    tab.page.wait_for_selector("#top-sessions tbody tr")
    assert tab.page.locator("#top-sessions .session-project").count() == 0
    tab.page.goto(f"{tab.url}/#/sessions/{sessions['b']}")
    tab.page.wait_for_selector(".notice-error")
    assert "Session not found" in tab.page.inner_text(".notice-error")


def test_an_unknown_parent_key_is_not_accepted(tab: Browser, family) -> None:
    page = tab.page
    page.goto(f"{tab.url}/#/sessions")
    page.fill("#api-key", "sk-dash-org-parent-0002")
    page.click("#key-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#key-form .form-error').textContent.length > 0")
    assert "not accepted" in page.inner_text("#key-form .form-error")
    log = family[0].log()
    assert "unknown API key" in log
    for secret in (ORG, KEY_A, KEY_B, KEY_C, "sk-dash-org-parent-0002"):
        assert secret not in log
