"""The SDK examples run offline and show what they claim."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.sdk.conftest import child_env
from tests.support.otlp_sink import REPO_ROOT


def run_example(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / name)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_sdk_basic():
    out = run_example("sdk_basic.py")
    assert "'LLM calls': 1, 'Tool calls': 1, 'Actions': 1, 'Errors': 1" in out
    assert re.search(r"cost \$0\.0001\d+", out)
    assert "execute_tool weather  [tool, UNSET]" in out and "TimeoutError  [error, ERROR]" in out


def test_sdk_concurrent():
    out = run_example("sdk_concurrent.py")
    assert out.count(": 7 spans") == 2


def test_sdk_inherited():
    out = run_example("sdk_inherited.py")
    traces = set(re.findall(r"trace ([0-9a-f]{32})", out))
    pids = set(re.findall(r"pid (\d+)", out))
    assert len(traces) == 1 and len(pids) == 2
    assert out.count("parent ----------------  session") == 1
