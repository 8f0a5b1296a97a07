"""Feature flags in PostgreSQL (``database: postgresql://…``), shared by replicas.

A change is one transaction: the flag's row locked (``FOR UPDATE``) and compared with the revision
expected, the change recorded, the store revision incremented.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg  # type: ignore[import-untyped]

from ..flags.flag import Flag
from ..flags.store import FlagChange, FlagSnapshot, change_of, flag_of, spec_text
from .postgres import connect
from .sqlite_flags import _conflict

__all__ = ["PostgresFlagStore"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE flags (
            name text PRIMARY KEY, spec text NOT NULL, revision bigint NOT NULL,
            updated_at double precision NOT NULL, updated_by text NOT NULL
        )
        """,
        """
        CREATE TABLE flag_changes (
            id bigserial PRIMARY KEY, name text NOT NULL, action text NOT NULL, before text, after text,
            changed_by text NOT NULL, changed_at double precision NOT NULL
        )
        """,
        "CREATE INDEX flag_changes_name ON flag_changes (name, id)",
        "CREATE TABLE flag_revision (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL)",
        "INSERT INTO flag_revision (id, revision) VALUES (1, 0)",
    ),
)


class PostgresFlagStore:
    """Flags in PostgreSQL; the pool opens, and migrates, on first use."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _conn(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await connect(self._dsn, "flags", _MIGRATIONS, max_size=4)
        return self._pool

    async def revision(self) -> int:
        pool = await self._conn()
        return int(await pool.fetchval("SELECT revision FROM flag_revision WHERE id = 1") or 0)

    async def snapshot(self) -> FlagSnapshot:
        pool = await self._conn()
        async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
            snapshot = FlagSnapshot(
                int(await connection.fetchval("SELECT revision FROM flag_revision WHERE id = 1") or 0)
            )
            for row in await connection.fetch("SELECT name, spec, revision FROM flags"):
                snapshot.flags[row["name"]] = flag_of(row["spec"])
                snapshot.revisions[row["name"]] = int(row["revision"])
        return snapshot

    async def put(self, flag: Flag | None, *, name: str, expected: int | None, by: str, action: str) -> int:
        pool = await self._conn()
        now, after = time.time(), spec_text(flag)
        async with pool.acquire() as connection, connection.transaction():
            # The store's revision row first: concurrent changes queue here, so a new flag's insert
            # cannot race another's.
            await connection.execute("SELECT revision FROM flag_revision WHERE id = 1 FOR UPDATE")
            row = await connection.fetchrow("SELECT spec, revision FROM flags WHERE name = $1", name)
            before, revision = (row["spec"], int(row["revision"])) if row else (None, None)
            if revision != expected:
                raise _conflict(name, revision, expected)
            new = (revision or 0) + 1
            if flag is None:
                await connection.execute("DELETE FROM flags WHERE name = $1", name)
            else:
                await connection.execute(
                    "INSERT INTO flags (name, spec, revision, updated_at, updated_by) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE "
                    "SET spec = $2, revision = $3, updated_at = $4, updated_by = $5",
                    name, after, new, now, by,
                )  # fmt: skip
            await connection.execute(
                "INSERT INTO flag_changes (name, action, before, after, changed_by, changed_at) "
                "VALUES ($1,$2,$3,$4,$5,$6)",
                name, action, before, after, by, now,
            )  # fmt: skip
            await connection.execute("UPDATE flag_revision SET revision = revision + 1 WHERE id = 1")
        return new

    async def history(self, name: str, limit: int = 100) -> list[FlagChange]:
        pool = await self._conn()
        rows = await pool.fetch(
            "SELECT name, action, before, after, changed_by, changed_at FROM flag_changes WHERE name = $1 "
            "ORDER BY id DESC LIMIT $2",
            name,
            limit,
        )
        return [change_of(tuple(row)) for row in rows]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
