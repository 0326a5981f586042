"""Instructions per openai chat call added by each instrumentation, counted by valgrind's callgrind.

Wall time on a shared machine swings by hundreds of microseconds; instruction counts do not. The
same loop (``_instructions_workload.py``: real ``openai`` client, non-streamed chat call over HTTP
to a canned OpenAI-compatible server on 127.0.0.1) runs under ``valgrind --tool=callgrind`` twice,
with ``--short`` and ``--long`` calls; the difference of the two totals divided by the difference
of the calls is the cost of one call (process start-up, imports and the final flush cancel out).
All threads are counted (the exporter's included: encoding and sending the spans is part of the
cost); the main thread's share is printed apart ("in call"), the rest is background work.

Instrumentations, each in its own virtual environment with the same ``openai`` version (created
by this script, cached under ``~/.cache/agentops-otel/bench-venvs/<name>-<versions>``):
- none: no instrumentation;
- official: ``opentelemetry-instrumentation-openai-v2`` with an SDK TracerProvider,
  BatchSpanProcessor and OTLP/HTTP exporter;
- agentops-otel: this project (``agentops_otel.init()``, the default export path and session
  analytics), run with the python running this script (install it with ``pip install -e .``);
- openllmetry, openinference (``--peers all``): the same SDK set-up as the official one.
Spans go to the OTLP/HTTP sink of ``tests/support/otlp_sink.py`` in its own process; the canned
server runs in its own process too; neither runs under valgrind.

Run (needs ``valgrind``, e.g. ``apt-get install -y valgrind``; a few minutes per instrumentation
and round; not part of CI)::

    .venv/bin/python bench/bench_instructions.py [--rounds 3] [--peers all] [--annotate]

``--annotate`` also prints, for agentops-otel and the official one, the C functions whose
inclusive instruction counts grow most per call (``callgrind_annotate``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.otlp_sink import OtlpSink  # noqa: E402

WORKLOAD = Path(__file__).with_name("_instructions_workload.py")
SERVER = REPO_ROOT / "examples" / "canned_openai_server.py"
VENV_CACHE = Path.home() / ".cache" / "agentops-otel" / "bench-venvs"
OTEL_SDK = ["opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"]
PEERS: dict[str, list[str]] = {
    "none": [],
    "official": [
        "opentelemetry-instrumentation-openai-v2==2.4b0",
        "opentelemetry-util-genai==1.1b0",
        "httpx",
        *OTEL_SDK,
    ],
    "openllmetry": ["opentelemetry-instrumentation-openai==0.62.4", *OTEL_SDK],
    "openinference": ["openinference-instrumentation-openai==0.1.66", *OTEL_SDK],
}
OURS = "agentops-otel"
TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def peer_python(name: str, openai_version: str) -> str:
    """The python of the peer's venv (created and cached on first use)."""
    if name == OURS:
        return sys.executable
    requirements = [f"openai=={openai_version}", *PEERS[name]]
    key = hashlib.sha256(f"{sys.version}|{'|'.join(requirements)}".encode()).hexdigest()[:12]
    venv = VENV_CACHE / f"{name}-openai{openai_version}-{key}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        print(f"creating {venv} ({' '.join(requirements)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        (venv / ".complete").touch()
    return str(python)


class CannedServer:
    """``examples/canned_openai_server.py`` in a process of its own."""

    def __init__(self) -> None:
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); from canned_openai_server import CannedOpenAIServer;"
            "s = CannedOpenAIServer(); print(s.base_url, flush=True); sys.stdin.read(); s.close()"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code, str(SERVER.parent)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"canned server did not start: {self.base_url!r}")

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def callgrind(
    python: str, mode: str, calls: int, base_url: str, endpoint: str, workdir: Path
) -> tuple[int, int, list[Path]]:
    """(instructions of all threads, of the main thread, the callgrind files, one per thread) for one run."""
    out = workdir / f"{mode}-{calls}.out"
    env = {**os.environ, "HOME": str(workdir), "XDG_CACHE_HOME": str(workdir / "cache"), "PYTHONHASHSEED": "0"}
    for name in [k for k in env if k.startswith(("OTEL_", "AGENTOPS_"))]:
        del env[name]
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        python,
        str(WORKLOAD),
        mode,
        str(calls),
        base_url,
        endpoint,
    ]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} under callgrind failed:\n{result.stderr[-3000:]}")
    files = sorted(workdir.glob(f"{out.name}-*"))  # one per thread: <out>-01 is the main thread
    counts = [int(TOTALS.findall(f.read_text(errors="replace"))[-1]) for f in files]
    return sum(counts), counts[0], files


def annotate_growth(short: list[Path], long: list[Path], calls: int, top: int = 20) -> list[tuple[float, str]]:
    """The C functions whose own (exclusive) count grows most per call between two runs, all threads.

    Python code shows up as the interpreter's functions; what stands out is native work (protobuf
    encoding, JSON, pydantic-core, compression, sockets, SQLite, memory allocation).
    """

    def exclusive(paths: list[Path]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for path in paths:
            text = subprocess.run(
                ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for line in text.splitlines():
                match = re.match(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
                if match and "PROGRAM TOTALS" not in line:
                    function = re.sub(r"^/tmp/[^:]*/", "", match.group(2).strip())
                    counts[function] = counts.get(function, 0) + int(match.group(1).replace(",", ""))
        return counts

    before, after = exclusive(short), exclusive(long)
    growth = [((after[f] - before.get(f, 0)) / calls, f) for f in after]
    return sorted(growth, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=20, help="calls of the short run")
    parser.add_argument("--long", type=int, default=60, help="calls of the long run")
    parser.add_argument("--rounds", type=int, default=1, help="rounds (the figures are their medians)")
    parser.add_argument("--peers", choices=("main", "all"), default="main", help="main: none, official, ours")
    parser.add_argument("--annotate", action="store_true", help="per-function growth for ours and the official one")
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    import openai

    modes = ["none", "official", OURS] + (["openllmetry", "openinference"] if opts.peers == "all" else [])
    pythons = {mode: peer_python(mode, openai.__version__) for mode in modes}
    extra = opts.long - opts.short
    per_call: dict[str, list[float]] = {mode: [] for mode in modes}
    in_call: dict[str, list[float]] = {mode: [] for mode in modes}
    server, sink = CannedServer(), OtlpSink()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp:
            for number in range(opts.rounds):
                print(f"--- round {number + 1} of {opts.rounds}", flush=True)
                for mode in modes:
                    workdir = Path(tmp) / f"{mode}-{number}"
                    workdir.mkdir()
                    run = [
                        callgrind(pythons[mode], mode, n, server.base_url, sink.endpoint, workdir)
                        for n in (opts.short, opts.long)
                    ]
                    per_call[mode].append((run[1][0] - run[0][0]) / extra)
                    in_call[mode].append((run[1][1] - run[0][1]) / extra)
                    print(
                        f"  {mode:14s} {per_call[mode][-1] / 1e6:6.2f} M per call"
                        f" (main thread {in_call[mode][-1] / 1e6:5.2f} M)",
                        flush=True,
                    )
                    if opts.annotate and number == 0 and mode in ("official", OURS):
                        print(f"  {mode}: C functions growing most per call (exclusive, all threads)")
                        for growth, function in annotate_growth(run[0][2], run[1][2], extra):
                            print(f"    {growth / 1e3:9.1f} K  {function}")
            print(
                f"=== instructions per openai chat call, median of {opts.rounds} round(s),"
                f" {opts.short} vs {opts.long} calls"
            )
            none = statistics.median(per_call["none"])
            none_main = statistics.median(in_call["none"])
            official = statistics.median(per_call["official"]) - none
            for mode in modes:
                total, main_thread = statistics.median(per_call[mode]), statistics.median(in_call[mode])
                added = (
                    ""
                    if mode == "none"
                    else f"  added {(total - none) / 1e6:+.2f} M (in call {(main_thread - none_main) / 1e6:+.2f} M)"
                )
                print(f"  {mode:14s} {total / 1e6:6.2f} M{added}")
            ours = statistics.median(per_call[OURS]) - none
            print(f"  agentops-otel adds {ours / official:.2f}x what the official instrumentation adds")
    finally:
        sink.close()
        server.close()


if __name__ == "__main__":
    main()
