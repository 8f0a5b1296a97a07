"""Engines chosen by URL (hot state by ``state:``, records by ``database:``), imported only when chosen."""

from __future__ import annotations

import importlib
from types import ModuleType

from .base import BreakerSettings, BreakerStore, Counters, KeyStore, LedgerStore, LockNotify, TTLMap
from .memory import MemoryBreakerStore, MemoryCounters

__all__ = [
    "open_breaker_store",
    "open_cache_map",
    "open_counters",
    "open_key_store",
    "open_ledger",
    "open_locks",
]


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


def open_cache_map(url: str, *, max_bytes: int) -> TTLMap:
    """Cache entries: ``memory://`` (an LRU of ``max_bytes``), ``sqlite:///cache.db`` or ``redis://…``."""
    if url.startswith("memory://"):
        from .memory_cache import MemoryTTLMap

        return MemoryTTLMap(max_bytes)
    if url.startswith("sqlite:///"):
        from .sqlite_cache import SQLiteTTLMap
        from .sqlite_ledger import sqlite_path

        return SQLiteTTLMap(sqlite_path(url))
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis_cache import RedisTTLMap
        except ImportError:
            raise ImportError("cache: redis:// needs the redis extra: pip install 'keel[redis]'") from None
        return RedisTTLMap.from_url(url)
    raise ValueError(
        f"cache: unknown backend {url.split('://')[0]}://; use memory://, sqlite:/// or redis://"
    )


def open_locks(url: str) -> LockNotify | None:
    """Coalescing leases across processes: Redis only; ``None`` where one process is all there is."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    from .redis_cache import RedisLockNotify

    return RedisLockNotify.from_url(url)


def open_ledger(url: str) -> LedgerStore:
    """The ledger for the ``database:`` URL; nothing is opened until the first record."""
    if url.startswith("sqlite:///"):
        from .sqlite_ledger import SQLiteLedger, sqlite_path

        return SQLiteLedger(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        ledger: LedgerStore = _postgres("postgres_ledger").PostgresLedger(url)
        return ledger
    raise ValueError(
        f"database: {url.split('://')[0]}:// has no ledger; use sqlite:///keel.db or postgresql://…"
    )


def open_key_store(database_url: str, *, cache_ttl: float = 5.0, grace: float = 300.0) -> KeyStore:
    """The key store for ``database_url``; nothing is opened until first use.

    Args:
        database_url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``postgresql://…``
            (``?search_path=schema`` chooses a schema).
        cache_ttl: seconds a found key is remembered in this process (see ``CachedKeyStore``);
            0 turns the cache off.
        grace: seconds a key verified here is still accepted while the database is away.

    Raises:
        ValueError: the URL names no engine Keel has.
        ImportError: the engine's extra is not installed; the message says what to install.
    """
    store: KeyStore
    if database_url.startswith("sqlite:///"):
        from .sqlite import SQLiteKeyStore
        from .sqlite_ledger import sqlite_path

        store = SQLiteKeyStore(sqlite_path(database_url))
    elif database_url.startswith(("postgresql://", "postgres://")):
        store = _postgres("postgres").PostgresKeyStore(database_url)
    else:
        scheme = database_url.split("://")[0] + "://" if "://" in database_url else "a URL without a scheme"
        raise ValueError(f"database: {scheme} has no key store; use sqlite:///keel.db or postgresql://…")
    if cache_ttl > 0:
        from .cached_keys import CachedKeyStore

        store = CachedKeyStore(store, cache_ttl, grace=grace)
    return store


def _postgres(module: str) -> ModuleType:
    """``keel.stores.<module>`` (a PostgreSQL engine); without asyncpg, an ImportError that says
    which extra to install."""
    try:
        return importlib.import_module(f"{__package__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != "asyncpg":
            raise
        raise ImportError(
            "database: postgresql:// needs the postgres extra: pip install 'keel[postgres]'"
        ) from None
