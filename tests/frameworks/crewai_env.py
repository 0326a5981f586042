"""CrewAI's own virtualenv for the tests: CrewAI pins ``openai`` below 3 and its own ``openai-agents``,
which the project's environment cannot hold beside the versions it tests.

The venv holds CrewAI and agentops-otel's dependencies (not agentops-otel itself: the app runs this
checkout's ``src`` through ``PYTHONPATH``), cached outside the repository under a directory keyed
by the versions it was built from, built once (minutes) and reused by every run and checkout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.support.replay import REPO_ROOT

CREWAI_REQUIREMENT = "crewai==1.15.30"  # the release the tests were written against
BUILD_TIMEOUT_S = 30 * 60


class CrewAIUnavailable(RuntimeError):
    """The venv could not be built (no network to the package index, say)."""


def _requirements() -> list[str]:
    """CrewAI, and agentops-otel's own dependencies at the versions CI pins (constraints)."""
    try:
        import tomllib
    except ImportError as exc:  # Python 3.10
        raise CrewAIUnavailable("reading pyproject.toml needs Python 3.11 (tomllib)") from exc
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [CREWAI_REQUIREMENT, *project["dependencies"]]


def _constraints() -> Path:
    return REPO_ROOT / ".ci" / "constraints.txt"


def venv_dir() -> Path:
    key = "\n".join([*_requirements(), _constraints().read_text(), sys.version])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "agentops-otel" / "crewai" / digest


def cached_python() -> Path | None:
    target = venv_dir()
    return target / "bin" / "python" if (target / ".complete").exists() else None


def crewai_python(timeout: float = BUILD_TIMEOUT_S) -> Path:
    """The venv's interpreter; builds the venv when the cache has none (raises CrewAIUnavailable)."""
    cached = cached_python()
    if cached is not None:
        return cached
    target = venv_dir()
    building = target.with_name(f"{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        venv.create(building, with_pip=True)
        pip = [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        result = subprocess.run(
            [*pip, "-c", str(_constraints()), *_requirements()],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise CrewAIUnavailable(f"pip could not install {CREWAI_REQUIREMENT}: {result.stderr[-2000:]}")
        (building / ".complete").write_text(CREWAI_REQUIREMENT)
        try:
            building.rename(target)
        except OSError:  # another run finished first: use its venv
            shutil.rmtree(building, ignore_errors=True)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise CrewAIUnavailable(f"installing {CREWAI_REQUIREMENT} took over {timeout:.0f} s") from exc
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target / "bin" / "python"
