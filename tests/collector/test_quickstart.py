"""The README's main job: examples/quickstart.py runs end to end (offline) and prints what it promises."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psutil
import pytest

from tests.conftest import sdk_free_env
from tests.support.replay import REPO_ROOT


def test_quickstart_runs_offline_and_prints_analytics_stats_and_next_steps(tmp_path):
    env = sdk_free_env("OPENAI_")
    result = subprocess.run(
        [
            sys.executable,
            "examples/quickstart.py",
            "--exit",
            "--data-dir",
            str(tmp_path),
            "--http-port",
            "0",
            "--grpc-port",
            "0",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local canned OpenAI-compatible server" in out
    assert re.search(r"LLM calls\s+2", out) and re.search(r"Tool calls\s+1", out)
    sdk_cost = Decimal(re.search(r"end_session\(\) returned \$([0-9.]+)", out).group(1))
    rest_cost = Decimal(re.search(r'"cost": "([0-9.]+)"', out).group(1))
    assert sdk_cost == rest_cost > 0
    assert '"llm_calls": 2' in out and '"end_state": "Success"' in out and '"cache_read_tokens": 1024' in out
    assert re.search(r"dashboard\s+http://127\.0\.0\.1:\d+/", out) and re.search(r"REST docs\s+http://\S+/docs", out)
    assert (tmp_path / "agentops.sqlite3").exists()
    # The reopen hint works as printed: the venv's own script when agentops-otel is not on PATH.
    reopen = re.search(r"reopen\s+(\S+) collector --data-dir (\S+)", out)
    assert reopen and reopen.group(2) == str(tmp_path), out
    script, installed = reopen.group(1), Path(sys.executable).parent / "agentops-otel"
    assert script == "agentops-otel" or (REPO_ROOT / script).resolve() == installed.resolve()


def test_canned_server_streams_tool_calls_the_openai_stream_helper_accepts():
    import openai

    sys.path.insert(0, str(REPO_ROOT / "examples"))
    try:
        from canned_openai_server import CannedOpenAIServer
    finally:
        sys.path.remove(str(REPO_ROOT / "examples"))

    with CannedOpenAIServer() as server:
        client = openai.OpenAI(api_key="not-needed", base_url=server.base_url)
        messages = [{"role": "user", "content": "What should I wear in Paris?"}]
        with client.chat.completions.stream(model="gpt-4o-mini", messages=messages) as stream:
            final = stream.get_final_completion()
        call = final.choices[0].message.tool_calls[0]
        assert final.choices[0].finish_reason == "tool_calls"
        assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
        client.close()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "SIGINT", "SIGKILL"])
def test_quickstart_leaves_no_collector_behind_however_it_is_stopped(tmp_path, how):
    env = sdk_free_env("OPENAI_")
    env["HOME"] = str(tmp_path / "home")
    command = [sys.executable, "examples/quickstart.py", "--data-dir", str(tmp_path / "data")]
    command += ["--http-port", "0", "--grpc-port", "0"]
    quickstart = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    children: list[psutil.Process] = []
    try:
        output = []
        for line in quickstart.stdout:
            output.append(line)
            if "press Ctrl-C to stop it" in line:
                break
        assert output and "press Ctrl-C" in output[-1], "".join(output)
        children = psutil.Process(quickstart.pid).children(recursive=True)
        assert any("collector" in child.cmdline() for child in children)

        quickstart.send_signal(getattr(signal, how))
        quickstart.wait(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=60)
        assert not alive, [child.cmdline() for child in alive]
        if how != "SIGKILL":
            assert quickstart.returncode in (0, 128 + getattr(signal, how))
    finally:
        for process in [*children, psutil.Process(quickstart.pid) if quickstart.poll() is None else None]:
            if process is not None and process.is_running():
                process.kill()
        quickstart.stdout.close()
        quickstart.wait(timeout=30)
