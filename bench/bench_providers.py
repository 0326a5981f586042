"""What the Groq, Mistral, Cohere, Ollama and LiteLLM instrumentors add to a call, against the same
call uninstrumented, in the same run.

Each library's real client makes a non-streamed chat call answered with the project's own fixture:
by default through an in-process HTTP transport (``httpx.MockTransport``: the library's whole request
and response path runs, no socket, so the figures are not drowned in network noise); with ``--http``
over real HTTP to the replay server in a child process (these libraries' HTTP stacks then cost 1-45 ms
per call here, depending on how each writes its request, which makes the added microseconds noise).
Instrumented and plain calls alternate call by call (the patches switched on and off, the tracer
warm); spans go to a real SDK TracerProvider with a BatchSpanProcessor and a dropping exporter.
Per library: p50 per call plain and instrumented, the added p50, and the median of paired differences;
the median over ``--rounds`` rounds. For LiteLLM two more figures: the "same span" row, a third mode
alternating with the other two, is a bare SDK span with the attributes our instrumentor gives the call
(built ahead of time) around ``litellm.completion``, what the OpenTelemetry SDK alone charges at that
place, and our share over it; and LiteLLM's own overhead: the same OpenAI-compatible call made with
the ``openai`` client directly, against ``litellm.completion``.

Run: ``.venv/bin/python bench/bench_providers.py [--calls N] [--rounds N] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM would fetch prices at import
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_instrumentation import BareSpan, ServerProcess, Switch, make_provider, pct
from tests.support.replay import FIXTURES_DIR, load_interactions

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import instrument, instrumentors
from agentops_otel.instrumentation._library import LibraryInstrumentor
from agentops_otel.instrumentation._patching import wrap_method

FIXTURES = {
    "groq": "groq/chat.json",
    "mistral": "mistral/chat.json",
    "cohere": "cohere/chat.json",
    "ollama": "ollama/chat.json",
    "litellm": "litellm/openai_chat_cached.json",
    "openai": "litellm/openai_chat_cached.json",  # the reference: the openai instrumentor, measured alike
}
PACKAGES = {
    "groq": "groq",
    "mistral": "mistralai",
    "cohere": "cohere",
    "ollama": "ollama",
    "litellm": "litellm",
    "openai": "openai",
}
LITELLM_REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise the plan."}]}


def local_transport(module: Any, name: str) -> Any:
    """An ``httpx``/``httpx2`` transport answering every request with ``name``'s fixture response."""
    response = load_interactions(FIXTURES_DIR / FIXTURES[name])[0]["response"]
    body = response["body"].encode()
    headers = {"content-type": response["headers"]["content-type"][0]}
    return module.MockTransport(lambda request: module.Response(response["status"], headers=headers, content=body))


def make_call(name: str, base: str, local: bool = False) -> Callable[[], Any]:
    """A chat call of ``name``'s client against the replay server at ``base`` (or in-process: ``local``)."""
    import httpx
    import httpx2

    if name == "groq":
        import groq

        http = httpx.Client(transport=local_transport(httpx, name)) if local else None
        client = groq.Groq(base_url=base, api_key="k", max_retries=0, http_client=http)
        request = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "Name a colour."}]}
        return lambda: client.chat.completions.create(**request)
    if name == "mistral":
        import mistralai.client

        http = httpx2.Client(transport=local_transport(httpx2, name)) if local else None
        client = mistralai.client.Mistral(api_key="k", server_url=base, client=http)
        request = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Name a river."}]}
        return lambda: client.chat.complete(**request)
    if name == "cohere":
        import cohere

        http = httpx.Client(transport=local_transport(httpx, name)) if local else None
        client = cohere.ClientV2(api_key="k", base_url=base, httpx_client=http)
        request = {"model": "command-r-plus", "messages": [{"role": "user", "content": "Name a mountain."}]}
        return lambda: client.chat(**request)
    if name == "ollama":
        import ollama

        client = ollama.Client(host=base, transport=local_transport(httpx, name)) if local else ollama.Client(host=base)
        request = {"model": "llama3.2", "messages": [{"role": "user", "content": "Name a bird."}]}
        return lambda: client.chat(**request)
    if name == "litellm":
        import litellm

        request = dict(LITELLM_REQUEST)
        if local:  # LiteLLM calls OpenAI through the openai library: hand it a client on the local transport
            import openai

            http = httpx2.Client(transport=local_transport(httpx2, name))
            request["client"] = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, http_client=http)
        return lambda: litellm.completion(**request, api_base=f"{base}/v1", api_key="k")
    if name in ("openai", "openai-direct"):
        import openai

        http = httpx2.Client(transport=local_transport(httpx2, "openai")) if local else None
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, http_client=http)
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise the plan."}]}
        return lambda: client.chat.completions.create(**request)
    raise ValueError(name)


Mode = tuple[Callable[[], None], Callable[[], Any]]  # (switch the patches for it, the call)


def alternating(modes: list[Mode], calls: int) -> list[tuple[list[float], list[float]]]:
    """Per-call seconds of each mode's call, the modes alternating call by call, for each mode: wall
    clock, then this thread's CPU time (the same work without the time other processes of a busy
    machine take)."""
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in modes]
    clock, cpu = time.perf_counter, time.thread_time
    for index in range(calls):  # which goes first rotates: the later ones of a turn find warmer caches
        for turn in range(len(modes)):
            position = (index + turn) % len(modes)
            before, call = modes[position]
            wall, used = times[position]
            before()
            start, start_cpu = clock(), cpu()
            call()
            wall.append(clock() - start)
            used.append(cpu() - start_cpu)
    return times


def added(plain: tuple[list[float], list[float]], other: tuple[list[float], list[float]]) -> tuple[float, ...]:
    """p50 of the plain calls, of the others, the added p50 and the median of paired differences; the
    same in CPU time."""
    (wall, used), (other_wall, other_used) = plain, other
    diffs = [o - p for p, o in zip(wall, other_wall, strict=True)]
    cpu_diffs = [o - p for p, o in zip(used, other_used, strict=True)]
    return (
        pct(wall, 0.5),
        pct(other_wall, 0.5),
        pct(other_wall, 0.5) - pct(wall, 0.5),
        pct(diffs, 0.5),
        pct(used, 0.5),
        pct(other_used, 0.5) - pct(used, 0.5),
        pct(cpu_diffs, 0.5),
    )


def litellm_same_span(provider: TracerProvider, request: dict[str, Any], response: Any) -> BareSpan:
    """A span with the attributes the LiteLLM instrumentor gives this call, built ahead of time, around
    ``litellm.completion``: what the OpenTelemetry SDK alone charges for them at that place."""
    from agentops_otel.instrumentation.litellm import _COMPLETION, LiteLLMInstrumentor

    request_attrs = {
        **LiteLLMInstrumentor()._client_attributes(None, request),
        sc.GEN_AI_OPERATION_NAME: _COMPLETION.operation,
        **_COMPLETION.request_attributes(request, False),
    }
    return BareSpan(provider, (request_attrs, _COMPLETION.response_attributes(response, False)))


def only(on: Switch | None, *off: Switch) -> Callable[[], None]:
    """A mode's switch: ``off`` off, then ``on`` on (two patches of one function: the order matters)."""

    def switch() -> None:
        for other in off:
            other.off()
        if on is not None:
            on.on()

    return switch


def row(label: str, rows: list[tuple[float, ...]]) -> None:
    figures = [statistics.median(r[i] for r in rows) * 1e6 for i in range(7)]
    print(
        f"{label:10} {figures[0]:10.1f} {figures[1]:11.1f} {figures[2]:10.1f} {figures[3]:8.1f}"
        f" {figures[4]:10.1f} {figures[5]:10.1f} {figures[6]:10.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(FIXTURES))
    parser.add_argument("--http", action="store_true", help="over HTTP to the replay server, not in-process")
    args = parser.parse_args()

    provider = make_provider()
    instrument(tracer_provider=provider)
    where = "over HTTP" if args.http else "in-process transport"
    print(f"{args.calls} calls per mode per round, {args.rounds} rounds, {where}; median over rounds (µs)")
    print(
        f"{'library':10} {'plain p50':>10} {'instr. p50':>11} {'added p50':>10} {'paired':>8}"
        f" {'CPU plain':>10} {'CPU added':>10} {'CPU paired':>10}"
    )
    for name in args.only:
        # one server per library: two libraries' recordings may share an endpoint path
        with ServerProcess(load_interactions(FIXTURES_DIR / FIXTURES[name])) as server:
            base = server.openai_base_url.removesuffix("/v1")
            call = make_call(name, base, local=not args.http)
            call()  # import, connect and warm the library with its patches in place
            # only this library's patches (and openai's under LiteLLM) are switched: every switch
            # invalidates Python's attribute caches of the classes patched
            packages = {PACKAGES[name], "openai"} if name == "litellm" else {PACKAGES[name]}
            patches = [
                p
                for i in instrumentors()
                if isinstance(i, LibraryInstrumentor) and i.package in packages
                for p in i._patches
            ]
            switch = Switch(patches)  # leaves them off
            # a client made while the patches are off, for the plain calls: cohere's client binds its
            # chat method when it is constructed, so switching the class's patch alone would not do
            plain_call = make_call(name, base, local=not args.http)
            response = plain_call()
            modes: list[Mode] = [(switch.off, plain_call), (switch.on, call)]
            if name == "litellm":  # and the SDK's share: the same span alone, in the same place
                import litellm

                body = {**LITELLM_REQUEST, "api_base": f"{base}/v1", "api_key": "k"}
                wrapper = litellm_same_span(provider, body, response)._wrapper
                same = Switch([wrap_method(litellm, "completion", wrapper, sessions=False)])  # type: ignore[arg-type]
                modes = [(only(None, same, switch), plain_call), (only(switch, same), call), (only(same, switch), call)]
            switch.on()
            rounds = [alternating(modes, args.calls) for _ in range(args.rounds)]
            row(name, [added(r[0], r[1]) for r in rounds])
            if name == "litellm":
                row("same span", [added(r[0], r[2]) for r in rounds])
                ours = [statistics.median(added(r[2], r[1])[i] for r in rounds) * 1e6 for i in (2, 5)]
                print(f"  ours over the same span alone: {ours[0]:.1f} µs p50, CPU {ours[1]:.1f} µs p50")
                same.off()
                switch.off()
                direct = make_call("openai-direct", base, local=not args.http)
                direct()
                rounds = [alternating([(_nothing, direct), (_nothing, call)], args.calls) for _ in range(args.rounds)]
                openai_p50, litellm_p50 = (statistics.median(pct(r[i][0], 0.5) for r in rounds) * 1e6 for i in range(2))
                print(
                    f"LiteLLM's own overhead (uninstrumented): openai client {openai_p50:.1f} µs p50, "
                    f"litellm.completion {litellm_p50:.1f} µs p50, +{litellm_p50 - openai_p50:.1f} µs per call"
                )
            switch.on()  # as instrument() left it, for the next library's warm-up


def _nothing() -> None:
    return None


if __name__ == "__main__":
    main()
