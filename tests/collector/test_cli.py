"""The installed ``agentops-otel`` command runs the collector and takes its settings from flags and env."""

from __future__ import annotations

import argparse
import dataclasses
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


def _parse(argv: list[str], env: dict[str, str]) -> settings.CollectorSettings:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return settings.from_args(parser.parse_args(argv), env)


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
        "AGENTOPS_COLLECTOR_GRPC_PORT": "",  # empty: unset
    }
    chosen = _parse(["--http-port", "1234"], env)
    assert (chosen.host, chosen.http_port, chosen.grpc, chosen.data_dir) == ("127.0.0.2", 1234, False, tmp_path)
    assert chosen.grpc_port == 4317
    assert chosen.forward == ["http://a:4318", "http://b:4318/v1/traces"]
    assert chosen.forward_headers == {"Authorization": "Bearer x", "X-Team": "t"}
    assert chosen.forward_queue_bytes == 1048576
    assert _parse(["--forward-queue-bytes", "5"], env).forward_queue_bytes == 5
    assert (chosen.max_body_memory, chosen.max_requests) == (33554432, 16)
    flagged = _parse(["--max-body-memory", "7", "--max-requests", "3", "--max-body-bytes", "2MiB"], env)
    assert (flagged.max_body_memory, flagged.max_requests, flagged.max_body_bytes) == (7, 3, 2 * 2**20)
    # repeatable flags add up and replace their variable
    repeated = _parse(["--forward", "http://c:1", "--forward", "http://d:2", "--forward-header", "A=1"], env)
    assert repeated.forward == ["http://c:1", "http://d:2"] and repeated.forward_headers == {"A": "1"}
    assert settings.CollectorSettings().max_body_memory == 128 * 2**20
    assert chosen.keys == "p:k" and chosen.loopback
    assert not settings.CollectorSettings(host="0.0.0.0").loopback


# One value per variable, none of them a default: each must come out in its setting.
ENV_EXAMPLES = {
    "AGENTOPS_COLLECTOR_HOST": ("0.0.0.0", "0.0.0.0"),
    "AGENTOPS_COLLECTOR_HTTP_PORT": ("1", 1),
    "AGENTOPS_COLLECTOR_GRPC_PORT": ("2", 2),
    "AGENTOPS_COLLECTOR_GRPC": ("off", False),
    "AGENTOPS_COLLECTOR_DATA_DIR": ("/data/x", Path("/data/x")),
    "AGENTOPS_COLLECTOR_STORE": ("chdb:///data/ch", "chdb:///data/ch"),
    "AGENTOPS_COLLECTOR_RETENTION_DAYS": ("30", 30),
    "AGENTOPS_COLLECTOR_KEYS_FILE": ("/keys.txt", Path("/keys.txt")),
    "AGENTOPS_COLLECTOR_KEYS": ("p:k", "p:k"),
    "AGENTOPS_COLLECTOR_FORWARD": ("http://a:1,http://b:2", ["http://a:1", "http://b:2"]),
    "AGENTOPS_COLLECTOR_FORWARD_HEADERS": ("A=1", {"A": "1"}),
    "AGENTOPS_COLLECTOR_FORWARD_RETRIES": ("0", 0),
    "AGENTOPS_COLLECTOR_FORWARD_QUEUE": ("3", 3),
    "AGENTOPS_COLLECTOR_FORWARD_QUEUE_BYTES": ("1 KiB", 1024),
    "AGENTOPS_COLLECTOR_MAX_BODY_BYTES": ("2MiB", 2 * 2**20),
    "AGENTOPS_COLLECTOR_MAX_BODY_MEMORY": ("1GiB", 2**30),
    "AGENTOPS_COLLECTOR_MAX_REQUESTS": ("5", 5),
    "AGENTOPS_COLLECTOR_SYNC": ("FULL", "full"),
    "AGENTOPS_COLLECTOR_INGEST_WORKERS": ("3", 3),
    "AGENTOPS_COLLECTOR_LOG_LEVEL": ("Warning", "warning"),
}


def test_the_settings_table_the_parser_the_environment_and_the_readme_agree():
    table = settings.SETTINGS
    names = [s.name for s in table]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(settings.CollectorSettings))
    assert len(set(names)) == len(names)
    # every variable is read into its setting
    assert sorted(ENV_EXAMPLES) == sorted(s.env for s in table if s.env), "give each variable an example here"
    read = _parse([], {env: text for env, (text, _) in ENV_EXAMPLES.items()})
    for setting in table:
        if setting.env:
            assert getattr(read, setting.name) == ENV_EXAMPLES[setting.env][1], setting.env
    # the parser has exactly the table's flags, each helped with its variable and default
    parser = build_parser("collector")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["collector"]
    actions = {a.option_strings[0]: a for a in sub._actions if a.option_strings and a.dest != "help"}
    assert sorted(actions) == sorted(s.flag for s in table if s.flag)
    for setting in table:
        if setting.flag:
            action = actions[setting.flag]
            assert action.dest == setting.name
            assert setting.help in action.help and f"default {setting.shown_default}" in action.help
            assert setting.env is None or setting.env in action.help
    # a default stated as a value ("64MiB", "~/.agentops-otel") is the default
    defaults = settings.CollectorSettings().__dict__
    checked = 0
    for setting in table:
        if setting.shown_default == "none":
            continue
        try:
            stated = setting.parse(setting.shown_default)
        except ValueError:  # a description ("gRPC on")
            continue
        assert stated == defaults[setting.name], setting.name
        checked += 1
    assert checked >= 12
    # README's table is the generated one
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("<!-- collector settings: begin -->\n", 1)[1].split("<!-- collector settings: end -->")[0]
    assert block == settings.markdown_table(), "regenerate it: python -m agentops_otel.collector.settings"


def test_one_setting_as_the_collector_without_flags_reads_it():
    assert settings.value("data_dir", {}) == Path.home() / ".agentops-otel"
    assert settings.value("data_dir", {"AGENTOPS_COLLECTOR_DATA_DIR": "~/elsewhere"}) == Path.home() / "elsewhere"
    assert settings.value("max_requests", {"AGENTOPS_COLLECTOR_MAX_REQUESTS": " "}) == 64
    with pytest.raises(settings.SettingError, match="AGENTOPS_COLLECTOR_MAX_REQUESTS='x'"):
        settings.value("max_requests", {"AGENTOPS_COLLECTOR_MAX_REQUESTS": "x"})


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AGENTOPS_COLLECTOR_HTTP_PORT", "abc", "AGENTOPS_COLLECTOR_HTTP_PORT='abc': expected a whole number"),
        ("AGENTOPS_COLLECTOR_GRPC_PORT", "70000", "AGENTOPS_COLLECTOR_GRPC_PORT='70000': expected a whole number"),
        ("AGENTOPS_COLLECTOR_MAX_REQUESTS", "0", "AGENTOPS_COLLECTOR_MAX_REQUESTS='0': expected a whole number"),
        ("AGENTOPS_COLLECTOR_FORWARD_QUEUE", "0", "AGENTOPS_COLLECTOR_FORWARD_QUEUE='0'"),
        ("AGENTOPS_COLLECTOR_MAX_BODY_MEMORY", "12 MB", "AGENTOPS_COLLECTOR_MAX_BODY_MEMORY='12 MB': expected a size"),
        ("AGENTOPS_COLLECTOR_GRPC", "maybe", "AGENTOPS_COLLECTOR_GRPC='maybe': expected true or false"),
        ("AGENTOPS_COLLECTOR_SYNC", "sometimes", "AGENTOPS_COLLECTOR_SYNC='sometimes': expected one of normal, full"),
        ("AGENTOPS_COLLECTOR_LOG_LEVEL", "loud", "AGENTOPS_COLLECTOR_LOG_LEVEL='loud': expected one of debug"),
        ("AGENTOPS_COLLECTOR_FORWARD_HEADERS", "Authorization: sk-SECRET", "AGENTOPS_COLLECTOR_FORWARD_HEADERS: "),
    ],
)
def test_a_bad_variable_is_an_error_naming_it(variable, value, expected):
    with pytest.raises(settings.SettingError) as raised:
        _parse([], {variable: value})
    assert str(raised.value).startswith(expected)
    assert "sk-SECRET" not in str(raised.value)


def test_a_bad_variable_stops_the_collector_with_its_name_and_never_its_help(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "AGENTOPS_COLLECTOR_HTTP_PORT": "abc"}
    script = Path(sys.executable).with_name("agentops-otel")
    result = subprocess.run([str(script), "collector"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "agentops-otel collector: AGENTOPS_COLLECTOR_HTTP_PORT='abc': expected a whole number from 0 to 65535"
    )
    assert not (tmp_path / ".agentops-otel").exists()
    helped = subprocess.run([str(script), "collector", "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert helped.returncode == 0 and "AGENTOPS_COLLECTOR_HTTP_PORT" in helped.stdout, helped.stderr
    flagged = subprocess.run(
        [str(script), "collector", "--http-port", "x"], capture_output=True, text=True, timeout=60, env=env
    )
    assert flagged.returncode == 2 and "argument --http-port: expected a whole number" in flagged.stderr
    assert "Traceback" not in result.stderr + helped.stderr + flagged.stderr


def test_a_malformed_forward_header_is_an_error_that_never_shows_its_value(tmp_path):
    env = {"AGENTOPS_COLLECTOR_FORWARD_HEADERS": "X-Team=t,Authorization: Bearer sk-SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "agentops_otel.cli", "collector", "--http-port", "0", "--data-dir", str(tmp_path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "AGENTOPS_COLLECTOR_FORWARD_HEADERS: forward header 2 must be NAME=VALUE" in result.stderr
    assert "Traceback" not in result.stderr
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
