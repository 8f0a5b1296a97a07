"""The ledger while PostgreSQL is away: batched calls are never failed nor blocked, their records
wait and are written once it is back — every call exactly once; in strict mode a call whose record
cannot be stored in time is a clear 503, and its record is still written later.

PostgreSQL is the suite's own; the outage is a TCP relay in front of it that the test cuts (every
connection dropped, new ones refused) and restores.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from keel import Gateway, LedgerUnavailableError
from keel.mock import MockServer

from ._relay import CuttableRelay
from .conftest import FAST, merge, user


async def rows(url: str) -> list[Any]:
    schema = url.rpartition("search_path=")[2]
    connection = await asyncpg.connect(url.partition("?")[0])
    try:
        return await connection.fetch(f"SELECT request_id, status FROM {schema}.ledger")
    finally:
        await connection.close()


def gateway_on(mock_server: MockServer, database: str, model: str, **overrides: Any) -> Gateway:
    config = {
        "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
        "models": {"smart": [f"mock/{model}"]},
        "database": database,
        **FAST,
    }
    return Gateway.from_config(merge(config, overrides))


async def test_batched_calls_go_on_and_every_record_is_written_once_after_the_outage(
    mock_server: MockServer, relayed: tuple[CuttableRelay, str], postgres_schema_url: str, uid
) -> None:
    relay, database = relayed
    gateway = gateway_on(mock_server, database, uid("ok:tokens=2"))
    ids = [(await gateway.chat("smart", user())).id for _ in range(3)]
    await asyncio.sleep(0.5)  # written (batched: within 0.2 s)

    await relay.cut()
    during = []
    for _ in range(20):  # through a 7 s outage: longer than any fixed run of retries would wait
        during.append(await gateway.chat("smart", user()))  # none fails, none waits for the store
        await asyncio.sleep(0.35)
    await relay.start()

    for _ in range(200):
        found = await rows(postgres_schema_url)
        if len(found) >= 23:
            break
        await asyncio.sleep(0.05)
    await gateway.aclose()
    found = await rows(postgres_schema_url)
    assert len(during) == 20 and len(ids) == 3
    assert len(found) == 23 and len({row["request_id"] for row in found}) == 23  # each call, once
    assert all(row["status"] == "ok" for row in found)


async def test_strict_calls_answer_503_when_their_record_cannot_be_stored_and_it_is_written_later(
    mock_server: MockServer, relayed: tuple[CuttableRelay, str], postgres_schema_url: str, uid
) -> None:
    relay, database = relayed
    gateway = gateway_on(
        mock_server, database, uid("ok:tokens=2"), ledger={"durability": "strict", "strict_wait": 0.5}
    )
    await gateway.chat("smart", user())
    await relay.cut()

    with pytest.raises(LedgerUnavailableError) as info:
        await gateway.chat("smart", user())
    assert info.value.status == 503 and info.value.code == "ledger_unavailable"

    await relay.start()
    for _ in range(200):
        if len(await rows(postgres_schema_url)) >= 2:
            break
        await asyncio.sleep(0.05)
    await gateway.aclose()
    assert len(await rows(postgres_schema_url)) == 2
