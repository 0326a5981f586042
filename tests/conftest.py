"""Fixtures shared by every test area; each area keeps its own in its folder's conftest.py."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.replay import FIXTURES_DIR, RECORDED_DIR, ReplayServer

# Settings of the code under test that a developer's shell or a CI runner may hold: none may reach a
# test or a process it starts (an exporter pointed elsewhere, a provider key that would send an
# example to the real provider). AGENTOPS_OTELCOL_CACHE says where the harness caches its
# OpenTelemetry Collector build, the same for scripts/build-otelcol.sh and the tests: kept.
SCRUBBED_ENV_PREFIXES = ("AGENTOPS_", "OTEL_", "OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_", "AWS_")
KEPT_ENV = frozenset({"AGENTOPS_OTELCOL_CACHE"})


def _scrubbed(name: str) -> bool:
    return name.startswith(SCRUBBED_ENV_PREFIXES) and name not in KEPT_ENV


def isolate_run_from_the_caller() -> None:
    """Run the tests, and every process they start, apart from the caller's environment and HOME.

    HOME is a fresh directory for the run (the collector's default data dir is under it, for one);
    the tools' own caches and settings (pip, Go, the Collector build) stay where they were, through
    the XDG and Go variables when the caller did not set them. Traffic to 127.0.0.1 never goes
    through a proxy the caller configured.
    """
    for name in [n for n in os.environ if _scrubbed(n)]:
        del os.environ[name]
    home = Path.home()
    os.environ.setdefault("XDG_CACHE_HOME", str(home / ".cache"))
    os.environ.setdefault("XDG_CONFIG_HOME", str(home / ".config"))
    os.environ.setdefault("GOPATH", str(home / "go"))
    run_home = tempfile.mkdtemp(prefix="agentops-tests-home-")
    atexit.register(shutil.rmtree, run_home, ignore_errors=True)
    os.environ["HOME"] = run_home
    for name in ("NO_PROXY", "no_proxy"):
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"]))


isolate_run_from_the_caller()  # at import, before any test module or fixture reads the environment


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting left behind by an earlier test (the SDK sets its inherited-session variable) leaks in."""
    for name in [n for n in os.environ if _scrubbed(n)]:
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def spool_dir(clean_env: None, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's SDK spool (AGENTOPS_SPOOL_DIR, kept in the environment of the processes it starts):
    never the user's cache directory, never another test's spans."""
    path = tmp_path_factory.mktemp("spool")
    monkeypatch.setenv("AGENTOPS_SPOOL_DIR", str(path))
    return path


def sdk_free_env(*prefixes: str) -> dict[str, str]:
    """``os.environ`` without the SDK's variables (``AGENTOPS_*``, ``OTEL_*`` and ``prefixes``), for a
    child process configured by its arguments only; the test's spool directory stays."""
    drop = ("AGENTOPS_", "OTEL_", *prefixes)
    return {k: v for k, v in os.environ.items() if not k.startswith(drop) or k == "AGENTOPS_SPOOL_DIR"}


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's one chDB directory (chDB opens one path per process); each user takes a fresh database.
    Without chDB the ClickHouse half of the store tests skips, except under CI=true (the test extra has it)."""
    for module in ("chdb", "clickhouse_connect"):
        try:
            __import__(module)
        except ImportError:
            message = f"{module} not installed (pip install 'agentops-otel[clickhouse]')"
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true but {message}: the test extra installs it")
            pytest.skip(message)
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def recorded_path(relative: str) -> Path:
    """Path of a file in ../shared/recorded; skips the test with a clear reason when absent."""
    path = RECORDED_DIR / relative
    if not path.exists():
        pytest.skip(f"../shared/recorded/{relative} not available (recorded provider responses live beside the repo)")
    return path


def fixture_path(relative: str) -> Path:
    """Path of one of the project's own small fixtures in tests/fixtures."""
    return FIXTURES_DIR / relative


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Dummy AWS credentials and no AWS configuration files (the caller's AWS_ variables are scrubbed)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
