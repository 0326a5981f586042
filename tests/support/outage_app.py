"""An agent app recording events at a steady rate into one session, for the outage scenarios.

    python -m tests.support.outage_app ENDPOINT API_KEY EVENTS RATE [grpc] [--wait] [--raise]

Prints ``SESSION <id>``, ``PROGRESS <n>`` every 50 events, then ``DONE <events> <cost>`` after
``end_session`` (with how long it took: within max_wait_time, collector up or not). With
``--wait`` it prints ``RECORDED <n>`` after recording and ends the session only when a line
arrives on stdin (or a signal first); with ``--raise`` it ends by an uncaught exception.
"""

from __future__ import annotations

import argparse
import sys
import time

import agentops_otel as ao


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("api_key")
    parser.add_argument("events", type=int)
    parser.add_argument("rate", type=float)
    parser.add_argument("protocol", nargs="?", default="http/protobuf")
    parser.add_argument("--end-state", default="Success")
    parser.add_argument("--wait", action="store_true", help="after recording, end the session on a stdin line")
    parser.add_argument("--max-wait", type=int, default=30_000, help="max_wait_time (ms)")
    parser.add_argument("--raise", dest="raise_", action="store_true", help="end by an uncaught exception")
    args = parser.parse_args()
    session = ao.init(
        endpoint=args.endpoint,
        api_key=args.api_key,
        exporter_protocol=args.protocol,
        instrument_llm_calls=False,
        max_wait_time=args.max_wait,
    )
    assert session is not None
    print(f"SESSION {session.session_id}", flush=True)
    started = time.monotonic()
    for i in range(args.events):
        if i % 10 == 0:  # one LLM call in ten, so cost is part of what must arrive
            ao.record(ao.LLMEvent(model="gpt-4o-mini", provider="openai", prompt_tokens=100, completion_tokens=20))
        else:
            ao.record(ao.ActionEvent(action_type=f"step-{i}"))
        if (i + 1) % 50 == 0:
            print(f"PROGRESS {i + 1}", flush=True)
        delay = started + (i + 1) / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    if args.wait:
        print(f"RECORDED {args.events}", flush=True)
        sys.stdin.readline()
    if args.raise_:
        raise RuntimeError("agent crashed")
    asked = time.monotonic()
    cost = session.end_session(args.end_state)
    print(f"DONE {args.events} {cost} {time.monotonic() - asked:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
