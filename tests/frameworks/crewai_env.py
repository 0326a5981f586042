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


def _dependencies() -> list[str]:
    """agentops-otel's own dependencies, from pyproject.toml."""
    try:
        import tomllib
    except ImportError as exc:  # Python 3.10
        raise CrewAIUnavailable("reading pyproject.toml needs Python 3.11 (tomllib)") from exc
    return list(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def _constraints() -> Path:
    return REPO_ROOT / ".ci" / "constraints.txt"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def venv_dir() -> Path:
    """Keyed by CrewAI's version and Python's: a change of our own dependencies only tops it up."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "agentops-otel" / "crewai" / _digest(CREWAI_REQUIREMENT, sys.version)


def _deps_marker(target: Path) -> Path:
    return target / f".deps-{_digest(*_dependencies(), _constraints().read_text())}"


def cached_python() -> Path | None:
    """The venv's interpreter when it is built and holds the current dependencies."""
    target = venv_dir()
    if not (target / ".complete").exists() or not _deps_marker(target).exists():
        return None
    return target / "bin" / "python"


def _pip_install(python: Path, requirements: list[str], timeout: float) -> None:
    command = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", str(_constraints())]
    try:
        result = subprocess.run(
            [*command, *requirements], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise CrewAIUnavailable(f"installing {requirements} took over {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise CrewAIUnavailable(f"pip could not install {requirements}: {result.stderr[-2000:]}")


def crewai_python(timeout: float = BUILD_TIMEOUT_S) -> Path:
    """The venv's interpreter; builds the venv (minutes) or tops up its dependencies (seconds) when
    needed. Raises CrewAIUnavailable when pip cannot."""
    cached = cached_python()
    if cached is not None:
        return cached
    target = venv_dir()
    if not (target / ".complete").exists():
        building = target.with_name(f"{target.name}.building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        try:
            venv.create(building, with_pip=True)
            _pip_install(building / "bin" / "python", [CREWAI_REQUIREMENT, *_dependencies()], timeout)
            (building / ".complete").write_text(CREWAI_REQUIREMENT)
            try:
                building.rename(target)
            except OSError:  # another run finished first: use its venv
                shutil.rmtree(building, ignore_errors=True)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    _pip_install(target / "bin" / "python", _dependencies(), timeout)
    _deps_marker(target).write_text("")
    return target / "bin" / "python"
