"""Virtual keys in a SQLite file (``database: sqlite:///keel.db``): WAL, numbered migrations.

Several processes may share the file (``keel serve`` and ``keel keys`` on the operator's machine):
WAL lets readers run beside one writer, a busy timeout makes writers wait for each other instead
of failing, and migrations run inside ``BEGIN IMMEDIATE`` so two processes never apply one twice.
"""

from __future__ import annotations

import asyncio
import builtins
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiosqlite
import orjson

from ..keys import VirtualKey, issue_key

__all__ = ["SQLiteKeyStore", "connect", "migrate"]

_KEY_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE virtual_keys (
            id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            hint TEXT NOT NULL,
            name TEXT NOT NULL,
            team TEXT,
            models TEXT,
            metadata TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        )
        """,
        "CREATE INDEX virtual_keys_team ON virtual_keys (team, created_at)",
    ),
)
_COLUMNS = "id, key_hash, hint, name, team, models, metadata, created_at, expires_at, revoked_at"
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order


class SQLiteKeyStore:
    """Virtual keys in one SQLite file; the connection opens, and migrates, on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    self._db = await connect(self.path, "keys", _KEY_MIGRATIONS)
        return self._db

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
        db = await self._conn()
        await db.execute(f"INSERT INTO virtual_keys ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", _row(record))
        return record, secret

    async def get(self, key_id: str) -> VirtualKey | None:
        return await self._one("SELECT " + _COLUMNS + " FROM virtual_keys WHERE id = ?", key_id)

    async def find_by_hash(self, key_hash: str) -> VirtualKey | None:
        return await self._one("SELECT " + _COLUMNS + " FROM virtual_keys WHERE key_hash = ?", key_hash)

    async def list(self, team: str | None = None, include_revoked: bool = False) -> builtins.list[VirtualKey]:
        where, params = [], []
        if team is not None:
            where.append("team = ?")
            params.append(team)
        if not include_revoked:
            where.append("revoked_at IS NULL")
        sql = f"SELECT {_COLUMNS} FROM virtual_keys"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        db = await self._conn()
        async with db.execute(sql + " ORDER BY created_at, id", params) as cursor:
            return [_record(row) for row in await cursor.fetchall()]

    async def revoke(self, key_id: str) -> bool:
        db = await self._conn()
        now = datetime.now(UTC).strftime(_TIME)
        sql = "UPDATE virtual_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"
        async with db.execute(sql, (now, key_id)) as cursor:
            return cursor.rowcount > 0

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _one(self, sql: str, value: str) -> VirtualKey | None:
        db = await self._conn()
        async with db.execute(sql, (value,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _record(row)


async def connect(path: Path, component: str, migrations: Sequence[Sequence[str]]) -> aiosqlite.Connection:
    """An autocommit connection to ``path`` in WAL mode, with ``component``'s schema up to date."""
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await db.execute("PRAGMA busy_timeout=10000")
        await _use_wal(db)
        await db.execute("PRAGMA synchronous=NORMAL")
        await migrate(db, component, migrations)
    except BaseException:
        await db.close()
        raise
    return db


async def _use_wal(db: aiosqlite.Connection, patience: float = 10.0) -> None:
    """Switch the file to WAL (a lasting property of the file). The switch needs the file to itself
    and SQLite does not wait for that, so a process opening a new file beside another one retries."""
    deadline = time.monotonic() + patience
    while True:
        try:
            async with db.execute("PRAGMA journal_mode=WAL") as cursor:
                row = await cursor.fetchone()
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
    mode = str(row[0]).lower() if row else "unknown"
    if mode not in ("wal", "memory"):
        raise RuntimeError(f"SQLite could not use WAL mode for this file (journal_mode is {mode})")


async def migrate(db: aiosqlite.Connection, component: str, migrations: Sequence[Sequence[str]]) -> None:
    """Apply the ``component``'s migrations newer than its row in ``schema_version``, atomically.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    await db.execute("BEGIN IMMEDIATE")
    try:
        async with db.execute("SELECT version FROM schema_version WHERE component = ?", (component,)) as cur:
            row = await cur.fetchone()
        current = row[0] if row else 0
        if current > len(migrations):
            raise RuntimeError(
                f"the database's {component} schema is version {current}, newer than this Keel knows "
                f"({len(migrations)}); upgrade Keel"
            )
        for statements in migrations[current:]:
            for statement in statements:
                await db.execute(statement)
        await db.execute(
            "INSERT INTO schema_version (component, version) VALUES (?, ?) "
            "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            (component, len(migrations)),
        )
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise


def _row(record: VirtualKey) -> tuple[Any, ...]:
    return (
        record.id,
        record.key_hash,
        record.hint,
        record.name,
        record.team,
        None if record.models is None else orjson.dumps(list(record.models)).decode(),
        orjson.dumps(dict(record.metadata)).decode(),
        _text(record.created_at),
        _text(record.expires_at),
        _text(record.revoked_at),
    )


def _record(row: Sequence[Any]) -> VirtualKey:
    key_id, key_hash, hint, name, team, models, metadata, created, expires, revoked = row
    return VirtualKey(
        id=key_id,
        name=name,
        key_hash=key_hash,
        hint=hint,
        created_at=_time(created),
        team=team,
        models=None if models is None else tuple(orjson.loads(models)),
        expires_at=None if expires is None else _time(expires),
        revoked_at=None if revoked is None else _time(revoked),
        metadata=MappingProxyType(orjson.loads(metadata)),
    )


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime(_TIME)


def _time(text: str) -> datetime:
    return datetime.strptime(text, _TIME).replace(tzinfo=UTC)
