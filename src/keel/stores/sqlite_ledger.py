"""The ledger in a SQLite file (``database: sqlite:///keel.db``): WAL, numbered migrations, spend queries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from ._ledger_spend import dimensions, spend_query, spend_rows
from .sqlite import connect

__all__ = ["CALL_COLUMNS", "LEDGER_COLUMNS", "SQLiteLedger", "sqlite_path"]

LEDGER_COLUMNS = (
    "request_id", "started_at", "status", "requested_model", "stream", "key_id", "team", "user", "route",
    "model", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
    "cost_usd", "latency_ms", "ttft_ms", "cache_hit", "coalesced", "error", "upstream_request_id", "prompt",
    "variant", "attempts", "validation", "reasks", "record_id", "prompt_version", "guards",
    "feature", "feature_variant", "content",
)  # fmt: skip

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            started_at REAL NOT NULL,
            status TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            stream INTEGER NOT NULL,
            key_id TEXT, team TEXT, user TEXT, route TEXT, model TEXT,
            input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost_usd TEXT NOT NULL, cost_nano INTEGER NOT NULL,
            latency_ms REAL NOT NULL, ttft_ms REAL, cache_hit INTEGER NOT NULL, coalesced INTEGER NOT NULL,
            error TEXT, upstream_request_id TEXT, prompt TEXT, variant TEXT, attempts TEXT NOT NULL
        )
        """,
        "CREATE INDEX ledger_started_at ON ledger (started_at)",
        "CREATE INDEX ledger_key_id ON ledger (key_id, started_at)",
        "CREATE INDEX ledger_team ON ledger (team, started_at)",
    ),
    (  # 2: structured output's outcome per call (issue 17)
        "ALTER TABLE ledger ADD COLUMN validation TEXT",
        "ALTER TABLE ledger ADD COLUMN reasks INTEGER",
    ),
    (  # 3: each record's own id, so a batch written again after a lost reply adds no row twice
        "ALTER TABLE ledger ADD COLUMN record_id TEXT",
        "CREATE UNIQUE INDEX ledger_record_id ON ledger (record_id)",
    ),
    (  # 4: the version of the named prompt a call used, beside its name (issue 18)
        "ALTER TABLE ledger ADD COLUMN prompt_version INTEGER",
        "CREATE INDEX ledger_prompt ON ledger (prompt, started_at)",
    ),
    (  # 5: callers' feedback on answers, by the answer's request id (issue 18)
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, score REAL NOT NULL, comment TEXT,
            key_id TEXT, created_at REAL NOT NULL
        )
        """,
        "CREATE INDEX feedback_request_id ON feedback (request_id)",
    ),
    (  # 6: the output guards that fired, and what each did (issue 20)
        "ALTER TABLE ledger ADD COLUMN guards TEXT",
    ),
    (  # 7: the feature a call named and the flag's variant it was served as (issue 19)
        "ALTER TABLE ledger ADD COLUMN feature TEXT",
        "ALTER TABLE ledger ADD COLUMN feature_variant TEXT",
        "CREATE INDEX ledger_feature ON ledger (feature, started_at)",
    ),
    (  # 8: a call's request and answer, redacted, when capture.content is on (issue 20)
        "ALTER TABLE ledger ADD COLUMN content TEXT",
    ),
)

_DIMENSIONS = dimensions(
    hour="strftime('%Y-%m-%dT%H', started_at, 'unixepoch')",
    day="date(started_at, 'unixepoch')",
    month="strftime('%Y-%m', started_at, 'unixepoch')",
)


def sqlite_path(url: str) -> Path:
    """``sqlite:///keel.db`` is relative to the working directory; ``sqlite:////abs.db`` absolute."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url.split('://')[0]}://")
    return Path(url.removeprefix("sqlite:///"))


class SQLiteLedger:
    """Ledger rows in a SQLite file; one connection, opened on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    self._db = await connect(self.path, "ledger", _MIGRATIONS)
        return self._db

    @staticmethod
    def prepare(record: dict[str, Any]) -> list[Any]:
        """A record as the row ``write`` inserts (done as each record is queued)."""
        return _row(record)

    async def write(self, records: Sequence[dict[str, Any] | list[Any]]) -> None:
        """One statement for the whole batch: the rows travel as one JSON array that SQLite unpacks.

        ``executemany`` would take the GIL back for every row's parameters, and under a busy event
        loop each of those hand-overs waits its turn: a batch then trickles in at a few hundred rows
        per second. One bound parameter keeps the whole insert inside SQLite.
        """
        db = await self._conn()
        rows = [record if isinstance(record, list) else _row(record) for record in records]
        batch = orjson.dumps(rows, default=str).decode()
        async with self._write_lock:  # one connection: one transaction at a time
            await db.execute("BEGIN IMMEDIATE")  # the write lock now: waits (busy_timeout), never deadlocks
            try:
                await db.execute(_INSERT, (batch,))
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def spend(
        self, by: Sequence[str], *, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        """Calls, tokens and cost grouped by ``by`` (key, team, user, model, route, day)."""
        where, params = [], []
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        if until is not None:
            where.append("started_at < ?")
            params.append(until)
        sql = spend_query(by, _DIMENSIONS, "cost_nano", where)
        db = await self._conn()
        db.row_factory = aiosqlite.Row
        async with db.execute(sql, params) as cursor:
            found = await cursor.fetchall()
        return spend_rows(found, by)  # type: ignore[arg-type]

    async def rows(self, limit: int = 100, *, request_id: str | None = None) -> list[dict[str, Any]]:
        """The newest records (of one request, given its id), newest first."""
        db = await self._conn()
        db.row_factory = aiosqlite.Row
        where, params = ("WHERE request_id = ? ", [request_id]) if request_id is not None else ("", [])
        sql = f"SELECT * FROM ledger {where}ORDER BY id DESC LIMIT ?"
        async with db.execute(sql, [*params, limit]) as cursor:
            rows = [dict(row) for row in await cursor.fetchall()]
        for row in rows:
            row["attempts"] = orjson.loads(row["attempts"])
            row["cost_usd"] = Decimal(row["cost_usd"])
            if row["content"] is not None:
                row["content"] = orjson.loads(row["content"])
        return rows

    async def prompt_calls(self, prompt: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """The calls that used ``prompt``: version, variant, status, latency, time to first token,
        cost and validation outcome (what ``keel prompts stats`` compares)."""
        return await self._calls(CALL_COLUMNS, "prompt", prompt, since)

    async def feature_calls(self, feature: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """The calls that named ``feature``: the flag's variant, status, latency, time to first
        token, cost and validation outcome (what ``keel flags stats`` compares)."""
        return await self._calls(f"feature_variant, {CALL_COLUMNS}", "feature", feature, since)

    async def _calls(
        self, columns: str, column: str, value: str, since: float | None
    ) -> list[dict[str, Any]]:
        sql = f"SELECT {columns} FROM ledger WHERE {column} = ?"
        params: list[Any] = [value]
        if since is not None:
            sql += " AND started_at >= ?"
            params.append(since)
        db = await self._conn()
        db.row_factory = aiosqlite.Row
        async with db.execute(sql + " ORDER BY id LIMIT 1000000", params) as cursor:
            rows = [dict(row) for row in await cursor.fetchall()]
        for row in rows:
            row["cost_usd"] = Decimal(row["cost_usd"])
        return rows

    async def prompt_feedback(self, prompt: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """The scores given to answers of ``prompt``, with the version that served each."""
        return await self._feedback("prompt_version", "prompt", prompt, since)

    async def feature_feedback(self, feature: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """The scores given to answers of ``feature``, with the variant that served each."""
        return await self._feedback("feature_variant", "feature", feature, since)

    async def _feedback(
        self, served_by: str, column: str, value: str, since: float | None
    ) -> list[dict[str, Any]]:
        sql = (
            f"SELECT ledger.{served_by} AS {served_by}, feedback.score AS score FROM feedback "
            f"JOIN ledger ON ledger.request_id = feedback.request_id WHERE ledger.{column} = ?"
        )
        params: list[Any] = [value]
        if since is not None:
            sql += " AND ledger.started_at >= ?"
            params.append(since)
        db = await self._conn()
        db.row_factory = aiosqlite.Row
        async with db.execute(sql, params) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def add_feedback(
        self, request_id: str, score: float, *, comment: str | None = None, key_id: str | None = None
    ) -> None:
        """Record a caller's score of the answer with ``request_id``."""
        db = await self._conn()
        async with self._write_lock:
            await db.execute(
                "INSERT INTO feedback (request_id, score, comment, key_id, created_at) VALUES (?,?,?,?,?)",
                (request_id, score, comment, key_id, time.time()),
            )

    async def rename_users(self, rename: Callable[[str], str | None]) -> int:
        """Rewrite each stored user id as ``rename`` gives it (its pseudonym); the rows changed."""
        db = await self._conn()
        changed = 0
        async with self._write_lock:
            await db.execute("BEGIN IMMEDIATE")
            try:
                async with db.execute(
                    'SELECT DISTINCT "user" FROM ledger WHERE "user" IS NOT NULL'
                ) as cursor:
                    users = [row[0] for row in await cursor.fetchall()]
                for user in users:
                    new = rename(user)
                    if new is not None and new != user:
                        cursor = await db.execute(
                            'UPDATE ledger SET "user" = ? WHERE "user" = ?', (new, user)
                        )
                        changed += cursor.rowcount
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return changed

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


_COLUMNS = (*LEDGER_COLUMNS, "cost_nano")
CALL_COLUMNS = "prompt_version, variant, status, latency_ms, ttft_ms, cost_usd, validation"
_INSERT = (
    f"INSERT OR IGNORE INTO ledger ({', '.join(_COLUMNS)}) SELECT "
    + ", ".join(f"value ->> {i}" for i in range(len(_COLUMNS)))
    + " FROM json_each(?)"
)


def _row(record: dict[str, Any]) -> list[Any]:
    """The insert's values for one record, in ``_COLUMNS`` order (made once per call, on its way in)."""
    values = [record.get(column) for column in LEDGER_COLUMNS]
    values[_ATTEMPTS] = orjson.dumps(values[_ATTEMPTS] or [], default=str).decode()
    if values[_CONTENT] is not None:
        values[_CONTENT] = orjson.dumps(values[_CONTENT]).decode()
    cost = values[_COST] or 0
    values[_COST] = str(cost)
    for index in _FLAGS:
        values[index] = int(bool(values[index]))
    exact = cost if isinstance(cost, Decimal) else Decimal(str(cost))
    values.append(int((exact * _NANO).to_integral_value(ROUND_HALF_UP)))  # as budgets settle, and PostgreSQL
    return values


_ATTEMPTS = LEDGER_COLUMNS.index("attempts")
_COST = LEDGER_COLUMNS.index("cost_usd")
_CONTENT = LEDGER_COLUMNS.index("content")
_FLAGS = tuple(LEDGER_COLUMNS.index(name) for name in ("stream", "cache_hit", "coalesced"))
_NANO = Decimal(10**9)
