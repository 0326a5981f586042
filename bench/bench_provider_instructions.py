"""Instructions per call that the Groq, Mistral, Cohere, Ollama and LiteLLM instrumentors add, counted by
valgrind's callgrind: a figure the load of a shared machine does not move.

For each library, the call of ``bench_providers.py`` (its real client, a non-streamed chat call answered
in-process by an ``httpx.MockTransport`` with the project's fixture) runs in a loop under
``valgrind --tool=callgrind``, plain and instrumented (spans to an SDK TracerProvider with a
BatchSpanProcessor and a dropping exporter, as in ``bench_providers.py``), each with ``--short`` and
``--long`` calls. The difference of the two totals over the difference of the calls is one call's cost
(start-up, imports and shutdown cancel out); instrumented minus plain is what the instrumentor adds.
All threads are counted (the batch processor's included). Counting starts after the imports and the
warm-up calls (a client request to callgrind from a small C shim built here with ``cc``): LiteLLM's
import alone takes tens of minutes when counted, a minute when not.

To read instructions as time, the same loops run without valgrind, plain, and their CPU time per call
over their instructions per call gives this machine's rate for this code (printed; it moves with the
load, the instruction counts do not).

Run (needs ``valgrind`` with its headers and a C compiler; minutes per library)::

    .venv/bin/python bench/bench_provider_instructions.py [--only groq cohere] [--short 20] [--long 60]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)
LIBRARIES = ("groq", "mistral", "cohere", "ollama", "litellm", "openai")
WARM_UP = 5
SHIM_ENV = "BENCH_CALLGRIND_SHIM"  # the shared library whose start() turns callgrind's instrumentation on
SHIM_SOURCE = "#include <valgrind/callgrind.h>\nvoid start(void) { CALLGRIND_START_INSTRUMENTATION; }\n"


def workload(name: str, mode: str, calls: int) -> None:
    """The loop counted: ``calls`` calls of ``name``'s client after a warm-up, ``mode`` plain or traced."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sys.path.insert(0, str(REPO_ROOT))
    from bench.bench_instrumentation import make_provider
    from bench.bench_providers import make_call

    provider = make_provider()
    if mode == "traced":
        from agentops_otel.instrumentation import instrument

        instrument(tracer_provider=provider)
    call = make_call(name, "http://127.0.0.1:9", local=True)  # in-process transport: nothing listens there
    for _ in range(WARM_UP):
        call()
    if SHIM_ENV in os.environ:  # under callgrind, started with its instrumentation off
        ctypes.CDLL(os.environ[SHIM_ENV]).start()
    start = time.process_time()
    for _ in range(calls):
        call()
    elapsed = time.process_time() - start
    provider.shutdown()
    print(f"cpu-per-call {elapsed / calls!r}")


def build_shim(workdir: Path) -> Path:
    source, shim = workdir / "shim.c", workdir / "shim.so"
    source.write_text(SHIM_SOURCE)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(shim), str(source)], check=True)
    return shim


def callgrind(name: str, mode: str, calls: int, workdir: Path, shim: Path) -> int:
    """Instructions of all threads of one run, from the end of its warm-up."""
    out = workdir / f"{name}-{mode}-{calls}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--run",
        name,
        mode,
        str(calls),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", SHIM_ENV: str(shim)}
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{name} {mode} under callgrind failed:\n{result.stderr[-3000:]}")
    return sum(int(TOTALS.findall(f.read_text(errors="replace"))[-1]) for f in workdir.glob(f"{out.name}-*"))


def cpu_per_call(name: str, mode: str, calls: int) -> float:
    command = [sys.executable, __file__, "--run", name, mode, str(calls)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.split("cpu-per-call ")[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run":
        workload(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(LIBRARIES))
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=60)
    parser.add_argument("--timing-calls", type=int, default=2000, help="calls of the runs without valgrind")
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    extra = opts.long - opts.short
    print(f"instructions per call, slope of {opts.short} vs {opts.long} calls under callgrind (all threads)")
    print(f"{'library':10} {'plain':>10} {'traced':>10} {'added':>10} {'rate':>12} {'added ≈':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-provider-instr-") as tmp:
        shim = build_shim(Path(tmp))
        for name in opts.only:
            per_call = {}
            for mode in ("plain", "traced"):
                workdir = Path(tmp) / f"{name}-{mode}"
                workdir.mkdir()
                short, long = (callgrind(name, mode, n, workdir, shim) for n in (opts.short, opts.long))
                per_call[mode] = (long - short) / extra
            # instructions per µs of this code here: the plain loop's CPU time (best of three) over its count
            cpu = min(cpu_per_call(name, "plain", opts.timing_calls) for _ in range(3))
            rate = per_call["plain"] / (cpu * 1e6)
            added = per_call["traced"] - per_call["plain"]
            print(
                f"{name:10} {per_call['plain'] / 1e3:9.0f}K {per_call['traced'] / 1e3:9.0f}K"
                f" {added / 1e3:9.0f}K {rate:8.0f}/µs {added / rate:8.1f} µs",
                flush=True,
            )


if __name__ == "__main__":
    main()
