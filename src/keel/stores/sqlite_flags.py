"""Feature flags in a SQLite file (``database: sqlite:///keel.db``), beside the ledger and prompts.

A change is one ``BEGIN IMMEDIATE`` transaction: the flag's compare-and-set on its revision, the
change's record and the store revision's increment commit together or not at all.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiosqlite

from ..errors import FlagConflictError
from ..flags.flag import Flag
from ..flags.store import FlagChange, FlagSnapshot, change_of, flag_of, spec_text
from .sqlite import connect

__all__ = ["SQLiteFlagStore"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE flags (
            name TEXT PRIMARY KEY, spec TEXT NOT NULL, revision INTEGER NOT NULL,
            updated_at REAL NOT NULL, updated_by TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE flag_changes (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, action TEXT NOT NULL, before TEXT, after TEXT,
            changed_by TEXT NOT NULL, changed_at REAL NOT NULL
        )
        """,
        "CREATE INDEX flag_changes_name ON flag_changes (name, id)",
        "CREATE TABLE flag_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL)",
        "INSERT INTO flag_revision (id, revision) VALUES (1, 0)",
    ),
)


class SQLiteFlagStore:
    """Flags in one SQLite file; the connection opens, and migrates, on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._write = asyncio.Lock()

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    self._db = await connect(self.path, "flags", _MIGRATIONS)
        return self._db

    async def revision(self) -> int:
        db = await self._conn()
        async with db.execute("SELECT revision FROM flag_revision WHERE id = 1") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def snapshot(self) -> FlagSnapshot:
        db = await self._conn()
        async with self._write:  # one read transaction: the flags of one revision
            await db.execute("BEGIN")
            try:
                snapshot = FlagSnapshot(await self.revision())
                async with db.execute("SELECT name, spec, revision FROM flags") as cursor:
                    for name, spec, revision in await cursor.fetchall():
                        snapshot.flags[name], snapshot.revisions[name] = flag_of(spec), revision
            finally:
                await db.execute("COMMIT")
        return snapshot

    async def put(self, flag: Flag | None, *, name: str, expected: int | None, by: str, action: str) -> int:
        db = await self._conn()
        now, after = time.time(), spec_text(flag)
        async with self._write:
            await db.execute("BEGIN IMMEDIATE")
            try:
                async with db.execute("SELECT spec, revision FROM flags WHERE name = ?", (name,)) as cursor:
                    row = await cursor.fetchone()
                before, revision = (row[0], row[1]) if row else (None, None)
                if revision != expected:
                    raise _conflict(name, revision, expected)
                new = (revision or 0) + 1
                if flag is None:
                    await db.execute("DELETE FROM flags WHERE name = ?", (name,))
                elif row is None:
                    await db.execute(
                        "INSERT INTO flags (name, spec, revision, updated_at, updated_by) VALUES (?,?,?,?,?)",
                        (name, after, new, now, by),
                    )
                else:
                    await db.execute(
                        "UPDATE flags SET spec = ?, revision = ?, updated_at = ?, updated_by = ? "
                        "WHERE name = ?",
                        (after, new, now, by, name),
                    )
                await db.execute(
                    "INSERT INTO flag_changes (name, action, before, after, changed_by, changed_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (name, action, before, after, by, now),
                )
                await db.execute("UPDATE flag_revision SET revision = revision + 1 WHERE id = 1")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return new

    async def history(self, name: str, limit: int = 100) -> list[FlagChange]:
        db = await self._conn()
        async with db.execute(
            "SELECT name, action, before, after, changed_by, changed_at FROM flag_changes WHERE name = ? "
            "ORDER BY id DESC LIMIT ?",
            (name, limit),
        ) as cursor:
            return [change_of(row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


def _conflict(name: str, revision: int | None, expected: int | None) -> FlagConflictError:
    now = "does not exist" if revision is None else f"is at revision {revision}"
    was = "not to exist" if expected is None else f"revision {expected}"
    return FlagConflictError(
        f"flag {name!r} {now}, expected {was}: it changed meanwhile; read it again and retry",
        param="expected",
    )
