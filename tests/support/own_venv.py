"""A virtualenv of its own for a package the project's environment cannot hold (CrewAI and OpenLIT
pin ``openai`` below 3), with agentops-otel's dependencies beside it (not agentops-otel itself: apps
run this checkout's ``src`` through ``PYTHONPATH``).

Cached outside the repository under a directory keyed by what it was built from (the requirements,
their extra pins, Python's version), built once (minutes) and reused by every run and checkout; a
change of our own dependencies only tops it up (seconds).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Sequence
from pathlib import Path

from tests.support.replay import REPO_ROOT

BUILD_TIMEOUT_S = 30 * 60


class VenvUnavailable(RuntimeError):
    """The venv could not be built (no network to the package index, say)."""


def _dependencies() -> list[str]:
    """agentops-otel's own dependencies, from pyproject.toml."""
    try:
        import tomllib
    except ImportError as exc:  # Python 3.10
        raise VenvUnavailable("reading pyproject.toml needs Python 3.11 (tomllib)") from exc
    return list(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def _constraints() -> Path:
    return REPO_ROOT / ".ci" / "constraints.txt"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class OwnVenv:
    """``requirements`` installed with ``pins`` as extra constraints (exact versions that spare pip's
    resolver a long search) in a venv under ``$XDG_CACHE_HOME/agentops-otel/<name>``."""

    def __init__(self, name: str, requirements: Sequence[str], pins: Sequence[str] = ()) -> None:
        self.name, self.requirements, self.pins = name, list(requirements), list(pins)

    @property
    def directory(self) -> Path:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "agentops-otel" / self.name / _digest(*self.requirements, *self.pins, sys.version)

    def _deps_marker(self, target: Path) -> Path:
        return target / f".deps-{_digest(*_dependencies(), _constraints().read_text())}"

    def cached_python(self) -> Path | None:
        """The venv's interpreter when it is built and holds the current dependencies."""
        target = self.directory
        if not (target / ".complete").exists() or not self._deps_marker(target).exists():
            return None
        return target / "bin" / "python"

    def _pip_install(self, python: Path, requirements: list[str], timeout: float) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
            pins.write("\n".join(self.pins) + "\n")
        command = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        command += ["-c", str(_constraints()), "-c", pins.name, *requirements]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise VenvUnavailable(f"installing {requirements} took over {timeout:.0f} s") from exc
        finally:
            os.unlink(pins.name)
        if result.returncode != 0:
            raise VenvUnavailable(f"pip could not install {requirements}: {result.stderr[-2000:]}")

    def python(self, timeout: float = BUILD_TIMEOUT_S) -> Path:
        """The venv's interpreter; builds the venv or tops up its dependencies when needed. Raises
        VenvUnavailable when pip cannot."""
        cached = self.cached_python()
        if cached is not None:
            return cached
        target = self.directory
        if not (target / ".complete").exists():
            building = target.with_name(f"{target.name}.building-{os.getpid()}")
            shutil.rmtree(building, ignore_errors=True)
            try:
                venv.create(building, with_pip=True)
                self._pip_install(building / "bin" / "python", [*self.requirements, *_dependencies()], timeout)
                (building / ".complete").write_text("\n".join(self.requirements))
                try:
                    building.rename(target)
                except OSError:  # another run finished first: use its venv
                    shutil.rmtree(building, ignore_errors=True)
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
        self._pip_install(target / "bin" / "python", _dependencies(), timeout)
        self._deps_marker(target).write_text("")
        return target / "bin" / "python"
