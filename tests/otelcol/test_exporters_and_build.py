"""The exporters of otel-collector.yaml as configured by environment variables, and the build that runs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agentops_otel import semconv as sc
from agentops_otel.collector.enrich import enrich_attributes
from tests.otelcol import otelcol as otelcol_module
from tests.otelcol.otelcol import (
    BUILD_SCRIPT,
    CONFIG,
    FILE_EXPORTER,
    REPO_ROOT,
    BinaryUnavailable,
    Otelcol,
    attribute_differences,
    otelcol_binary,
    send_spans,
)
from tests.support.otlp_sink import OtlpSink

pytestmark = pytest.mark.otelcol

LLM_SPAN = {
    sc.GEN_AI_PROVIDER_NAME: "anthropic",
    sc.GEN_AI_REQUEST_MODEL: "claude-haiku-4-5-20251001",
    sc.LEGACY_PROMPT_TOKENS: 1200,
    sc.LEGACY_COMPLETION_TOKENS: 80,
}


def test_both_otlp_exporters_send_enriched_spans_with_their_headers(otelcol_bin: Path, tmp_path: Path) -> None:
    with OtlpSink() as agentops, OtlpSink() as backend:
        env = {
            "AGENTOPS_COLLECTOR_ENDPOINT": agentops.endpoint,
            "AGENTOPS_API_KEY": "the-project-key",
            "AGENTOPS_OTELCOL_BACKEND_ENDPOINT": backend.endpoint,
            # the sink reports this header: proof the YAML map in the variable became headers
            "AGENTOPS_OTELCOL_BACKEND_HEADERS": '{X-Agentops-Api-Key: backend-token, x-other: "1"}',
        }
        exporters = ("otlp_http/agentops", "otlp_http/backend", "debug")
        with Otelcol(otelcol_bin, tmp_path, exporters=exporters, env=env) as otelcol:
            send_spans(otelcol.http_endpoint, [("llm", LLM_SPAN), ("other", {"k": "v"})])
            got_agentops = agentops.wait_for(lambda spans: len(spans) >= 2)
            got_backend = backend.wait_for(lambda spans: len(spans) >= 2)
        assert "Traces" in otelcol.log()  # the debug exporter logged the batch
    expected = enrich_attributes(LLM_SPAN)
    for spans, key in ((got_agentops, "the-project-key"), (got_backend, "backend-token")):
        by_name = {s["name"]: s for s in spans}
        assert {s["api_key"] for s in spans} == {key}
        assert attribute_differences(by_name["llm"]["attributes"], expected) == []
        assert by_name["other"]["attributes"] == {"k": "v"}


def test_a_port_taken_between_its_pick_and_the_start_is_replaced(
    otelcol_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Free ports are picked before the collector binds them: another run on the machine may take one first."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1]])
        real_free_port = otelcol_module.free_port
        monkeypatch.setattr(otelcol_module, "free_port", lambda: next(picks, None) or real_free_port())
        with Otelcol(otelcol_bin, tmp_path) as otelcol:
            assert taken.getsockname()[1] not in (otelcol.grpc_port, otelcol.http_port, otelcol.metrics_port)
            send_spans(otelcol.http_endpoint, [("after-a-retry", {"k": "v"})])
            otelcol.wait_for_names(["after-a-retry"])


def test_the_build_has_exactly_the_components_the_yaml_uses(otelcol_bin: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    kinds = ("receivers", "processors", "exporters", "extensions")
    used = {kind: {name.split("/")[0] for name in config[kind]} for kind in kinds}
    used["exporters"].add(FILE_EXPORTER.split("/")[0])  # the tests' file exporter, added by an overlay
    built = yaml.safe_load(subprocess.run([str(otelcol_bin), "components"], capture_output=True, text=True).stdout)
    for kind in used:
        assert {c["name"] for c in built.get(kind) or []} == used[kind], kind
    assert used["extensions"] == {"file_storage"}  # the exporters' persistent queues
    assert not built.get("connectors")
    # confmap providers: env for the ${env:...} references, file for --config PATH (the tests' overlay too)
    assert "${env:" in CONFIG.read_text()
    assert {p["scheme"] for p in built.get("providers") or []} == {"env", "file"}


def test_the_build_script_reuses_the_cached_binary_without_go(otelcol_bin: Path) -> None:
    no_go = {**os.environ, "PATH": "/usr/bin:/bin"}  # go lives in /usr/local/go/bin or ~/go/bin
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, env=no_go, timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == otelcol_bin
    assert not str(otelcol_bin).startswith(str(CONFIG.parent))  # cached outside the repository


def test_without_go_or_a_cached_build_the_reason_is_given(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "AGENTOPS_OTELCOL_CACHE": str(tmp_path / "empty-cache")}
    with pytest.raises(BinaryUnavailable, match="Go is not installed"):
        otelcol_binary(env)


# Stands in for Go (a real build takes minutes here): `go install .../cmd/builder@...` installs a
# builder that takes 3 s and writes a shell script where the collector binary goes.
FAKE_GO = """#!/bin/sh
mkdir -p "$GOBIN"
cat > "$GOBIN/builder" <<'EOF'
#!/bin/sh
sleep 3
for arg in "$@"; do case "$arg" in --output-path=*) out="${arg#--output-path=}";; esac; done
printf '#!/bin/sh\necho stand-in collector\n' > "$out/otelcol-agentops"
chmod +x "$out/otelcol-agentops"
EOF
chmod +x "$GOBIN/builder"
"""


def test_a_build_longer_than_the_per_test_timeout_does_not_fail_the_tests(tmp_path: Path) -> None:
    """Plain pytest with Go and no cached build: the build is not charged to the first test's timeout."""
    go_dir = tmp_path / "go-bin"
    go_dir.mkdir()
    (go_dir / "go").write_text(FAKE_GO)
    (go_dir / "go").chmod(0o755)
    test_file = tmp_path / "test_needs_the_build.py"
    test_file.write_text("def test_it(otelcol_bin):\n    assert otelcol_bin.name == 'otelcol-agentops'\n")
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update(PATH=f"{go_dir}:/usr/bin:/bin", AGENTOPS_OTELCOL_CACHE=str(tmp_path / "cache"))
    command = [sys.executable, "-m", "pytest", "-p", "tests.otelcol.conftest", "-o", "timeout=1", "-q", str(test_file)]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "building the OpenTelemetry Collector" in result.stdout and "1 passed" in result.stdout


def _ci_run_copy(root: Path) -> Path:
    """.ci/run with what its collector step reads, in a scratch tree (it would otherwise set up this repository)."""
    for part in (".ci/run", "scripts/build-otelcol.sh", "otelcol/builder-config.yaml"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / part, root / part)
    return root / ".ci" / "run"


def test_ci_run_under_ci_true_without_go_fails_at_once_with_the_reason(tmp_path: Path) -> None:
    """With CI=true the otel-collector.yaml tests fail without a collector: .ci/run stops before installing anything."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CI": "true", "AGENTOPS_OTELCOL_CACHE": str(tmp_path / "c")}
    result = subprocess.run(["bash", str(_ci_run_copy(tmp_path))], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "CI=true but Go is not installed and no OpenTelemetry Collector build is cached" in result.stderr
    assert "will skip" not in result.stdout
    assert not (tmp_path / ".venv").exists()
