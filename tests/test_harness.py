"""The test run itself: whatever the caller's environment and HOME, the tests and their processes see the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.replay import REPO_ROOT

PROBE = """
import os, subprocess, sys

def test_probe():
    leaked = sorted(n for n in os.environ if n.startswith(("AGENTOPS_", "OTEL_", "OPENAI_", "ANTHROPIC_")))
    # the harness's own: the Collector build cache, and each test's SDK spool (never the caller's)
    assert leaked == ["AGENTOPS_OTELCOL_CACHE", "AGENTOPS_SPOOL_DIR"], leaked
    assert os.environ["AGENTOPS_SPOOL_DIR"] != os.environ["PROBE_CALLER_SPOOL"]
    assert os.environ["HOME"] != os.environ["PROBE_CALLER_HOME"] and os.path.isdir(os.environ["HOME"])
    assert not os.listdir(os.environ["HOME"])
    assert "127.0.0.1" in os.environ["NO_PROXY"].split(",") and "127.0.0.1" in os.environ["no_proxy"].split(",")
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('OTEL_EXPORTER_OTLP_ENDPOINT'), os.environ['HOME'])"],
        capture_output=True, text=True, check=True,
    )
    assert child.stdout.split() == ["None", os.environ["HOME"]]
"""


def test_the_callers_settings_and_home_reach_no_test_nor_its_processes(tmp_path: Path) -> None:
    caller_home = tmp_path / "caller-home"
    caller_home.mkdir()
    (caller_home / ".agentops-otel").mkdir()  # a developer's own collector data
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {
        **os.environ,
        "HOME": str(caller_home),
        "PROBE_CALLER_HOME": str(caller_home),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-agentops-api-key=caller-key",
        "AGENTOPS_API_KEY": "caller-key",
        "AGENTOPS_COLLECTOR_FORWARD": "http://127.0.0.1:9",
        "OPENAI_API_KEY": "sk-caller",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "AGENTOPS_OTELCOL_CACHE": str(tmp_path / "otelcol-cache"),  # the harness's own setting: kept
        "AGENTOPS_SPOOL_DIR": str(caller_home / "spool"),
        "PROBE_CALLER_SPOOL": str(caller_home / "spool"),
        "NO_PROXY": "",
        "no_proxy": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-p", "no:cacheprovider", str(probe)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
