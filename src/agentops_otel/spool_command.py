"""``agentops-otel spool status|flush``: look at, and deliver, what the SDK kept in the spool.

For scripts that never run again after an outage: ``flush`` delivers every spooled request to the
collector it was meant for (as a later run of the program would), retrying unreachable ones until
``--timeout``; exit status 0 when the spool is empty, 1 when something is left.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from agentops_otel.config import Configuration
from agentops_otel.delivery import Delivery, Transport
from agentops_otel.spool import Spool, default_spool_dir, open_spool, summarise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("status", "flush"))
    parser.add_argument("--dir", help="spool directory (default: AGENTOPS_SPOOL_DIR, else the user's cache directory)")
    parser.add_argument("--timeout", type=float, default=60.0, help="flush: give up after this many seconds (60)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _open(args: argparse.Namespace) -> tuple[Spool, Configuration]:
    config = Configuration.from_env(spool_dir=args.dir)
    return open_spool(config.spool_dir or default_spool_dir(), config.spool_max_bytes, config.spool_max_age), config


def _print(summary: dict[str, object], as_json: bool, delivered: int | None = None) -> None:
    if delivered is not None:
        summary = {"delivered_spans": delivered, **summary}
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    if delivered is not None:
        print(f"delivered {delivered} spans")
    where, spans, files, size = summary["location"], summary["spans"], summary["files"], summary["bytes"]
    print(f"spool {where}: {spans} spans, {files} requests, {size} bytes")
    oldest = summary["oldest_ns"]
    if isinstance(oldest, int):
        print(f"  oldest written {max(0.0, time.time() - oldest / 1e9):.0f} s ago")
    for row in summary["targets"].values():  # type: ignore[union-attr]
        print(f"  {row.get('url', '?')} ({row.get('protocol', '?')}): {row['spans']} spans, {row['files']} requests")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    spool, config = _open(args)
    if args.action == "status":
        _print(summarise(spool), args.json)
        return 0
    delivery = Delivery(spool, max_backoff_s=min(config.spool_max_backoff / 1000, 5.0), transport=Transport.of(config))
    deadline = time.monotonic() + args.timeout
    while True:
        sleep = delivery.deliver_once()
        if not spool.entries() or time.monotonic() >= deadline:
            break
        time.sleep(max(0.0, min(sleep, deadline - time.monotonic())))
    spool.report_drops()
    summary = summarise(spool)
    _print(summary, args.json, delivery.delivered_spans)
    return 0 if summary["files"] == 0 else 1
