"""CrewAI's own virtualenv for the tests (:mod:`tests.support.own_venv`): CrewAI pins ``openai``
below 3 and its own ``openai-agents``, which the project's environment cannot hold beside the
versions it tests.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.own_venv import BUILD_TIMEOUT_S, OwnVenv, VenvUnavailable

CREWAI_REQUIREMENT = "crewai==1.15.30"  # the release the tests were written against
CREWAI = OwnVenv("crewai", [CREWAI_REQUIREMENT])
CrewAIUnavailable = VenvUnavailable


def venv_dir() -> Path:
    """Keyed by CrewAI's version and Python's: a change of our own dependencies only tops it up."""
    return CREWAI.directory


def cached_python() -> Path | None:
    """The venv's interpreter when it is built and holds the current dependencies."""
    return CREWAI.cached_python()


def crewai_python(timeout: float = BUILD_TIMEOUT_S) -> Path:
    """The venv's interpreter; builds the venv (minutes) or tops up its dependencies (seconds) when
    needed. Raises CrewAIUnavailable when pip cannot."""
    return CREWAI.python(timeout)
