"""Prompt versions and labels in PostgreSQL (``database: postgresql://…``), shared by replicas.

A label move is one transaction: a conditional update (the compare-and-set; a new label's insert
loses to a concurrent one on the primary key), the move's record and the revision's increment.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg  # type: ignore[import-untyped]
import orjson

from ..errors import PromptError, PromptLabelConflictError
from ..prompts.store import LabelMove, PromptSnapshot, Target, columns, move_of, shown, target_of, version_of
from ..prompts.version import PromptVersion
from .postgres import connect

__all__ = ["PostgresPromptStore"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE prompt_versions (
            name text NOT NULL, version integer NOT NULL, spec jsonb NOT NULL,
            created_at double precision NOT NULL, created_by text NOT NULL,
            PRIMARY KEY (name, version)
        )
        """,
        """
        CREATE TABLE prompt_labels (
            name text NOT NULL, label text NOT NULL, version integer,
            updated_at double precision NOT NULL, PRIMARY KEY (name, label)
        )
        """,
        """
        CREATE TABLE prompt_label_moves (
            id bigserial PRIMARY KEY, name text NOT NULL, label text NOT NULL,
            from_version integer, to_version integer, moved_by text NOT NULL,
            moved_at double precision NOT NULL, reason text NOT NULL
        )
        """,
        "CREATE INDEX prompt_label_moves_name ON prompt_label_moves (name, label, id)",
        "CREATE TABLE prompt_revision (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL)",
        "INSERT INTO prompt_revision (id, revision) VALUES (1, 0)",
    ),
    (  # 2: a label may split traffic across versions (A/B): its bucket ranges, as canonical JSON
        "ALTER TABLE prompt_labels ADD COLUMN split text",
        "ALTER TABLE prompt_label_moves ADD COLUMN from_split text",
        "ALTER TABLE prompt_label_moves ADD COLUMN to_split text",
    ),
)
_BUMP = "UPDATE prompt_revision SET revision = revision + 1 WHERE id = 1"


class PostgresPromptStore:
    """Prompts in PostgreSQL; the pool opens, and migrates, on first use."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _conn(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await connect(self._dsn, "prompts", _MIGRATIONS, max_size=4)
        return self._pool

    async def revision(self) -> int:
        pool = await self._conn()
        return int(await pool.fetchval("SELECT revision FROM prompt_revision WHERE id = 1") or 0)

    async def snapshot(self) -> PromptSnapshot:
        pool = await self._conn()
        async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
            snapshot = PromptSnapshot(
                int(await connection.fetchval("SELECT revision FROM prompt_revision WHERE id = 1") or 0)
            )
            for row in await connection.fetch("SELECT name, version, spec::text FROM prompt_versions"):
                name, number = row["name"], row["version"]
                snapshot.versions.setdefault(name, {})[number] = version_of(name, number, row["spec"])
            for row in await connection.fetch("SELECT name, label, version, split FROM prompt_labels"):
                snapshot.known_labels.add((row["name"], row["label"]))
                target = target_of(row["version"], row["split"])
                if target is not None:
                    snapshot.labels.setdefault(row["name"], {})[row["label"]] = target
        return snapshot

    async def add_version(self, version: PromptVersion, *, by: str) -> None:
        pool = await self._conn()
        try:
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute(
                    "INSERT INTO prompt_versions (name, version, spec, created_at, created_by) "
                    "VALUES ($1, $2, $3::jsonb, $4, $5)",
                    version.name,
                    version.version,
                    orjson.dumps(version.spec()).decode(),
                    time.time(),
                    by,
                )
                await connection.execute(_BUMP)
        except asyncpg.UniqueViolationError:
            raise PromptError(
                f"prompt {version.name!r} already has version {version.version} in the database",
                param="version",
            ) from None

    async def move_label(
        self, name: str, label: str, to: Target, *, expected: Target, by: str, reason: str = "move"
    ) -> LabelMove:
        pool = await self._conn()
        now = time.time()
        (to_version, to_split), (was_version, was_split) = columns(to), columns(expected)
        async with pool.acquire() as connection, connection.transaction():
            status = await connection.execute(
                "UPDATE prompt_labels SET version = $1, split = $2, updated_at = $3 WHERE name = $4 "
                "AND label = $5 AND version IS NOT DISTINCT FROM $6 AND split IS NOT DISTINCT FROM $7",
                to_version,
                to_split,
                now,
                name,
                label,
                was_version,
                was_split,
            )
            moved = status != "UPDATE 0"
            if not moved and expected is None:
                status = await connection.execute(
                    "INSERT INTO prompt_labels (name, label, version, split, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, label) DO NOTHING",
                    name,
                    label,
                    to_version,
                    to_split,
                    now,
                )
                moved = status != "INSERT 0 0"
            if not moved:
                row = await connection.fetchrow(
                    "SELECT version, split FROM prompt_labels WHERE name = $1 AND label = $2", name, label
                )
                current = target_of(row["version"], row["split"]) if row else None
                raise PromptLabelConflictError(
                    f"label {label!r} of prompt {name!r} points at {shown(current)}, not {shown(expected)}: "
                    "it moved meanwhile; read it again and retry",
                    param="expected",
                )
            await connection.execute(
                "INSERT INTO prompt_label_moves (name, label, from_version, to_version, moved_by, moved_at, "
                "reason, from_split, to_split) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                name,
                label,
                was_version,
                to_version,
                by,
                now,
                reason,
                was_split,
                to_split,
            )
            await connection.execute(_BUMP)
        return LabelMove(name, label, expected, to, by, now, reason)

    async def history(self, name: str, label: str | None = None, limit: int = 100) -> list[LabelMove]:
        pool = await self._conn()
        sql = (
            "SELECT name, label, from_version, from_split, to_version, to_split, moved_by, moved_at, reason "
            "FROM prompt_label_moves WHERE name = $1"
        )
        params: list[object] = [name]
        if label is not None:
            params.append(label)
            sql += f" AND label = ${len(params)}"
        params.append(limit)
        rows = await pool.fetch(sql + f" ORDER BY id DESC LIMIT ${len(params)}", *params)
        return [move_of(row) for row in rows]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
