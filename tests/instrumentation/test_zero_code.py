"""Zero-code: ``opentelemetry-instrument python app.py`` traces an application that never imports
agentops_otel, through the ``opentelemetry_instrumentor`` entry points (opentelemetry-distro sets up
the SDK from OTEL_* variables). anthropic's own spans are on there too (a global provider is set):
still one LLM span per call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from agentops_otel import semconv as sc
from agentops_otel.meaning import is_llm_span
from tests.conftest import fixture_path
from tests.support.eventstream import with_encoded_bodies
from tests.support.replay import ReplayServer, load_interactions

APP = """
import os
import anthropic
import openai

base = os.environ["REPLAY_URL"]
openai.OpenAI(base_url=base + "/v1", api_key="k").chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Name a prime."}]
)
client = anthropic.Anthropic(base_url=base, api_key="k")
request = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
client.messages.create(**request)
with client.messages.stream(**request) as stream:
    stream.until_done()
"""


def console_spans(stdout: str) -> list[dict[str, Any]]:
    """The spans the console exporter printed: JSON objects starting at the beginning of a line."""
    decoder = json.JSONDecoder()
    spans, end = [], 0
    for match in re.finditer(r"^\{", stdout, re.MULTILINE):
        if match.start() < end:
            continue
        span, end = decoder.raw_decode(stdout, match.start())
        spans.append(span)
    return spans


def test_opentelemetry_instrument(tmp_path: Path, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("openai/chat_cached_reasoning.json"))
    replay_server.load(fixture_path("anthropic/messages_cache.json"))
    replay_server.load(fixture_path("anthropic/messages_stream_cache.json"))
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    env = {
        **os.environ,
        "REPLAY_URL": replay_server.base_url,
        "OTEL_SERVICE_NAME": "zero-code-app",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    env.pop("PYTHONPATH", None)
    instrument_cmd = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(instrument_cmd), sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    spans = console_spans(result.stdout)
    llm = [s for s in spans if is_llm_span(s["attributes"])]
    assert [s["name"] for s in llm] == ["chat gpt-4o-mini", "chat claude-sonnet-4-5", "chat claude-sonnet-4-5"]
    assert all(s["attributes"][sc.SPAN_KIND] == sc.KIND_LLM for s in llm)
    assert all(s["resource"]["attributes"]["service.name"] == "zero-code-app" for s in llm)
    assert llm[1]["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] == 12 + 2048 + 310
    assert llm[2]["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] == 6 + 1200
    assert json.loads(llm[0]["attributes"][sc.GEN_AI_INPUT_MESSAGES])[0]["role"] == "user"  # env turned capture on


def test_zero_code_example() -> None:
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    env.pop("OPENAI_API_KEY", None)  # offline: the example's canned local server
    examples = Path(__file__).resolve().parents[2] / "examples"
    instrument_cmd = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(instrument_cmd), sys.executable, "instrumented_zero_code.py"],
        cwd=examples,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    llm = [s for s in console_spans(result.stdout) if is_llm_span(s["attributes"])]
    assert [s["name"] for s in llm] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    assert llm[1]["attributes"][sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


GOOGLE_AWS_APP = """
import os
import boto3
from google import genai

base = os.environ["REPLAY_URL"]
client = genai.Client(api_key="k", http_options={"base_url": base, "api_version": "v1beta"})
client.models.generate_content(model="gemini-2.5-flash", contents="Weather?")
list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Count"))
bedrock = boto3.client("bedrock-runtime", endpoint_url=base)
messages = [{"role": "user", "content": [{"text": "x"}]}]
result = bedrock.converse_stream(modelId="amazon.nova-lite-v1:0", messages=messages)
list(result["stream"])
"""


def test_opentelemetry_instrument_google_genai_and_bedrock(tmp_path: Path, replay_server: ReplayServer) -> None:
    replay_server.load(fixture_path("gemini/generate_cached_tools_thoughts.json"))
    replay_server.load(fixture_path("gemini/stream_thoughts.json"))
    replay_server.load(with_encoded_bodies(load_interactions(fixture_path("bedrock/converse_stream_tools.json"))))
    (tmp_path / "app.py").write_text(textwrap.dedent(GOOGLE_AWS_APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_", "GEMINI_"))}
    env.update(
        REPLAY_URL=replay_server.base_url,
        OTEL_SERVICE_NAME="zero-code-app",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        AWS_ACCESS_KEY_ID="test-access-key",
        AWS_SECRET_ACCESS_KEY="test-secret-key",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "aws-config-absent"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials-absent"),
    )
    env.pop("PYTHONPATH", None)
    instrument_cmd = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(instrument_cmd), sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    llm = [s for s in console_spans(result.stdout) if is_llm_span(s["attributes"])]
    assert [s["name"] for s in llm] == ["chat gemini-2.5-flash", "chat gemini-2.5-flash", "chat amazon.nova-lite-v1:0"]
    assert [s["attributes"][sc.GEN_AI_PROVIDER_NAME] for s in llm] == ["gcp.gemini", "gcp.gemini", "aws.bedrock"]
    assert [s["attributes"][sc.GEN_AI_USAGE_INPUT_TOKENS] for s in llm] == [1240, 9, 21]
