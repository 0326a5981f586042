"""Other OpenAI instrumentations users run (the official OpenTelemetry one, OpenLLMetry,
OpenInference, OpenLIT), the real ``openai`` client over 127.0.0.1, sending to the real collector:
their LLM spans are LLM calls with the recording's tokens and our cost, a stream without usage is
counted and flagged, a trace of theirs ends with its local root, and inside an SDK session
get_analytics() and end_session() give exactly the collector's figures.

The instrumentations are not in the test venv (each registers an ``openai`` entry point that
``opentelemetry-instrument`` would load in the zero-code tests): each is installed once, without
dependencies (the test venv has them, at the versions below' requirements), into a directory of
its own cached outside the repository, put first on the app's PYTHONPATH. OpenLIT pins ``openai``
below 3: it runs in a venv of its own (:mod:`tests.support.own_venv`), with this checkout's
``src`` on its PYTHONPATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from agentops_otel import pricing
from agentops_otel.pricing import TokenUsage
from agentops_otel.usage import NO_USAGE_SOURCE, span_price
from tests.collector.conftest import KEY
from tests.collector.genai_app import KINDS, OPENLIT_PRICING
from tests.support.own_venv import BUILD_TIMEOUT_S, OwnVenv, VenvUnavailable
from tests.support.replay import FIXTURES_DIR, REPO_ROOT

APP = Path(__file__).with_name("genai_app.py")
CHAT = FIXTURES_DIR / "openai" / "chat_cached_reasoning.json"  # o4-mini with usage, cache and reasoning
STREAM = FIXTURES_DIR / "openai" / "chat_stream_no_usage.json"  # a stream without include_usage
# name -> what pip installs (exact: the cache is keyed by it), beside the test venv's packages
INSTRUMENTATIONS = {
    # httpx: the official one imports it (openai 3 itself uses httpx2)
    "official": (
        "opentelemetry-instrumentation-openai-v2==2.4b0",
        "opentelemetry-util-genai==1.1b0",
        "httpx==0.28.1",
        "httpcore==1.0.9",
    ),
    "openllmetry": ("opentelemetry-instrumentation-openai==0.62.4", "opentelemetry-semantic-conventions-ai==0.5.1"),
    "openinference": (
        "openinference-instrumentation-openai==0.1.66",
        "openinference-instrumentation==0.1.72",
        "openinference-semantic-conventions==0.1.42",
    ),
}


OPENLIT = OwnVenv(
    "openlit",
    ["openlit==1.45.0"],
    # OpenLIT needs fifteen opentelemetry-instrumentation-* packages, some released at 0.66b2 and
    # others at 0.66b1 only: without one consistent set pinned, pip searches for over 15 minutes.
    pins=[
        "opentelemetry-api==1.45.1",
        "opentelemetry-sdk==1.45.1",
        "opentelemetry-exporter-otlp==1.45.1",
        "opentelemetry-semantic-conventions==0.66b1",
        "opentelemetry-instrumentation==0.66b1",
        "opentelemetry-util-http==0.66b1",
        *(
            f"opentelemetry-instrumentation-{name}==0.66b1"
            for name in (
                *("aiohttp-client", "asgi", "django", "falcon", "fastapi", "flask", "httpx", "pyramid"),
                *("requests", "starlette", "tornado", "urllib", "urllib3", "wsgi", "dbapi"),
            )
        ),
    ],
)
NAMES = sorted([*INSTRUMENTATIONS, "openlit"])
# OpenLIT's venv is built by the first test that needs it (minutes, once per machine)
slow_first_time = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)


def openlit_python() -> Path:
    try:
        return OPENLIT.python()
    except VenvUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no OpenLIT venv: {exc}")
        pytest.skip(str(exc))


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentops-otel" / "genai-instrumentations"


def installed(name: str) -> Path:
    """The directory holding instrumentation ``name``'s packages (installed on first use)."""
    packages = INSTRUMENTATIONS[name]
    key = hashlib.sha256(json.dumps([sys.version_info[:2], packages]).encode()).hexdigest()[:16]
    target = _cache_root() / f"{name}-{key}"
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(partial), *packages],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        message = f"could not install {name} ({' '.join(packages)}): {result.stderr.strip()[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    (partial / ".complete").write_text("")
    try:
        partial.rename(target)
    except OSError:  # another run installed it meanwhile
        subprocess.run(["rm", "-rf", str(partial)], check=False)
    return target


def run_app(collector, name: str, mode: str, key: str = KEY) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "OTEL_"))}
    if name == "openlit":
        python = openlit_python()
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])
    else:
        python = Path(sys.executable)
        env["PYTHONPATH"] = os.pathsep.join([str(installed(name)), str(REPO_ROOT)])
    # the official instrumentation sends message content as log events (gen_ai.client.inference.operation.details)
    env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "EVENT_ONLY" if name == "official" else "true"
    result = subprocess.run(
        [str(python), str(APP), name, mode, collector.url, key, str(CHAT), str(STREAM)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # every export was accepted (OpenLIT's default setup sends /v1/logs and /v1/metrics too)
    assert "404" not in result.stderr and "Failed to export" not in result.stderr, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def recorded_usage() -> dict:
    return json.loads(json.loads(CHAT.read_text())["interactions"][0]["response"]["body"])["usage"]


def expected_cost() -> Decimal:
    usage = recorded_usage()
    tokens = TokenUsage(
        input_tokens=usage["prompt_tokens"],
        output_tokens=usage["completion_tokens"],
        cache_read_tokens=usage["prompt_tokens_details"]["cached_tokens"],
        reasoning_tokens=usage["completion_tokens_details"]["reasoning_tokens"],
    )
    return pricing.cost_of(tokens, pricing.rates_for("o4-mini-2025-04-16", "openai")).total


def recorded_messages(recording: Path) -> tuple[list[str], str]:
    """The texts of a recording's request messages and of its answer (streamed or not)."""
    interaction = json.loads(recording.read_text())["interactions"][0]
    request = json.loads(interaction["request"]["body"])
    body = interaction["response"]["body"]
    if request.get("stream"):
        chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
        answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    else:
        answer = json.loads(body)["choices"][0]["message"]["content"]
    return [m["content"] for m in request["messages"]], answer


def assert_message_events_with_their_spans(collector, session_id: str, key: str = KEY) -> None:
    """The official instrumentation's content, sent as OTLP log records (one
    gen_ai.client.inference.operation.details event per call), is in /export with its LLM span."""
    status, export = collector.get(f"/v2/sessions/{session_id}/export", key)
    assert status == 200, export
    llms = {span["attributes"]["gen_ai.request.model"]: span for span in export["spans"] if span["kind"] == "llm"}
    for model, recording in (("o4-mini", CHAT), ("gpt-4o-mini", STREAM)):
        (event,) = llms[model]["logs"]
        assert event["name"] == "gen_ai.client.inference.operation.details"
        prompts, answer = recorded_messages(recording)
        sent = event["attributes"]["gen_ai.input.messages"]
        assert [part["content"] for message in sent for part in message["parts"]] == prompts
        (output,) = event["attributes"]["gen_ai.output.messages"]
        assert output["role"] == "assistant" and output["parts"][0]["content"] == answer
    assert all(span["logs"] == [] for span in export["spans"] if span["kind"] != "llm")


def stored(collector, session_id: str) -> tuple[dict, list[dict]]:
    status, body = collector.get(f"/v2/sessions/{session_id}/spans", KEY)
    assert status == 200, body
    return body["stats"], body["spans"]


def openlit_cost(model: str, input_tokens: int, output_tokens: int, cache_read_tokens: int) -> float:
    """What OpenLIT computes from our pricing file (prices per 1,000 tokens; OpenAI's input tokens
    include the cache reads, billed at the cache price when the model has one)."""
    price = json.loads(OPENLIT_PRICING.read_text())["chat"][model]
    cached = cache_read_tokens if "cacheReadPrice" in price else 0
    return (
        (input_tokens - cached) * price["promptPrice"]
        + output_tokens * price["completionPrice"]
        + cached * price.get("cacheReadPrice", 0)
    ) / 1000


@slow_first_time
@pytest.mark.parametrize("name", NAMES)
def test_their_trace_is_a_session_with_its_llm_calls_tokens_cost_and_end(collector, name):
    run = run_app(collector, name, "zero-code")
    stats, spans = stored(collector, run["session_id"])
    llms = [span for span in spans if span["kind"] == "llm"]
    assert len(llms) == stats["llm_calls"] == 2, [(s["name"], s["kind"]) for s in spans]
    kinds = [span["kind"] for span in spans]
    assert (kinds.count("llm"), kinds.count("tool"), kinds.count("agent")) == KINDS[name], kinds
    assert stats["tool_calls"] == KINDS[name][1]
    export = collector.get(f"/v2/sessions/{run['session_id']}/export", KEY)[1]
    assert (len(export["llms"]), len(export["tools"]), len(export["agents"])) == KINDS[name]
    usage = recorded_usage()
    (chat,) = [s for s in llms if s["attributes"].get("gen_ai.usage.input_tokens") == usage["prompt_tokens"]]
    (stream,) = [s for s in llms if s is not chat]
    attrs = chat["attributes"]
    assert attrs["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert Decimal(chat["cost"]) == span_price(attrs).total > 0
    if name != "official":  # the official one reports no cache tokens: its call is priced without them
        assert attrs["gen_ai.usage.cache_read.input_tokens"] == usage["prompt_tokens_details"]["cached_tokens"]
        assert Decimal(chat["cost"]) == expected_cost()
    if name == "openlit":
        # OpenLIT counts a stream's tokens itself when the stream reports none: that call is priced
        assert stream["attributes"]["gen_ai.usage.input_tokens"] > 0 and stream["cost"] is not None
        assert stats["unpriced_llm_calls"] == 0 and not stats["cost_partial"]
        assert Decimal(stats["cost"]) == Decimal(chat["cost"]) + Decimal(stream["cost"])
        # the cost OpenLIT set (from its pricing file) stays visible; ours is the span's cost
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        sent = openlit_cost("o4-mini", usage["prompt_tokens"], usage["completion_tokens"], cached)
        assert attrs["agentops.cost.sender"] == pytest.approx(sent) and sent != pytest.approx(float(chat["cost"]))
        assert attrs["gen_ai.usage.cost"] == float(chat["cost"])
        # its events (content again, sent as logs) are kept with the span they name
        (event,) = next(s for s in export["spans"] if s["span_id"] == chat["span_id"])["logs"]
        assert event["name"] == "gen_ai.client.inference.operation.details"
        assert event["attributes"]["gen_ai.output.messages"][0]["parts"][0]["content"] == recorded_messages(CHAT)[1]
        # its default export of logs and metrics was accepted (run_app checked: no 404)
        ingest = collector.get("/v2/status", KEY)[1]["ingest"]
        assert ingest["log_records_stored"] >= 1 and ingest["metric_points_dropped"] >= 1, ingest
    else:
        assert stream["cost"] is None and stream["cost_source"] == NO_USAGE_SOURCE
        assert stats["unpriced_llm_calls"] == 1 and stats["cost_partial"]
        assert Decimal(stats["cost"]) == Decimal(chat["cost"])
    assert stats["prompt_tokens"] == sum(s["attributes"].get("gen_ai.usage.input_tokens", 0) for s in llms)
    assert (stats["state"], stats["end_state"], stats["in_progress"]) == ("Success", "Success", False), (
        "ended with the app's root span, status OK"
    )
    _, page = collector.get("/v2/sessions?end_state=Success", KEY)
    assert run["session_id"] in [s["session_id"] for s in page["sessions"]]
    if name == "official":
        assert_message_events_with_their_spans(collector, run["session_id"])


@slow_first_time
@pytest.mark.parametrize("name", NAMES)
def test_an_sdk_session_holding_their_spans_counts_as_the_collector(collector, name):
    run = run_app(collector, name, "sdk")
    stats, spans = stored(collector, run["session_id"])
    analytics = run["analytics"]
    assert analytics["LLM calls"] == stats["llm_calls"] == 2
    # OpenLIT counts the tokens of a stream without usage itself: none unpriced
    assert analytics["Unpriced LLM calls"] == stats["unpriced_llm_calls"] == (0 if name == "openlit" else 1)
    assert analytics["Errors"] == stats["errors"] == 0
    assert analytics["Tool calls"] == stats["tool_calls"] == KINDS[name][1]
    assert Decimal(run["cost"]) == Decimal(stats["cost"]) > 0
    assert stats["state"] == "Success"
    assert all(span["attributes"].get("agentops.session.id") == run["session_id"] for span in spans)
    if name == "official":
        assert_message_events_with_their_spans(collector, run["session_id"])
