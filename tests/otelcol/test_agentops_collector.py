"""App (SDK, or hand-made spans) -> OpenTelemetry Collector with otel-collector.yaml -> agentops-otel collector.

The YAML's exporter sends the project's API key, so the session lands in that key's project (and
in no other), with the costs the OpenTelemetry Collector computed; spans in older conventions end
up with the session totals they get when sent to the agentops-otel collector directly.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentops_otel import semconv as sc
from agentops_otel.collector.enrich import enrichment
from agentops_otel.collector.process import CollectorProcess, collector_process
from agentops_otel.pricing import PRICE_SOURCE
from tests.conftest import fixture_path, sdk_free_env
from tests.otelcol.otelcol import FILE_EXPORTER, Otelcol
from tests.support.replay import REPO_ROOT, ReplayServer

pytestmark = pytest.mark.otelcol

PROJECT_KEY, OTHER_KEY = "key-of-project-a", "key-of-project-b"


def poll_json(
    collector: CollectorProcess, path: str, key: str, timeout: float = 60, until: Callable[[Any], bool] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = collector.get(path, key)
        if status == 200 and (until is None or until(body)):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"GET {path}: {status} {body}\n{collector.log()}")
        time.sleep(0.1)


def test_sessions_land_in_the_project_of_the_key(
    otelcol_bin: Path, tmp_path: Path, replay_server: ReplayServer
) -> None:
    openai_fixture, anthropic_fixture = (
        fixture_path("openai/chat_tools_n2.json"),
        fixture_path("anthropic/messages_cache.json"),
    )
    replay_server.load(openai_fixture)
    replay_server.load(anthropic_fixture)
    keys = {"AGENTOPS_COLLECTOR_KEYS": f"project-a:{PROJECT_KEY},project-b:{OTHER_KEY}"}
    with collector_process(tmp_path / "agentops", grpc_port=0, env=keys) as agentops:
        env = {"AGENTOPS_COLLECTOR_ENDPOINT": agentops.url, "AGENTOPS_API_KEY": PROJECT_KEY}
        with Otelcol(
            otelcol_bin, tmp_path / "otelcol", exporters=("otlp_http/agentops", FILE_EXPORTER), env=env
        ) as otelcol:
            app_env = sdk_free_env()
            app_env["ANTHROPIC_OPEN_TELEMETRY"] = "false"
            app = subprocess.run(
                [sys.executable, "-m", "tests.otelcol.session_app", otelcol.http_endpoint,
                 replay_server.openai_base_url, replay_server.base_url, str(openai_fixture), str(anthropic_fixture)],
                capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=app_env,
            )  # fmt: skip
            assert app.returncode == 0, app.stderr
            session_id = app.stdout.split("SESSION ", 1)[1].split()[0]
            trace_id = session_id.replace("-", "")
            written = otelcol.wait_for(lambda spans: sum(s["trace_id"] == trace_id for s in spans) >= 4)
            export = poll_json(agentops, f"/v2/sessions/{session_id}/export", PROJECT_KEY)

        assert export["session"]["project_id"] == "project-a"
        assert export["session"]["end_state"] == "Success"
        status, _ = agentops.get(f"/v2/sessions/{session_id}/stats", OTHER_KEY)
        assert status == 404  # not in the other key's project
        status, _ = agentops.get(f"/v2/sessions/{session_id}/stats", "an-unregistered-key")
        assert status == 401

        # the LLM spans the OpenTelemetry Collector priced are those the agentops-otel collector stored
        ottl = {
            s["span_id"]: s["attributes"] for s in written
            if s["trace_id"] == trace_id and s["attributes"].get(sc.SPAN_KIND) == sc.KIND_LLM
        }  # fmt: skip
        assert len(ottl) == 2
        for attrs in ottl.values():
            assert attrs[sc.COST_SOURCE] == PRICE_SOURCE and attrs[sc.GEN_AI_USAGE_COST] > 0
        stored = {span["span_id"]: span["attributes"] for span in export["llms"]}
        assert stored.keys() == ottl.keys()
        for span_id, attrs in ottl.items():
            assert stored[span_id][sc.PROJECT_ID] == "project-a"
            for key in (sc.GEN_AI_USAGE_COST, sc.COST_INPUT, sc.COST_OUTPUT, sc.GEN_AI_USAGE_INPUT_TOKENS):
                assert abs(stored[span_id][key] - attrs[key]) <= 1e-12, (key, stored[span_id][key], attrs[key])
        total = sum(a[sc.GEN_AI_USAGE_COST] for a in ottl.values())
        assert abs(float(export["stats"]["cost"]) - total) < 1e-9


# LLM spans of other instrumentations and older conventions, one session (trace) of them.
LEGACY_SESSION: dict[str, dict[str, Any]] = {
    "openai-prompt-completion": {
        sc.GEN_AI_SYSTEM: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.LEGACY_PROMPT_TOKENS: 1200,
        sc.LEGACY_COMPLETION_TOKENS: 300,
        sc.LEGACY_CACHE_READ_TOKENS: 256,
    },
    "openinference-token-counts": {
        sc.OPENINFERENCE_PROVIDER: "openai",
        sc.OPENINFERENCE_MODEL_NAME: "o3-mini",
        sc.OPENINFERENCE_PROMPT_TOKENS: "1000",
        sc.OPENINFERENCE_COMPLETION_TOKENS: 200,
        sc.OPENINFERENCE_CACHE_READ_TOKENS: 300,
        sc.OPENINFERENCE_REASONING_TOKENS: 50,
    },
    "anthropic-exclusive-input": {
        sc.GEN_AI_SYSTEM: "anthropic",
        sc.GEN_AI_RESPONSE_MODEL: "claude-3-5-sonnet-20241022",
        sc.LEGACY_PROMPT_TOKENS: 100,
        sc.LEGACY_CACHE_READ_TOKENS: 2000,
        sc.LEGACY_CACHE_CREATION_TOKENS: 500,
        sc.LEGACY_COMPLETION_TOKENS: 50,
    },
    "anthropic-current-names-exclusive": {
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
    },
    "azure-prompt-completion": {
        sc.GEN_AI_SYSTEM: "az.ai.openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.LEGACY_PROMPT_TOKENS: 4000,
        sc.LEGACY_COMPLETION_TOKENS: 10,
    },
    "litellm-gemini-above-the-tier": {
        sc.GEN_AI_SYSTEM: "litellm",
        sc.GEN_AI_REQUEST_MODEL: "gemini-2.5-pro",
        sc.LEGACY_PROMPT_TOKENS: 250_000,
        sc.LEGACY_COMPLETION_TOKENS: 1000,
    },
    "tool": {sc.SPAN_KIND: sc.KIND_TOOL, sc.GEN_AI_TOOL_NAME: "search"},
}


def send_session(endpoint: str, spans: dict[str, dict[str, Any]], headers: dict[str, str] | None = None) -> str:
    """``spans`` as the children of one root span (one session) over OTLP/HTTP; returns the session id."""
    exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces", headers=headers)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.otelcol")
    try:
        with tracer.start_as_current_span("legacy-instrumented-run") as root:
            for name, attributes in spans.items():
                tracer.start_span(name, attributes=attributes).end()
    finally:
        provider.shutdown()
    return str(uuid.UUID(int=root.get_span_context().trace_id))


def _matches(got: Any, want: Any) -> bool:
    if isinstance(want, float):
        return isinstance(got, float) and abs(got - want) <= 1e-12
    return type(got) is type(want) and got == want


def test_older_conventions_through_otelcol_store_the_stats_of_the_same_spans_sent_directly(
    otelcol_bin: Path, tmp_path: Path
) -> None:
    """One session of hand-made spans, through the OpenTelemetry Collector and straight to the agentops-otel one."""
    expected = {name: enrichment(attrs) for name, attrs in LEGACY_SESSION.items() if enrichment(attrs).is_llm}
    keys = {"AGENTOPS_COLLECTOR_KEYS": f"project-a:{PROJECT_KEY}"}
    with collector_process(tmp_path / "agentops", grpc_port=0, env=keys) as agentops:
        env = {"AGENTOPS_COLLECTOR_ENDPOINT": agentops.url, "AGENTOPS_API_KEY": PROJECT_KEY}
        exporters = ("otlp_http/agentops", FILE_EXPORTER)
        with Otelcol(otelcol_bin, tmp_path / "otelcol", exporters=exporters, env=env) as otelcol:
            sessions = {
                "through otelcol": send_session(otelcol.http_endpoint, LEGACY_SESSION),
                "direct": send_session(agentops.url, LEGACY_SESSION, headers={"X-Agentops-Api-Key": PROJECT_KEY}),
            }
            written = {name: s["attributes"] for name, s in otelcol.wait_for_names(list(LEGACY_SESSION)).items()}
            stats, stored = {}, {}
            for way, session_id in sessions.items():
                stats[way] = poll_json(
                    agentops, f"/v2/sessions/{session_id}/stats", PROJECT_KEY,
                    until=lambda body: body["llm_calls"] == len(expected) and body["tool_calls"] == 1,
                )  # fmt: skip
                export = poll_json(agentops, f"/v2/sessions/{session_id}/export", PROJECT_KEY)
                stored[way] = {span["name"]: span["attributes"] for span in export["llms"]}

    totals = ("events", "llm_calls", "tool_calls", "cost", "prompt_tokens", "completion_tokens", "cache_read_tokens")
    assert {k: stats["through otelcol"][k] for k in totals} == {k: stats["direct"][k] for k in totals}
    direct = stats["direct"]
    assert abs(Decimal(direct["cost"]) - sum(e.cost for e in expected.values())) <= Decimal("1e-12")
    for stat, key in (
        ("prompt_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS),
        ("completion_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        ("cache_read_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ):
        assert direct[stat] == sum(e.usage.get(key, 0) for e in expected.values()), stat
    # span by span: what otelcol wrote, what the agentops-otel collector stored from it and from the originals
    for name, enriched in expected.items():
        want = enriched.attributes()
        assert want[sc.COST_SOURCE] == PRICE_SOURCE, name  # every span priced: the comparison is not vacuous
        for seen, attrs in (("written", written[name]), *((way, spans[name]) for way, spans in stored.items())):
            wrong = {key: attrs.get(key) for key, value in want.items() if not _matches(attrs.get(key), value)}
            assert not wrong, (name, seen, wrong, want)
