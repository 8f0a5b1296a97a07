"""Hot-state engines chosen by the ``state:`` URL, each imported only when chosen."""

from __future__ import annotations

from .base import BreakerSettings, BreakerStore, Counters, LedgerStore
from .memory import MemoryBreakerStore, MemoryCounters

__all__ = ["open_breaker_store", "open_counters", "open_ledger"]


def open_breaker_store(url: str, settings: BreakerSettings) -> BreakerStore:
    """``memory://`` for one process; ``redis://host:port/db`` shared by many."""
    if url.startswith("memory://"):
        return MemoryBreakerStore(settings)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis import RedisBreakerStore
        except ImportError:
            raise ImportError("state: redis:// needs the redis extra: pip install 'keel[redis]'") from None
        return RedisBreakerStore.from_url(url, settings)
    raise ValueError(f"unknown state URL {url.split('://')[0]}://; use memory:// or redis://")


def open_counters(url: str) -> Counters:
    """Budget and rate-limit counters for the ``state:`` URL."""
    if url.startswith("memory://"):
        return MemoryCounters()
    try:
        from .redis import RedisCounters
    except ImportError:
        raise ImportError("state: redis:// needs the redis extra: pip install 'keel[redis]'") from None
    return RedisCounters.from_url(url)


def open_ledger(url: str) -> LedgerStore:
    """The ledger for the ``database:`` URL; nothing is opened until the first record."""
    if url.startswith("sqlite:///"):
        from .sqlite_ledger import SQLiteLedger, sqlite_path

        return SQLiteLedger(sqlite_path(url))
    raise ValueError(f"database: {url.split('://')[0]}:// has no ledger engine in this build yet")
