"""The ledger in PostgreSQL (``database: postgresql://…``): numbered migrations, spend queries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from ._ledger_spend import dimensions, spend_query, spend_rows
from .postgres import connect
from .sqlite_ledger import CALL_COLUMNS, LEDGER_COLUMNS

__all__ = ["PostgresLedger"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE ledger (
            id bigserial PRIMARY KEY,
            request_id text NOT NULL,
            started_at double precision NOT NULL,
            status text NOT NULL,
            requested_model text NOT NULL,
            stream boolean NOT NULL,
            key_id text, team text, "user" text, route text, model text,
            input_tokens bigint NOT NULL, cached_input_tokens bigint NOT NULL,
            cache_write_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
            reasoning_tokens bigint NOT NULL,
            cost_usd numeric NOT NULL,
            latency_ms double precision NOT NULL, ttft_ms double precision,
            cache_hit boolean NOT NULL, coalesced boolean NOT NULL,
            error text, upstream_request_id text, prompt text, variant text, attempts jsonb NOT NULL
        )
        """,
        "CREATE INDEX ledger_started_at ON ledger (started_at)",
        "CREATE INDEX ledger_key_id ON ledger (key_id, started_at)",
        "CREATE INDEX ledger_team ON ledger (team, started_at)",
    ),
    (  # 2: structured output's outcome per call (issue 17)
        "ALTER TABLE ledger ADD COLUMN validation text",
        "ALTER TABLE ledger ADD COLUMN reasks integer",
    ),
    (  # 3: each record's own id, so a batch written again after a lost reply adds no row twice
        "ALTER TABLE ledger ADD COLUMN record_id text",
        "CREATE UNIQUE INDEX ledger_record_id ON ledger (record_id)",
    ),
    (  # 4: the version of the named prompt a call used, beside its name (issue 18)
        "ALTER TABLE ledger ADD COLUMN prompt_version integer",
        "CREATE INDEX ledger_prompt ON ledger (prompt, started_at)",
    ),
    (  # 5: callers' feedback on answers, by the answer's request id (issue 18)
        """
        CREATE TABLE feedback (
            id bigserial PRIMARY KEY, request_id text NOT NULL, score double precision NOT NULL,
            comment text, key_id text, created_at double precision NOT NULL
        )
        """,
        "CREATE INDEX feedback_request_id ON feedback (request_id)",
    ),
    (  # 6: the output guards that fired, and what each did (issue 20)
        "ALTER TABLE ledger ADD COLUMN guards text",
    ),
    (  # 7: the feature a call named and the flag's variant it was served as (issue 19)
        "ALTER TABLE ledger ADD COLUMN feature text",
        "ALTER TABLE ledger ADD COLUMN feature_variant text",
        "CREATE INDEX ledger_feature ON ledger (feature, started_at)",
    ),
    (  # 8: a call's request and answer, redacted, when capture.content is on (issue 20)
        "ALTER TABLE ledger ADD COLUMN content jsonb",
    ),
)

_UTC = "to_timestamp(started_at) AT TIME ZONE 'UTC'"
_DIMENSIONS = dimensions(
    hour=f"to_char({_UTC}, 'YYYY-MM-DD\"T\"HH24')",
    day=f"to_char({_UTC}, 'YYYY-MM-DD')",
    month=f"to_char({_UTC}, 'YYYY-MM')",
)


class PostgresLedger:
    """Ledger rows in PostgreSQL; the pool opens, and migrates, on first use."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _conn(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await connect(self._dsn, "ledger", _MIGRATIONS)
        return self._pool

    @staticmethod
    def prepare(record: dict[str, Any]) -> tuple[Any, ...]:
        """A record as the row ``write`` inserts (done as each record is queued)."""
        return _row(record)

    async def write(self, records: Sequence[dict[str, Any] | tuple[Any, ...]]) -> None:
        pool = await self._conn()
        columns = ", ".join(f'"{c}"' for c in LEDGER_COLUMNS)
        marks = ", ".join(f"${i}" for i in range(1, len(LEDGER_COLUMNS) + 1))
        rows = [record if isinstance(record, tuple) else _row(record) for record in records]
        async with pool.acquire() as connection, connection.transaction():
            await connection.executemany(
                f"INSERT INTO ledger ({columns}) VALUES ({marks}) ON CONFLICT (record_id) DO NOTHING", rows
            )

    async def spend(
        self, by: Sequence[str], *, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        """Calls, tokens and cost grouped by ``by`` (key, team, user, model, route, day)."""
        where, params = [], []
        for bound, op in ((since, ">="), (until, "<")):
            if bound is not None:
                params.append(bound)
                where.append(f"started_at {op} ${len(params)}")
        sql = spend_query(by, _DIMENSIONS, "round(cost_usd * 1000000000)", where)
        pool = await self._conn()
        async with pool.acquire() as connection:
            found = await connection.fetch(sql, *params)
        return spend_rows(found, by)

    async def rows(self, limit: int = 100, *, request_id: str | None = None) -> list[dict[str, Any]]:
        """The newest records (of one request, given its id), newest first."""
        pool = await self._conn()
        where = "WHERE request_id = $2 " if request_id is not None else ""
        params = [limit, request_id] if request_id is not None else [limit]
        sql = f"SELECT * FROM ledger {where}ORDER BY id DESC LIMIT $1"
        async with pool.acquire() as connection:
            rows = [dict(row) for row in await connection.fetch(sql, *params)]
        for row in rows:
            row["attempts"] = orjson.loads(row["attempts"])
            if row["content"] is not None:
                row["content"] = orjson.loads(row["content"])
        return rows

    async def prompt_calls(self, prompt: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """The calls that used ``prompt`` (see ``SQLiteLedger.prompt_calls``)."""
        return await self._calls(CALL_COLUMNS, "prompt", prompt, since)

    async def feature_calls(self, feature: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """The calls that named ``feature`` (see ``SQLiteLedger.feature_calls``)."""
        return await self._calls(f"feature_variant, {CALL_COLUMNS}", "feature", feature, since)

    async def _calls(
        self, columns: str, column: str, value: str, since: float | None
    ) -> list[dict[str, Any]]:
        sql = f"SELECT {columns} FROM ledger WHERE {column} = $1"
        params: list[Any] = [value]
        if since is not None:
            params.append(since)
            sql += " AND started_at >= $2"
        pool = await self._conn()
        async with pool.acquire() as connection:
            return [dict(row) for row in await connection.fetch(sql + " ORDER BY id LIMIT 1000000", *params)]

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
            f"JOIN ledger ON ledger.request_id = feedback.request_id WHERE ledger.{column} = $1"
        )
        params: list[Any] = [value]
        if since is not None:
            params.append(since)
            sql += " AND ledger.started_at >= $2"
        pool = await self._conn()
        async with pool.acquire() as connection:
            return [dict(row) for row in await connection.fetch(sql, *params)]

    async def add_feedback(
        self, request_id: str, score: float, *, comment: str | None = None, key_id: str | None = None
    ) -> None:
        """Record a caller's score of the answer with ``request_id``."""
        pool = await self._conn()
        await pool.execute(
            "INSERT INTO feedback (request_id, score, comment, key_id, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            request_id,
            score,
            comment,
            key_id,
            time.time(),
        )

    async def rename_users(self, rename: Callable[[str], str | None]) -> int:
        """Rewrite each stored user id as ``rename`` gives it (its pseudonym); the rows changed."""
        pool = await self._conn()
        changed = 0
        async with pool.acquire() as connection, connection.transaction():
            users = [
                row[0]
                for row in await connection.fetch(
                    'SELECT DISTINCT "user" FROM ledger WHERE "user" IS NOT NULL'
                )
            ]
            for user in users:
                new = rename(user)
                if new is not None and new != user:
                    status = await connection.execute(
                        'UPDATE ledger SET "user" = $1 WHERE "user" = $2', new, user
                    )
                    changed += int(status.split()[-1])
        return changed

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    values = []
    for column in LEDGER_COLUMNS:
        value = record.get(column)
        if column == "attempts":
            value = orjson.dumps(value or [], default=str).decode()
        elif column == "content" and value is not None:
            value = orjson.dumps(value).decode()
        elif column == "cost_usd":
            value = Decimal(str(value or 0))
        elif column in ("stream", "cache_hit", "coalesced"):
            value = bool(value)
        values.append(value)
    return tuple(values)
