"""Session stores behind one interface (:class:`Store`); SQLite is the embedded default."""

from agentops_otel.collector.store.base import ListQuery, Store, WriteResult
from agentops_otel.collector.store.sqlite import SQLiteStore

__all__ = ["ListQuery", "SQLiteStore", "Store", "WriteResult"]
