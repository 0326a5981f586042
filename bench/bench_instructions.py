"""Instructions per LLM call added by each instrumentation, counted by valgrind's callgrind.

Wall time on a shared machine swings by hundreds of microseconds; instruction counts do not. One
process per instrumentation (``_instructions_workload.py``: the real ``openai`` and ``anthropic``
clients over HTTP to ``_llm_server.py``, a canned server on 127.0.0.1) runs under
``valgrind --tool=callgrind`` through phases: for each kind of call (openai chat, openai streamed
chat, anthropic messages, anthropic streamed messages) a warm-up, a short and a long run of calls,
and for streams a long run with more chunks per answer. Each phase ends with a flush of the spans
(their encoding and export count), then the bench dumps the counters of every thread
(``callgrind_control -d``). A call's cost is the slope between the short and the long phase;
a chunk's, the slope between the two long phases of a stream. The main thread's share is printed
apart ("in call"); the rest is background work (span processors, encoding, sending).

Instrumentations, each in its own virtual environment with the same ``openai`` and ``anthropic``
versions (created by this script, cached under ``~/.cache/agentops-otel/bench-venvs/``):
- none: no instrumentation;
- official: ``opentelemetry-instrumentation-openai-v2`` with an SDK TracerProvider,
  BatchSpanProcessor and OTLP/HTTP exporter; Anthropic calls: the spans the ``anthropic`` library
  itself emits with that TracerProvider (OpenTelemetry has no Anthropic instrumentation);
- agentops-otel: this project (``agentops_otel.init()``, the default export path and session
  analytics), run with the python running this script (install it with ``pip install -e .``);
- openllmetry, openinference (``--peers all``): their openai and anthropic instrumentations, the
  same SDK set-up as the official one.
``--schedule-ms`` gives every instrumentation the same delay between background exports (the
BatchSpanProcessor's ``schedule_delay_millis``, our ``export_interval``); without it each keeps its
default (the SDK's 5000 ms, our 500 ms). Spans go to the OTLP/HTTP sink of
``tests/support/otlp_sink.py`` in its own process; neither it nor the canned server runs under valgrind.

``--timing`` runs the same phases without valgrind, bigger, ``--rounds`` times, and prints the
median wall and CPU time (all threads) per call and per chunk instead.

Run (needs ``valgrind``, e.g. ``apt-get install -y valgrind``; a few minutes per instrumentation
and round; not part of CI)::

    .venv/bin/python bench/bench_instructions.py [--rounds 1] [--schedule-ms 5000] [--peers all]
    .venv/bin/python bench/bench_instructions.py --timing [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.otlp_sink import OtlpSink  # noqa: E402

WORKLOAD = Path(__file__).with_name("_instructions_workload.py")
SERVER = Path(__file__).with_name("_llm_server.py")
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
    "openllmetry": [
        "opentelemetry-instrumentation-openai==0.62.4",
        "opentelemetry-instrumentation-anthropic==0.62.4",
        *OTEL_SDK,
    ],
    "openinference": [
        "openinference-instrumentation-openai==0.1.66",
        "openinference-instrumentation-anthropic==3.1.0",
        *OTEL_SDK,
    ],
}
OURS = "agentops-otel"
KINDS = ("openai", "openai_stream", "anthropic", "anthropic_stream")
WARM_UP = 3  # calls before the counted phases: first-call costs land there
CHUNKS = (4, 24)  # text chunks per streamed answer: the short and long phases use the first
TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def peer_python(name: str, versions: dict[str, str]) -> str:
    """The python of the peer's venv (created and cached on first use)."""
    if name == OURS:
        return sys.executable
    requirements = [f"{package}=={version}" for package, version in sorted(versions.items())] + PEERS[name]
    key = hashlib.sha256(f"{sys.version}|{'|'.join(requirements)}".encode()).hexdigest()[:12]
    venv = VENV_CACHE / f"{name}-{key}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        print(f"creating {venv} ({' '.join(requirements)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        (venv / ".complete").touch()
    return str(python)


class CannedServer:
    """``_llm_server.py`` in a process of its own."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
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


def plan_for(kinds: list[str], short: int, long: int) -> list[tuple[str, str, int, int]]:
    """Phases: (name, kind, chunks, calls)."""
    phases = []
    for kind in kinds:
        phases += [(f"{kind}:warm", kind, CHUNKS[0], WARM_UP), (f"{kind}:short", kind, CHUNKS[0], short)]
        phases.append((f"{kind}:long", kind, CHUNKS[0], long))
        if kind.endswith("_stream"):
            phases.append((f"{kind}:chunks", kind, CHUNKS[1], long))
    return phases


def clean_env(workdir: Path) -> dict[str, str]:
    env = {**os.environ, "HOME": str(workdir), "XDG_CACHE_HOME": str(workdir / "cache"), "PYTHONHASHSEED": "0"}
    for name in [k for k in env if k.startswith(("OTEL_", "AGENTOPS_"))]:
        del env[name]
    return env


def run_phases(command: list[str], workdir: Path, phases: int, on_phase) -> None:  # type: ignore[no-untyped-def]
    """Run the workload; ``on_phase(number, process, (clock, cpu))`` is called as each phase ends,
    before the workload goes on."""
    stderr = (workdir / "stderr.txt").open("w")  # valgrind's and the workload's messages
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=clean_env(workdir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for number in range(phases):
            line = process.stdout.readline().split()
            if line[:2] != ["phase", str(number)]:
                tail = (workdir / "stderr.txt").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"workload stopped before phase {number} ended: {line!r}\n{tail}")
            on_phase(number, process, (float(line[2]), float(line[3])))
            process.stdin.write("\n")
            process.stdin.flush()
        process.stdin.close()
        if process.wait(600) != 0:
            raise RuntimeError(f"workload exited with {process.returncode}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr.close()


def callgrind(
    python: str, mode: str, plan: list[tuple[str, str, int, int]], argv: list[str], workdir: Path
) -> dict[str, tuple[int, int]]:
    """Instructions of each phase: {phase name: (all threads, main thread)}."""
    out = workdir / f"{mode}.out"
    workload = [python, str(WORKLOAD), mode, *argv, json.dumps([p[1:] for p in plan])]
    command = ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}", *workload]
    counts: dict[str, tuple[int, int]] = {}

    def dump(number: int, process: subprocess.Popen[str], clocks: tuple[float, float]) -> None:
        subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
        # dump k (1-based) of thread t is <out>.k-t; the phase's instructions are those since the last dump
        files = sorted(workdir.glob(f"{out.name}.{number + 1}-*"))
        totals = [int(TOTALS.findall(f.read_text(errors="replace"))[-1]) for f in files]
        main = next((t for f, t in zip(files, totals, strict=True) if f.name.endswith("-01")), 0)
        counts[plan[number][0]] = (sum(totals), main)
        for f in files:
            f.unlink()

    run_phases(command, workdir, len(plan), dump)
    return counts


def timed(python: str, mode: str, plan: list[tuple[str, str, int, int]], argv: list[str], workdir: Path):  # type: ignore[no-untyped-def]
    """Wall and CPU seconds (all threads) of each phase, by the workload's own clocks: {phase name: (wall, cpu)}."""
    times: dict[str, tuple[float, float]] = {}
    last: list[tuple[float, float]] = []

    def mark(number: int, process: subprocess.Popen[str], clocks: tuple[float, float]) -> None:
        if last:
            times[plan[number][0]] = (clocks[0] - last[0][0], clocks[1] - last[0][1])
        last[:] = [clocks]

    run_phases([python, str(WORKLOAD), mode, *argv, json.dumps([p[1:] for p in plan])], workdir, len(plan), mark)
    return times


def slopes(phases: dict[str, tuple[float, float]], kind: str, short: int, long: int) -> dict[str, tuple[float, float]]:
    """{"call": (all threads, main thread) per call, "chunk": the same per chunk (streams)} of one kind."""
    a, b = phases[f"{kind}:short"], phases[f"{kind}:long"]
    out = {"call": ((b[0] - a[0]) / (long - short), (b[1] - a[1]) / (long - short))}
    if f"{kind}:chunks" in phases:
        c, extra = phases[f"{kind}:chunks"], long * (CHUNKS[1] - CHUNKS[0])
        out["chunk"] = ((c[0] - b[0]) / extra, (c[1] - b[1]) / extra)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, help="calls of the short phase (default 20; --timing 100)")
    parser.add_argument("--long", type=int, help="calls of the long phase (default 60; --timing 300)")
    parser.add_argument("--rounds", type=int, help="rounds (the figures are their medians; default 1; --timing 5)")
    parser.add_argument("--peers", choices=("main", "all"), default="main", help="main: none, official, ours")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--schedule-ms", type=int, help="the same export delay for all (default: each its own)")
    parser.add_argument("--timing", action="store_true", help="wall and CPU time without valgrind instead")
    opts = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stopped: the servers and the workload still go
    short = opts.short or (100 if opts.timing else 20)
    long = opts.long or (300 if opts.timing else 60)
    rounds = opts.rounds or (5 if opts.timing else 1)
    if not opts.timing and shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    import anthropic
    import openai

    kinds = [k for k in opts.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        raise SystemExit(f"unknown kinds {sorted(unknown)}")
    modes = ["none", "official", OURS] + (["openllmetry", "openinference"] if opts.peers == "all" else [])
    versions = {"openai": openai.__version__, "anthropic": anthropic.__version__}
    pythons = {mode: peer_python(mode, versions) for mode in modes}
    plan = plan_for(kinds, short, long)
    unit, measure = ("µs", timed) if opts.timing else ("M instr", callgrind)
    scale = 1e6 if opts.timing else 1e-6
    results: dict[str, list[dict[str, dict[str, tuple[float, float]]]]] = {mode: [] for mode in modes}
    schedule = "default" if opts.schedule_ms is None else str(opts.schedule_ms)
    server, sink = CannedServer(), OtlpSink()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp:
            for number in range(rounds):
                print(f"--- round {number + 1} of {rounds}", flush=True)
                for mode in modes:
                    workdir = Path(tmp) / f"{mode}-{number}"
                    workdir.mkdir()
                    phases = measure(pythons[mode], mode, plan, [server.base_url, sink.endpoint, schedule], workdir)
                    results[mode].append({kind: slopes(phases, kind, short, long) for kind in kinds})
                    line = ", ".join(f"{kind} {results[mode][-1][kind]['call'][0] * scale:.2f}" for kind in kinds)
                    print(f"  {mode:14s} per call ({unit}, all threads): {line}", flush=True)
            what = (
                "wall µs / CPU µs (all threads)" if opts.timing else "instructions (all threads; in call: main thread)"
            )
            print(
                f"=== per call and per streamed chunk, {what}, median of {rounds} round(s), {short} vs {long} calls,"
                f" export schedule: {schedule if opts.schedule_ms else 'each its default'}"
            )
            for kind in kinds:
                for per in ("call", "chunk"):
                    if per not in results["none"][0][kind]:
                        continue

                    def median(mode: str, index: int, kind: str = kind, per: str = per) -> float:
                        return statistics.median(r[kind][per][index] for r in results[mode]) * scale

                    print(f"  {kind} per {per}:")
                    base = (median("none", 0), median("none", 1))
                    for mode in modes:
                        total, main_thread = median(mode, 0), median(mode, 1)
                        added = "" if mode == "none" else f"  added {total - base[0]:+9.3f}"
                        second = "CPU" if opts.timing else "in call"
                        extra = "" if mode == "none" else f" ({second} {main_thread - base[1]:+.3f})"
                        if opts.timing:
                            extra = f" (CPU {main_thread:.3f}, added {main_thread - base[1]:+.3f})"
                        print(f"    {mode:14s} {total:9.3f} {unit}{added}{extra}")
                    official, ours = median("official", 0) - base[0], median(OURS, 0) - base[0]
                    if official > 0:
                        print(f"    agentops-otel adds {ours / official:.2f}x what the official one adds")
    finally:
        sink.close()
        server.close()


if __name__ == "__main__":
    main()
