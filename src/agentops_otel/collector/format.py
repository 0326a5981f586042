"""How the REST API writes values: ISO 8601 UTC timestamps, exact decimal money, hex/UUID ids."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

from agentops_otel.meaning import MONEY_CONTEXT, money

__all__ = ["MONEY_CONTEXT", "add_money", "iso", "money", "parse_iso", "parse_session_id", "session_uuid"]


def add_money(a: str | None, b: str | None) -> str:
    return money(MONEY_CONTEXT.add(Decimal(a or 0), Decimal(b or 0)))


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")


def parse_iso(text: str) -> int:
    """Nanoseconds since the epoch from an ISO 8601 string (naive means UTC); ValueError if bad."""
    text = text.strip()
    if "T" in text and " " in text:  # a "+01:00" offset whose "+" a query string turned into a space
        text = text.replace(" ", "+")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000) * 1000


def session_uuid(trace_id: bytes) -> str:
    return str(uuid.UUID(bytes=trace_id))


def parse_session_id(text: str) -> bytes:
    """Trace id bytes for a session id (UUID, with or without dashes); ValueError if malformed."""
    value = uuid.UUID(text)
    if value.int == 0:
        raise ValueError("the all-zero id is not a session id")
    return value.bytes
