"""``agentops-otel collector``: run the embedded collector until interrupted."""

from __future__ import annotations

import argparse
import sys

from agentops_otel.collector import settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        chosen = settings.from_args(args)
    except settings.SettingError as exc:
        print(f"agentops-otel collector: {exc}", file=sys.stderr)
        return 2
    from agentops_otel.collector.server import run as serve

    return serve(chosen)
