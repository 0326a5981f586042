"""The installed ``agentops-otel`` command runs the collector and takes its settings from flags and env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentops_otel.cli import build_parser
from agentops_otel.collector import forward as forward_module
from agentops_otel.collector import settings
from tests.support.replay import REPO_ROOT


def test_console_script_runs_the_collector_subcommand():
    script = Path(sys.executable).with_name("agentops-otel")
    result = subprocess.run([str(script), "collector", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for flag in ("--http-port", "--grpc-port", "--data-dir", "--keys-file", "--forward", "--max-body-bytes"):
        assert flag in result.stdout


def test_environment_supplies_defaults_and_flags_win(tmp_path):
    env = {
        "AGENTOPS_COLLECTOR_HOST": "127.0.0.2",
        "AGENTOPS_COLLECTOR_HTTP_PORT": "9999",
        "AGENTOPS_COLLECTOR_DATA_DIR": str(tmp_path),
        "AGENTOPS_COLLECTOR_FORWARD": "http://a:4318, http://b:4318/v1/traces",
        "AGENTOPS_COLLECTOR_FORWARD_HEADERS": "Authorization=Bearer x,X-Team=t",
        "AGENTOPS_COLLECTOR_KEYS": "p:k",
        "AGENTOPS_COLLECTOR_GRPC": "false",
        "AGENTOPS_COLLECTOR_FORWARD_QUEUE_BYTES": "1048576",
        "AGENTOPS_COLLECTOR_MAX_BODY_MEMORY": "33554432",
        "AGENTOPS_COLLECTOR_MAX_REQUESTS": "16",
    }
    import argparse

    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, env)
    chosen = settings.from_args(parser.parse_args(["--http-port", "1234"]), env)
    assert (chosen.host, chosen.http_port, chosen.grpc, chosen.data_dir) == ("127.0.0.2", 1234, False, tmp_path)
    assert chosen.forward == ["http://a:4318", "http://b:4318/v1/traces"]
    assert chosen.forward_headers == {"Authorization": "Bearer x", "X-Team": "t"}
    assert chosen.forward_queue_bytes == 1048576
    assert settings.from_args(parser.parse_args(["--forward-queue-bytes", "5"]), env).forward_queue_bytes == 5
    assert (chosen.max_body_memory, chosen.max_requests) == (33554432, 16)
    flagged = settings.from_args(parser.parse_args(["--max-body-memory", "7", "--max-requests", "3"]), env)
    assert (flagged.max_body_memory, flagged.max_requests) == (7, 3)
    assert settings.CollectorSettings().max_body_memory == 128 * 2**20
    assert chosen.keys == "p:k" and chosen.loopback
    assert not settings.CollectorSettings(host="0.0.0.0").loopback


def test_a_malformed_forward_header_is_an_error_that_never_shows_its_value(tmp_path):
    env = {"AGENTOPS_COLLECTOR_FORWARD_HEADERS": "X-Team=t,Authorization: Bearer sk-SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "agentops_otel.cli", "collector", "--http-port", "0", "--data-dir", str(tmp_path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "forward header 2 must be NAME=VALUE" in result.stderr
    assert "sk-SECRET" not in result.stdout + result.stderr
    with pytest.raises(ValueError, match="ftp://backend:21") as raised:
        forward_module.traces_url("ftp://user:sk-SECRET@backend:21")
    assert "sk-SECRET" not in str(raised.value)


def test_subcommands_are_registered():
    parser = build_parser("collector")
    args = parser.parse_args(["collector", "--http-port", "0"])
    assert args.command == "collector" and args.http_port == 0


def test_a_second_collector_on_the_same_data_dir_refuses_to_start(collector):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentops_otel.cli",
            "collector",
            "--http-port",
            "0",
            "--grpc-port",
            "0",
            "--data-dir",
            str(collector.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "another collector is already using" in result.stderr
    assert collector.get("/health", None)[0] == 200, "the first one is unaffected"


def test_only_the_subcommand_that_runs_is_imported_and_reads_its_variables():
    env = {**os.environ, "AGENTOPS_COLLECTOR_HTTP_PORT": "abc", "AGENTOPS_COLLECTOR_SYNC": "sometimes"}
    script = Path(sys.executable).with_name("agentops-otel")
    result = subprocess.run(
        [str(script), "collector-config", "--help"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0 and "--output" in result.stdout, result.stderr
    code = (
        "import sys\nfrom agentops_otel.cli import main\nmain(['collector-config', '--check', 'otel-collector.yaml'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('agentops_otel.collector.settings',"
        " 'agentops_otel.collector.command', 'agentops_otel.collector.server'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", "collector-config imported the collector"
