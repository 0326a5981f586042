"""``agentops-otel migrate --from URL --to URL``: copy every project's spans, resources and log
records from one store to another (any store URL to any other), then check the counts.

Batches are read back from the source as ingest prepared them (kind, cost, tokens as stored, never
priced again) and written through the destination's own write path, so the destination's session
rollups are built as if the spans had arrived at its collector. After each batch the destination
has committed, a checkpoint file records the source position: a killed migration continues from
there, and the batches written since the last checkpoint are written again, which the stores'
idempotent writes (a span or a log record stored once) make harmless. At the end every project's
spans, sessions and log records are counted on both sides, and the totals the REST overview gives
are compared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from agentops_otel.collector.settings import BY_NAME
from agentops_otel.collector.store import Store, StoreURLError, open_store, redact_url, scheme_of, sqlite_path
from agentops_otel.collector.store.base import StoredCounts, WriteResult

BATCH_SPANS = 5000
IN_FLIGHT = 4  # batches written and not yet committed: reading the next overlaps the destination's commit
CHECKPOINT_VERSION = 1
PHASES = ("spans", "logs", "done")
TOTAL_KEYS = ("sessions", "llm_calls", "errors", "cost", "prompt_tokens", "completion_tokens", "failed_sessions")


class MigrationError(Exception):
    """The migration cannot start or go on (the message says why; never a password)."""


@dataclass
class Checkpoint:
    """Where a migration stands; saved after each batch the destination committed."""

    source: str  # store URLs, passwords left out
    destination: str
    phase: str = "spans"
    spans_after: str | None = None  # the source's position after the last committed batch
    logs_after: str | None = None
    spans_copied: int = 0
    spans_new: int = 0  # stored for the first time in the destination
    logs_copied: int = 0
    logs_new: int = 0
    seconds: float = 0.0  # spent copying, over every run
    version: int = CHECKPOINT_VERSION

    @classmethod
    def load(cls, path: Path, source: str, destination: str) -> Checkpoint:
        """The checkpoint at ``path`` for this source and destination, or a new one."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(source, destination)
        except (OSError, ValueError) as exc:
            raise MigrationError(f"cannot read the checkpoint {path}: {exc} (--restart starts over)") from None
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION or data.get("phase") not in PHASES:
            raise MigrationError(f"{path} is not a migration checkpoint of this version (--restart starts over)")
        if (data.get("source"), data.get("destination")) != (source, destination):
            raise MigrationError(
                f"the checkpoint {path} is of another migration ({data.get('source')} to {data.get('destination')});"
                " choose another --checkpoint, or --restart"
            )
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})

    def save(self, path: Path) -> None:
        """Atomically: a reader (the next run) sees the old checkpoint or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(asdict(self), handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)


@dataclass
class ProjectCheck:
    project_id: str
    source: StoredCounts
    destination: StoredCounts
    source_totals: dict[str, Any]
    destination_totals: dict[str, Any]

    @property
    def mismatches(self) -> list[str]:
        found = [
            f"{name}: {getattr(self.source, name)} in the source, {getattr(self.destination, name)} in the destination"
            for name in ("spans", "sessions", "logs")
            if getattr(self.source, name) != getattr(self.destination, name)
        ]
        for key in TOTAL_KEYS:
            mine, theirs = self.source_totals.get(key), self.destination_totals.get(key)
            if key == "cost":  # money as text: the same amount may be written with other trailing zeros
                same = mine is not None and theirs is not None and Decimal(mine) == Decimal(theirs)
            else:
                same = mine == theirs
            if not same:
                found.append(f"REST overview {key}: {mine} in the source, {theirs} in the destination")
        return found


@dataclass
class Report:
    checkpoint: Checkpoint
    checks: list[ProjectCheck] = field(default_factory=list)
    resumed: bool = False
    already_done: bool = False

    @property
    def ok(self) -> bool:
        return all(not check.mismatches for check in self.checks)


def default_checkpoint(source: str, destination: str, env: dict[str, str] | None = None) -> Path:
    """Under the collector's data directory, named after the two stores (so the same command resumes)."""
    env = os.environ if env is None else env
    setting = BY_NAME["data_dir"]  # the collector's --data-dir, from its variable or its default
    text = env.get(setting.env or "", "")
    data_dir = setting.parse(text) if text.strip() else setting.default_value()
    digest = hashlib.sha256(f"{redact_url(source)}\n{redact_url(destination)}".encode()).hexdigest()[:16]
    return data_dir / "migrations" / f"{digest}.json"


def _same_store(source: str, destination: str) -> bool:
    if scheme_of(source) == scheme_of(destination) == "sqlite":
        return sqlite_path(source).resolve() == sqlite_path(destination).resolve()
    return redact_url(source).rstrip("/") == redact_url(destination).rstrip("/")


class _Progress:
    """One line on a terminal, rewritten at most five times a second; nothing elsewhere."""

    def __init__(self, out: TextIO, total_spans: int, total_logs: int) -> None:
        self.out, self.total_spans, self.total_logs = out, total_spans, total_logs
        self.live = out.isatty()
        self.started = time.monotonic()
        self.shown = 0.0

    def show(self, checkpoint: Checkpoint, copied_now: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.live or (not force and now - self.shown < 0.2):
            return
        self.shown = now
        rate = copied_now / max(now - self.started, 1e-9)
        if checkpoint.phase == "spans":
            done, total, what = checkpoint.spans_copied, self.total_spans, "spans"
        else:
            done, total, what = checkpoint.logs_copied, self.total_logs, "log records"
        share = f" ({min(done / total, 1):.0%})" if total else ""
        self.out.write(f"\r  {what}: {done:,} of {total:,}{share}, {rate:,.0f}/s   ")
        self.out.flush()

    def end(self) -> None:
        if self.live and self.shown:
            self.out.write("\n")
            self.out.flush()


def _copy(
    batches: Iterator[tuple[Any, str]],
    write: Callable[[Any], Future[WriteResult]],
    committed: Callable[[WriteResult, str], None],
) -> None:
    """Write each batch; call ``committed`` for each, in order, once the destination committed it."""
    pending: deque[tuple[Future[WriteResult], str]] = deque()

    def settle() -> None:
        future, position = pending.popleft()
        committed(future.result(), position)

    for batch, position in batches:
        while True:
            try:
                future = write(batch)
                break
            except queue.Full:  # the destination's writer is behind: wait for the oldest batch
                if not pending:
                    time.sleep(0.01)
                else:
                    settle()
        pending.append((future, position))
        while len(pending) >= IN_FLIGHT or (pending and pending[0][0].done()):
            settle()
    while pending:
        settle()


def check(source: Store, destination: Store) -> list[ProjectCheck]:
    """Every source project's counts and REST overview totals, on both sides."""
    checks = []
    for project in source.projects():
        checks.append(
            ProjectCheck(
                project,
                source.counts(project),
                destination.counts(project),
                {k: source.overview((project,), None, None, None)["totals"].get(k) for k in TOTAL_KEYS},
                {k: destination.overview((project,), None, None, None)["totals"].get(k) for k in TOTAL_KEYS},
            )
        )
    return checks


def migrate(
    source: Store,
    destination: Store,
    checkpoint: Checkpoint,
    checkpoint_path: Path,
    *,
    batch_spans: int = BATCH_SPANS,
    progress: TextIO | None = None,
) -> Report:
    """Copy what ``source`` holds into ``destination`` from where ``checkpoint`` stands; check the counts."""
    report = Report(checkpoint, resumed=checkpoint.spans_copied > 0 or checkpoint.phase != "spans")
    report.already_done = checkpoint.phase == "done"
    if not report.already_done:
        before = source.projects()
        totals = [source.counts(project) for project in before]
        bar = _Progress(progress or sys.stderr, sum(c.spans for c in totals), sum(c.logs for c in totals))
        copied_now = 0
        mark = time.monotonic()

        def save() -> None:
            nonlocal mark
            now = time.monotonic()
            checkpoint.seconds += now - mark
            mark = now
            checkpoint.save(checkpoint_path)

        def spans_done(result: WriteResult, position: str) -> None:
            nonlocal copied_now
            checkpoint.spans_after = position
            checkpoint.spans_copied += result.accepted
            checkpoint.spans_new += result.new
            copied_now += result.accepted
            save()
            bar.show(checkpoint, copied_now)

        def logs_done(result: WriteResult, position: str) -> None:
            nonlocal copied_now
            checkpoint.logs_after = position
            checkpoint.logs_copied += result.accepted
            checkpoint.logs_new += result.new
            copied_now += result.accepted
            save()
            bar.show(checkpoint, copied_now)

        try:
            if checkpoint.phase == "spans":
                _copy(source.read_spans(checkpoint.spans_after, batch_spans), destination.write, spans_done)
                bar.show(checkpoint, copied_now, force=True)
                checkpoint.phase = "logs"
                save()
                copied_now, bar.started = 0, time.monotonic()
            if checkpoint.phase == "logs":
                _copy(source.read_logs(checkpoint.logs_after, batch_spans), destination.write_logs, logs_done)
                checkpoint.phase = "done"
                save()
        finally:
            bar.show(checkpoint, copied_now, force=True)
            bar.end()
    report.checks = check(source, destination)
    return report


# --- the command -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="the store to copy: sqlite:///path, chdb:///dir, ...",
    )
    parser.add_argument(
        "--to",
        dest="destination",
        required=True,
        metavar="URL",
        help="the store to copy into: chdb:///dir, clickhouse://user:password@host:8123/database, sqlite:///path",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="PATH",
        help="where the migration records how far it got, to continue after an interruption"
        " (default: under the collector's data directory, named after the two stores)",
    )
    parser.add_argument("--restart", action="store_true", help="ignore the checkpoint: copy everything again")
    parser.add_argument(
        "--batch-spans", type=int, default=BATCH_SPANS, metavar="N", help=f"spans per write (default {BATCH_SPANS})"
    )


def _open(url: str, role: str) -> Store:
    try:
        return open_store(url)
    except StoreURLError as exc:
        raise MigrationError(f"--{role}: {exc}") from None
    except Exception as exc:  # the store's own reason (locked, unreachable, refused): said, with no password
        raise MigrationError(f"cannot open the {role} store {redact_url(url)}: {redact_url(str(exc))}") from None


def _print_report(report: Report, source: str, destination: str, checkpoint_path: Path, out: TextIO) -> None:
    cp = report.checkpoint
    print(f"agentops-otel migrate: {redact_url(source)} -> {redact_url(destination)}", file=out)
    if report.already_done:
        print(
            f"  already copied (checkpoint {checkpoint_path}); counts checked again. --restart copies again.", file=out
        )
    else:
        rate = cp.spans_copied / cp.seconds if cp.seconds else 0.0
        again = cp.spans_copied - cp.spans_new
        print(
            f"  copied {cp.spans_copied:,} spans ({cp.spans_new:,} new, {again:,} already there)"
            f" and {cp.logs_copied:,} log records ({cp.logs_new:,} new) in {cp.seconds:.1f} s ({rate:,.0f} spans/s)"
            + (", resumed from a checkpoint" if report.resumed else ""),
            file=out,
        )
    width = max([len("project"), *(len(c.project_id) for c in report.checks)])
    print(
        f"  {'project':<{width}}  {'spans':>12}  {'sessions':>10}  {'log records':>11}  {'cost (USD)':>14}  check",
        file=out,
    )
    for c in report.checks:
        verdict = "ok" if not c.mismatches else "MISMATCH"
        print(
            f"  {c.project_id:<{width}}  {c.destination.spans:>12,}  {c.destination.sessions:>10,}"
            f"  {c.destination.logs:>11,}  {c.destination_totals.get('cost') or '0':>14}  {verdict}",
            file=out,
        )
        for problem in c.mismatches:
            print(f"    {problem}", file=out)
    if report.ok:
        print(
            f"  counts match: {len(report.checks)} project(s), spans, sessions, log records and REST overview totals",
            file=out,
        )
    else:
        print(
            "  counts differ (above): did the destination hold sessions of these projects before? Run again to"
            " continue an interrupted copy; nothing is counted twice.",
            file=out,
        )


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    try:
        if args.batch_spans < 1:
            raise MigrationError("--batch-spans must be at least 1")
        for url, role in ((args.source, "from"), (args.destination, "to")):
            try:
                scheme_of(url)
            except StoreURLError as exc:
                raise MigrationError(f"--{role}: {exc}") from None
        if _same_store(args.source, args.destination):
            raise MigrationError("--from and --to name the same store")
        if scheme_of(args.source) == scheme_of(args.destination) == "chdb":
            raise MigrationError(
                "chDB opens one path per process: copy between two chdb:// stores through a sqlite:// one"
            )
        path = args.checkpoint or default_checkpoint(args.source, args.destination)
        shown = (redact_url(args.source), redact_url(args.destination))
        checkpoint = Checkpoint(*shown) if args.restart else Checkpoint.load(path, *shown)
        source = _open(args.source, "from")
        try:
            destination = _open(args.destination, "to")
        except BaseException:
            source.close()
            raise
    except MigrationError as exc:
        print(f"agentops-otel migrate: {exc}", file=sys.stderr)
        return 2
    try:
        report = migrate(source, destination, checkpoint, path, batch_spans=args.batch_spans)
    except KeyboardInterrupt:
        print(
            f"agentops-otel migrate: interrupted after {checkpoint.spans_copied:,} spans;"
            f" the same command continues from there (checkpoint {path})",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        print(
            f"agentops-otel migrate: stopped after {checkpoint.spans_copied:,} spans: {redact_url(str(exc))};"
            f" the same command continues from there (checkpoint {path})",
            file=sys.stderr,
        )
        return 1
    finally:
        destination.close()  # commits what was queued
        source.close()
    _print_report(report, args.source, args.destination, path, out)
    return 0 if report.ok else 1
