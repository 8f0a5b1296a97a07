"""Virtual keys in PostgreSQL (``database: postgresql://…``), through an asyncpg pool.

Tables go in the connection's ``search_path`` (``postgresql://…/db?search_path=keel`` picks a
schema). Migrations are numbered, recorded in ``schema_version``, and serialised across processes
and replicas by a transaction-scoped advisory lock.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from ..keys import VirtualKey, issue_key

__all__ = ["PostgresKeyStore", "connect", "migrate"]

_KEY_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE virtual_keys (
            id text PRIMARY KEY,
            key_hash text NOT NULL UNIQUE,
            hint text NOT NULL,
            name text NOT NULL,
            team text,
            models text[],
            metadata jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            expires_at timestamptz,
            revoked_at timestamptz
        )
        """,
        "CREATE INDEX virtual_keys_team ON virtual_keys (team, created_at)",
    ),
)
_COLUMNS = "id, key_hash, hint, name, team, models, metadata::text, created_at, expires_at, revoked_at"
_MIGRATION_LOCK = 0x6B65656C  # "keel": one advisory lock id for every Keel migration


class PostgresKeyStore:
    """Virtual keys in PostgreSQL; the pool opens, and migrates, on first use."""

    def __init__(self, dsn: str, *, max_connections: int = 10) -> None:
        self._dsn = dsn
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _conn(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await connect(self._dsn, "keys", _KEY_MIGRATIONS, max_size=self._max)
        return self._pool

    async def create(
        self,
        name: str,
        *,
        team: str | None = None,
        models: Iterable[str] | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[VirtualKey, str]:
        record, secret = issue_key(name, team=team, models=models, expires_at=expires_at, metadata=metadata)
        pool = await self._conn()
        await pool.execute(
            "INSERT INTO virtual_keys (id, key_hash, hint, name, team, models, metadata, created_at, "
            "expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)",
            record.id,
            record.key_hash,
            record.hint,
            record.name,
            record.team,
            None if record.models is None else list(record.models),
            orjson.dumps(dict(record.metadata)).decode(),
            record.created_at,
            record.expires_at,
            record.revoked_at,
        )
        return record, secret

    async def get(self, key_id: str) -> VirtualKey | None:
        return await self._one(f"SELECT {_COLUMNS} FROM virtual_keys WHERE id = $1", key_id)

    async def find_by_hash(self, key_hash: str) -> VirtualKey | None:
        return await self._one(f"SELECT {_COLUMNS} FROM virtual_keys WHERE key_hash = $1", key_hash)

    async def list(self, team: str | None = None, include_revoked: bool = False) -> builtins.list[VirtualKey]:
        where, params = [], []
        if team is not None:
            if "\x00" in team:  # PostgreSQL text cannot hold NUL, so no team has it
                return []
            params.append(team)
            where.append(f"team = ${len(params)}")
        if not include_revoked:
            where.append("revoked_at IS NULL")
        sql = f"SELECT {_COLUMNS} FROM virtual_keys"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        pool = await self._conn()
        return [_record(row) for row in await pool.fetch(sql + " ORDER BY created_at, id", *params)]

    async def revoke(self, key_id: str) -> bool:
        if "\x00" in key_id:
            return False
        pool = await self._conn()
        status = await pool.execute(
            "UPDATE virtual_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", key_id
        )
        return bool(status != "UPDATE 0")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _one(self, sql: str, value: str) -> VirtualKey | None:
        if "\x00" in value:
            return None
        pool = await self._conn()
        row = await pool.fetchrow(sql, value)
        return None if row is None else _record(row)


async def connect(
    dsn: str, component: str, migrations: Sequence[Sequence[str]], *, max_size: int = 10
) -> asyncpg.Pool:
    """A pool for ``dsn`` with ``component``'s schema up to date."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, component, migrations)
    except BaseException:
        await pool.close()
        raise
    return pool


async def migrate(
    connection: asyncpg.Connection, component: str, migrations: Sequence[Sequence[str]]
) -> None:
    """Apply the ``component``'s migrations newer than its row in ``schema_version``, atomically."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (component text PRIMARY KEY, version integer NOT NULL)"
        )
        current = await connection.fetchval(
            "SELECT version FROM schema_version WHERE component = $1", component
        )
        current = current or 0
        if current > len(migrations):
            raise RuntimeError(
                f"the database's {component} schema is version {current}, newer than this Keel knows "
                f"({len(migrations)}); upgrade Keel"
            )
        for statements in migrations[current:]:
            for statement in statements:
                await connection.execute(statement)
        await connection.execute(
            "INSERT INTO schema_version (component, version) VALUES ($1, $2) "
            "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            component,
            len(migrations),
        )


def _record(row: Any) -> VirtualKey:
    key_id, key_hash, hint, name, team, models, metadata, created, expires, revoked = row
    return VirtualKey(
        id=key_id,
        name=name,
        key_hash=key_hash,
        hint=hint,
        created_at=created,
        team=team,
        models=None if models is None else tuple(models),
        expires_at=expires,
        revoked_at=revoked,
        metadata=MappingProxyType(orjson.loads(metadata)),
    )
