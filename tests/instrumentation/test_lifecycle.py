"""instrument()/uninstrument(): idempotent, exact restoration, any import order, absent or unsupported
libraries. Import-order cases run in fresh interpreters, since a library can only be imported once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anthropic
import anthropic._base_client as anthropic_base
import groq._base_client as groq_base
import openai._base_client as openai_base
import pytest
import wrapt
from packaging.requirements import Requirement

from agentops_otel.instrumentation import instrument, instrumentors, uninstrument
from tests.support.replay import REPO_ROOT

PATCHED = [
    (openai_base.SyncAPIClient, "request"),
    (openai_base.AsyncAPIClient, "request"),
    (anthropic_base.SyncAPIClient, "request"),
    (anthropic_base.AsyncAPIClient, "request"),
    (anthropic_base.BaseClient, "_tracer"),
    (groq_base.SyncAPIClient, "request"),
    (groq_base.AsyncAPIClient, "request"),
]


def run_script(code: str, tmp_path: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    paths = [str(extra_path)] if extra_path else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(REPO_ROOT)])}
    return subprocess.run(
        [sys.executable, str(script)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_uninstrument_restores_the_originals_exactly(tracing: Any) -> None:
    uninstrument()
    originals = [owner.__dict__[name] for owner, name in PATCHED]
    instrument()
    instrument()  # idempotent: still one layer
    for (owner, name), original in zip(PATCHED, originals, strict=True):
        current = owner.__dict__[name]
        assert current is not original
        if isinstance(current, wrapt.FunctionWrapper):
            assert current.__wrapped__ is original
    uninstrument()
    uninstrument()  # harmless when not instrumented
    assert [owner.__dict__[name] for owner, name in PATCHED] == originals
    assert all(owner.__dict__[name] is original for (owner, name), original in zip(PATCHED, originals, strict=True))


def test_supported_versions_are_the_package_extras() -> None:
    """``opentelemetry-instrument`` checks an instrumentor's requirement, pip the extra: one range for both."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for instrumentor in instrumentors():
        (extra,) = extras[getattr(instrumentor, "extra", instrumentor.package)]
        assert Requirement(extra) == Requirement(instrumentor.requirement), instrumentor.package


def test_no_spans_after_uninstrument(tracing: Any, replay_server: Any, anthropic_client: anthropic.Anthropic) -> None:
    from tests.conftest import fixture_path

    replay_server.load(fixture_path("anthropic/messages_cache.json"))
    uninstrument()
    anthropic_client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    assert tracing.llm_spans() == []


CALLS = """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tests.support.replay import ReplayServer, FIXTURES_DIR

    def calls(openai, anthropic, exporter):
        with ReplayServer() as server:
            server.load(FIXTURES_DIR / "openai/chat_cached_reasoning.json")
            server.load(FIXTURES_DIR / "anthropic/messages_cache.json")
            openai.OpenAI(base_url=server.openai_base_url, api_key="k").chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            anthropic.Anthropic(base_url=server.base_url, api_key="k").messages.create(
                model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        return [s.name for s in exporter.get_finished_spans()]

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
"""


def test_instrument_before_the_libraries_are_imported(tmp_path: Path) -> None:
    result = run_script(
        CALLS
        + """
    import sys, json
    from agentops_otel.instrumentation import instrument
    instrument(tracer_provider=provider)
    assert "openai" not in sys.modules and "anthropic" not in sys.modules, "instrument() imported a library"
    import openai, anthropic
    print(json.dumps(calls(openai, anthropic, exporter)))
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["chat gpt-4o-mini", "chat claude-sonnet-4-5"]


def test_instrument_after_the_libraries_are_imported(tmp_path: Path) -> None:
    result = run_script(
        CALLS
        + """
    import json
    import openai, anthropic
    from agentops_otel.instrumentation import instrument
    instrument(tracer_provider=provider)
    print(json.dumps(calls(openai, anthropic, exporter)))
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["chat gpt-4o-mini", "chat claude-sonnet-4-5"]


def test_uninstrument_before_the_import(tmp_path: Path) -> None:
    result = run_script(
        CALLS
        + """
    import json
    from agentops_otel.instrumentation import instrument, uninstrument
    instrument(tracer_provider=provider)
    uninstrument()
    import openai, anthropic
    assert not hasattr(openai._base_client.SyncAPIClient.__dict__["request"], "__wrapped__")
    print(json.dumps(calls(openai, anthropic, exporter)))
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_absent_library_is_fine(tmp_path: Path) -> None:
    result = run_script(
        """
    import logging, sys
    logging.basicConfig(level=logging.DEBUG)
    sys.modules["openai"] = None  # as if not installed: importing it raises ImportError
    sys.modules["anthropic"] = None
    from agentops_otel.instrumentation import instrument, uninstrument
    instrument()
    uninstrument()
    print("ok")
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "agentops_otel" not in result.stderr


def test_unsupported_version_warns_once(tmp_path: Path) -> None:
    # openai 0.x had no Stainless client: the same layout as this stand-in package
    old = tmp_path / "old" / "openai"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text('__version__ = "0.28.1"\n\nclass ChatCompletion:\n    pass\n')
    result = run_script(
        """
    import logging
    logging.basicConfig(level=logging.WARNING)
    from agentops_otel.instrumentation import instrument
    instrument()
    import openai
    instrument()
    assert openai.__version__ == "0.28.1"
    print("ok")
    """,
        tmp_path,
        extra_path=tmp_path / "old",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    warnings = [line for line in result.stderr.splitlines() if "not supported" in line]
    assert len(warnings) == 1 and "openai 0.28.1" in warnings[0], result.stderr


def test_half_supported_layout_is_left_untouched(tmp_path: Path) -> None:
    # A stand-in that has the sync client but not the async one: nothing may stay patched.
    pkg = tmp_path / "odd" / "anthropic"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('__version__ = "0.0.1"\n')
    (pkg / "_streaming.py").write_text("class Stream:\n    pass\n\n\nclass AsyncStream:\n    pass\n")
    client_module = "class SyncAPIClient:\n    def request(self, cast_to, options):\n        return 1\n"
    (pkg / "_base_client.py").write_text(client_module)
    result = run_script(
        """
    import logging
    logging.basicConfig(level=logging.WARNING)
    from agentops_otel.instrumentation import instrument
    instrument()
    import anthropic._base_client as base
    assert not hasattr(base.SyncAPIClient.__dict__["request"], "__wrapped__"), "left half-patched"
    assert base.SyncAPIClient().request(None, None) == 1
    print("ok")
    """,
        tmp_path,
        extra_path=tmp_path / "odd",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert len([line for line in result.stderr.splitlines() if "not supported" in line]) == 1, result.stderr


def test_every_instrumentor_has_an_entry_point() -> None:
    """``opentelemetry-instrument`` finds each instrumentor through the installed package's entry points."""
    from importlib.metadata import entry_points

    loaded = {
        point.load() for point in entry_points(group="opentelemetry_instrumentor") if point.name.startswith("agentops_")
    }
    assert {type(instrumentor) for instrumentor in instrumentors()} <= loaded


def test_google_genai_and_botocore_are_not_imported_by_instrument(tmp_path: Path) -> None:
    result = run_script(
        """
    import sys
    from opentelemetry.sdk.trace import TracerProvider
    from agentops_otel.instrumentation import instrument
    instrument(tracer_provider=TracerProvider())
    assert not {"google.genai", "botocore", "boto3"} & set(sys.modules), "instrument() imported a library"
    import boto3
    from google.genai import models
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    assert hasattr(type(client).__dict__["converse"], "__wrapped__")
    assert hasattr(models.Models.__dict__["_generate_content"], "__wrapped__")
    print("ok")
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
