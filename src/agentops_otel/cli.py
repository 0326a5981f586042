"""The ``agentops-otel`` command.

Each subcommand is a module exposing ``add_arguments(parser)`` and ``run(args) -> int``, listed
with its help in :data:`SUBCOMMANDS`; adding a subcommand is one line there. Only the subcommand
that runs is imported (``agentops-otel collector-config`` never imports the collector, nor reads
its settings).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "collector": (
        "agentops_otel.collector.command",
        "run the collector: OTLP in (HTTP 4318, gRPC 4317), cost and tokens, SQLite, REST API, dashboard",
    ),
    "collector-config": (
        "agentops_otel.otelcol_config",
        "generate otel-collector.yaml (OpenTelemetry Collector config computing our cost and token attributes)",
    ),
    "migrate": (
        "agentops_otel.collector.migrate",
        "copy every session from one store to another (sqlite://, chdb://, clickhouse://): resumable, counts checked",
    ),
    "spool": (
        "agentops_otel.spool_command",
        "show (status) or deliver (flush) the spans the SDK spooled while the collector was unreachable",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the flags of ``command`` only (its module imported), when one is named."""
    parser = argparse.ArgumentParser(
        prog="agentops-otel", description="Session tracking for LLM agents on OpenTelemetry."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command if command in SUBCOMMANDS else None).parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
