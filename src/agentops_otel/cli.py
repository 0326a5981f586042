"""The ``agentops-otel`` command.

Each subcommand is a module exposing ``HELP: str``, ``add_arguments(parser)`` and
``run(args) -> int``, listed in :data:`SUBCOMMANDS`; adding a subcommand is one line there.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, str] = {
    "collector": "agentops_otel.collector.command",
    "collector-config": "agentops_otel.otelcol_config",
    "spool": "agentops_otel.spool_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentops-otel", description="Session tracking for LLM agents on OpenTelemetry."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
