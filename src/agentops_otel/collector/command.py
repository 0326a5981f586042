"""``agentops-otel collector``: run the embedded collector until interrupted."""

from __future__ import annotations

import argparse

from agentops_otel.collector import settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from agentops_otel.collector.server import run as serve

    return serve(settings.from_args(args))
