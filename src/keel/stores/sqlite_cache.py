"""Cache entries in a SQLite file (``cache.backend: sqlite:///cache.db``): a persistent single-node cache.

Expired rows are ignored on read and swept on write, at most once a minute. The file uses the same
connection setup (WAL, busy timeout, numbered migrations) as the key store.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiosqlite

from .base import MapStats
from .sqlite import connect

__all__ = ["SQLiteTTLMap"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE cache_entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL)",
        "CREATE INDEX cache_entries_expiry ON cache_entries (expires_at)",
    ),
)
_SWEEP_EVERY = 60.0


class SQLiteTTLMap:
    """A ``TTLMap`` in one SQLite file; expiry is wall-clock time, so it survives restarts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._swept = 0.0

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    self._db = await connect(self.path, "cache", _MIGRATIONS)
        return self._db

    async def get(self, key: str) -> bytes | None:
        db = await self._conn()
        sql = "SELECT value FROM cache_entries WHERE key = ? AND expires_at > ?"
        async with db.execute(sql, (key, time.time())) as cursor:
            row = await cursor.fetchone()
        return None if row is None else bytes(row[0])

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        db = await self._conn()
        now = time.time()
        await db.execute(
            "INSERT INTO cache_entries (key, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            (key, value, now + ttl_s),
        )
        if now - self._swept > _SWEEP_EVERY:
            self._swept = now
            await db.execute("DELETE FROM cache_entries WHERE expires_at <= ?", (now,))

    async def delete(self, key: str) -> None:
        db = await self._conn()
        await db.execute("DELETE FROM cache_entries WHERE key = ?", (key,))

    async def clear(self, pattern: str = "*") -> int:
        db = await self._conn()
        async with db.execute("DELETE FROM cache_entries WHERE key GLOB ?", (pattern,)) as cursor:
            return cursor.rowcount

    async def stats(self, pattern: str = "*") -> MapStats:
        db = await self._conn()
        sql = (
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM cache_entries "
            "WHERE key GLOB ? AND expires_at > ?"
        )
        async with db.execute(sql, (pattern, time.time())) as cursor:
            row = await cursor.fetchone()
        return MapStats(entries=int(row[0]), bytes=int(row[1])) if row else MapStats(0, 0)

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
