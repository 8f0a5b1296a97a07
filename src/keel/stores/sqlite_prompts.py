"""Prompt versions and labels in a SQLite file (``database: sqlite:///keel.db``), beside the ledger.

A label move is one ``BEGIN IMMEDIATE`` transaction: a conditional update (the compare-and-set), the
move's record and the revision's increment commit together or not at all.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiosqlite
import orjson

from ..errors import PromptError, PromptLabelConflictError
from ..prompts.store import LabelMove, PromptSnapshot, Target, columns, move_of, shown, target_of, version_of
from ..prompts.version import PromptVersion
from .sqlite import connect

__all__ = ["SQLitePromptStore"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE prompt_versions (
            name TEXT NOT NULL, version INTEGER NOT NULL, spec TEXT NOT NULL,
            created_at REAL NOT NULL, created_by TEXT NOT NULL,
            PRIMARY KEY (name, version)
        )
        """,
        """
        CREATE TABLE prompt_labels (
            name TEXT NOT NULL, label TEXT NOT NULL, version INTEGER, updated_at REAL NOT NULL,
            PRIMARY KEY (name, label)
        )
        """,
        """
        CREATE TABLE prompt_label_moves (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, label TEXT NOT NULL,
            from_version INTEGER, to_version INTEGER, moved_by TEXT NOT NULL, moved_at REAL NOT NULL,
            reason TEXT NOT NULL
        )
        """,
        "CREATE INDEX prompt_label_moves_name ON prompt_label_moves (name, label, id)",
        "CREATE TABLE prompt_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL)",
        "INSERT INTO prompt_revision (id, revision) VALUES (1, 0)",
    ),
    (  # 2: a label may split traffic across versions (A/B): its bucket ranges, as canonical JSON
        "ALTER TABLE prompt_labels ADD COLUMN split TEXT",
        "ALTER TABLE prompt_label_moves ADD COLUMN from_split TEXT",
        "ALTER TABLE prompt_label_moves ADD COLUMN to_split TEXT",
    ),
)


class SQLitePromptStore:
    """Prompts in one SQLite file; the connection opens, and migrates, on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._write = asyncio.Lock()

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    self._db = await connect(self.path, "prompts", _MIGRATIONS)
        return self._db

    async def revision(self) -> int:
        db = await self._conn()
        async with db.execute("SELECT revision FROM prompt_revision WHERE id = 1") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def snapshot(self) -> PromptSnapshot:
        db = await self._conn()
        async with self._write:  # one read transaction: versions and labels of one revision
            await db.execute("BEGIN")
            try:
                snapshot = PromptSnapshot(await self.revision())
                async with db.execute("SELECT name, version, spec FROM prompt_versions") as cursor:
                    for name, number, spec in await cursor.fetchall():
                        snapshot.versions.setdefault(name, {})[number] = version_of(name, number, spec)
                async with db.execute("SELECT name, label, version, split FROM prompt_labels") as cursor:
                    for name, label, number, split in await cursor.fetchall():
                        snapshot.known_labels.add((name, label))
                        target = target_of(number, split)
                        if target is not None:
                            snapshot.labels.setdefault(name, {})[label] = target
            finally:
                await db.execute("COMMIT")
        return snapshot

    async def add_version(self, version: PromptVersion, *, by: str) -> None:
        db = await self._conn()
        spec = orjson.dumps(version.spec()).decode()
        async with self._write:
            await db.execute("BEGIN IMMEDIATE")
            try:
                await db.execute(
                    "INSERT INTO prompt_versions (name, version, spec, created_at, created_by) "
                    "VALUES (?,?,?,?,?)",
                    (version.name, version.version, spec, time.time(), by),
                )
                await db.execute("UPDATE prompt_revision SET revision = revision + 1 WHERE id = 1")
            except sqlite3.IntegrityError:
                await db.execute("ROLLBACK")
                raise PromptError(
                    f"prompt {version.name!r} already has version {version.version} in the database",
                    param="version",
                ) from None
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def move_label(
        self, name: str, label: str, to: Target, *, expected: Target, by: str, reason: str = "move"
    ) -> LabelMove:
        db = await self._conn()
        now = time.time()
        (to_version, to_split), (was_version, was_split) = columns(to), columns(expected)
        async with self._write:
            await db.execute("BEGIN IMMEDIATE")
            try:
                async with db.execute(
                    "UPDATE prompt_labels SET version = ?, split = ?, updated_at = ? WHERE name = ? "
                    "AND label = ? AND version IS ? AND split IS ?",
                    (to_version, to_split, now, name, label, was_version, was_split),
                ) as cursor:
                    moved = cursor.rowcount
                if moved == 0 and expected is None:
                    async with db.execute(
                        "INSERT INTO prompt_labels (name, label, version, split, updated_at) "
                        "VALUES (?,?,?,?,?) ON CONFLICT (name, label) DO NOTHING",
                        (name, label, to_version, to_split, now),
                    ) as cursor:
                        moved = cursor.rowcount
                if moved == 0:
                    async with db.execute(
                        "SELECT version, split FROM prompt_labels WHERE name = ? AND label = ?", (name, label)
                    ) as cursor:
                        row = await cursor.fetchone()
                    raise _conflict(name, label, target_of(*row) if row else None, expected)
                await db.execute(
                    "INSERT INTO prompt_label_moves (name, label, from_version, to_version, moved_by, "
                    "moved_at, reason, from_split, to_split) VALUES (?,?,?,?,?,?,?,?,?)",
                    (name, label, was_version, to_version, by, now, reason, was_split, to_split),
                )
                await db.execute("UPDATE prompt_revision SET revision = revision + 1 WHERE id = 1")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return LabelMove(name, label, expected, to, by, now, reason)

    async def history(self, name: str, label: str | None = None, limit: int = 100) -> list[LabelMove]:
        db = await self._conn()
        sql = (
            "SELECT name, label, from_version, from_split, to_version, to_split, moved_by, moved_at, reason "
            "FROM prompt_label_moves WHERE name = ?"
        )
        params: list[object] = [name]
        if label is not None:
            sql += " AND label = ?"
            params.append(label)
        async with db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)) as cursor:
            return [move_of(row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


def _conflict(name: str, label: str, current: Target, expected: Target) -> PromptLabelConflictError:
    return PromptLabelConflictError(
        f"label {label!r} of prompt {name!r} points at {shown(current)}, not {shown(expected)}: "
        "it moved meanwhile; read it again and retry",
        param="expected",
    )
