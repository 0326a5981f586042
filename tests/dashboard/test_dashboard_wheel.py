"""The built wheel ships the dashboard: every file under static/ is inside it, byte for byte.

The page is served from the installed package (no build step, no CDN), so a file the wheel left
out would be a 404 for everyone who installs it rather than running from a checkout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agentops_otel.collector import dashboard

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = "agentops_otel/collector/dashboard"
# What pip says when the build backend cannot be fetched for build isolation (no network).
OFFLINE_SIGNS = ("No matching distribution found for hatchling", "Could not find a version that satisfies")


def build_wheel(out: Path) -> Path:
    """The project's wheel, built by its own backend (hatchling).

    Installed hatchling builds offline (``--no-build-isolation``); otherwise pip fetches it into an
    isolated build environment, as ``pip install .`` would. Skips when neither is possible.
    """
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(REPO_ROOT)]
    if importlib.util.find_spec("hatchling") is not None:
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if any(sign in output for sign in OFFLINE_SIGNS) and os.environ.get("CI") != "true":
            pytest.skip("hatchling (the build backend) is not installed and pip could not fetch it: wheel not built")
        pytest.fail(f"building the wheel failed:\n{output[-4000:]}")
    wheels = list(out.glob("agentops_otel-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contains_every_dashboard_file(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    static = dashboard.STATIC_DIR
    shipped = {path.relative_to(static).as_posix(): path for path in static.rglob("*") if path.is_file()}
    assert {"index.html", "css/app.css", "favicon.svg", "js/app.js"} <= set(shipped)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = sorted(f for f in shipped if f"{PACKAGE_DIR}/static/{f}" not in names)
        assert missing == [], f"{wheel.name} lacks {missing}"
        for relative, path in shipped.items():
            assert archive.read(f"{PACKAGE_DIR}/static/{relative}") == path.read_bytes(), relative
        # The code that serves them, and nothing of the checkout's own around them.
        assert {f"{PACKAGE_DIR}/__init__.py", f"{PACKAGE_DIR}/assets.py"} <= names
        assert not any(name.startswith(("tests/", "artifacts/", "bench/")) for name in names)
