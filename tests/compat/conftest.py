"""AgentOps 0.3 programs in their own processes, exporting to the real collector (with a keys file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentops_otel.collector.auth import key_hash
from agentops_otel.collector.process import CollectorProcess, start_collector
from tests.support.replay import REPO_ROOT

APP = Path(__file__).with_name("app03.py")
KEY = "compat-key-0001-abcd"
PROJECT = "compat-project"
# an organisation's parent key and a second project whose keys entry names it (parent=)
PARENT_KEY = "compat-org-parent-key-01"
CHILD_KEY = "compat-child-key-0002"
CHILD_PROJECT = "compat-child"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the module: every test reads only the sessions it made."""
    tmp_path = tmp_path_factory.mktemp("compat")
    keys = tmp_path / "keys"
    keys.write_text(f"{PROJECT}:{KEY}\n{CHILD_PROJECT}:{CHILD_KEY} parent=sha256:{key_hash(PARENT_KEY)}\n")
    process = start_collector(tmp_path / "collector", args=["--keys-file", str(keys), "--no-grpc"])
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Run:
    result: dict
    stderr: str


def run_app(scenario: str, cwd: Path = REPO_ROOT, **env: str) -> Run:
    """Run one scenario of app03.py with only the given AGENTOPS_/OTEL_ variables set."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "OTEL_"))}
    child_env.update(PYTHONPATH=str(REPO_ROOT), AGENTOPS_EXIT_HANDLERS="false", **env)
    done = subprocess.run(
        [sys.executable, str(APP), scenario],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    return Run(json.loads(done.stdout.strip().splitlines()[-1]), done.stderr)


def env_03(collector: CollectorProcess, **extra: str) -> dict[str, str]:
    """AgentOps 0.3's variables pointing at the collector."""
    return {"AGENTOPS_API_ENDPOINT": collector.url, "AGENTOPS_API_KEY": KEY, **extra}
