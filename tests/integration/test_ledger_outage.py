"""The ledger while PostgreSQL is away: calls are never failed nor blocked, their records go to a
local spill file (``fsync``ed in strict mode) and are written once it is back — every call exactly
once, even when the process that spilled them died; without a spill directory they wait in memory,
and a strict call whose record cannot be stored in time is a clear 503 (its record written later).

PostgreSQL is the suite's own; the outage is a TCP relay in front of it that the test cuts (every
connection dropped, new ones refused) and restores.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
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


@pytest.mark.parametrize("spill", [True, False])
async def test_batched_calls_go_on_and_every_record_is_written_once_after_the_outage(
    mock_server: MockServer,
    relayed: tuple[CuttableRelay, str],
    postgres_schema_url: str,
    uid,
    tmp_path: Path,
    spill: bool,
) -> None:
    relay, database = relayed
    spill_dir = str(tmp_path / "spill") if spill else None
    gateway = gateway_on(mock_server, database, uid("ok:tokens=2"), ledger={"spill_dir": spill_dir})
    ids = [(await gateway.chat("smart", user())).id for _ in range(3)]
    await asyncio.sleep(0.5)  # written (batched: within 0.2 s)

    await relay.cut()
    during = []
    # In memory, through a 7 s outage: longer than any fixed run of retries would wait; on disk,
    # the first failed write spills.
    for _ in range(20):
        during.append(await gateway.chat("smart", user()))  # none fails, none waits for the store
        await asyncio.sleep(0.05 if spill else 0.35)
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


async def test_strict_calls_without_a_spill_answer_503_and_their_record_is_written_later(
    mock_server: MockServer, relayed: tuple[CuttableRelay, str], postgres_schema_url: str, uid
) -> None:
    relay, database = relayed
    strict = {"durability": "strict", "strict_wait": 0.5, "spill_dir": None}
    gateway = gateway_on(mock_server, database, uid("ok:tokens=2"), ledger=strict)
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


async def test_strict_calls_spill_to_disk_and_a_dead_process_s_records_are_replayed_by_the_next(
    mock_server: MockServer, relayed: tuple[CuttableRelay, str], postgres_schema_url: str, uid, tmp_path: Path
) -> None:
    relay, database = relayed
    settings = {"durability": "strict", "spill_dir": str(tmp_path / "spill")}
    first = gateway_on(mock_server, database, uid("ok:tokens=2"), ledger=settings)
    await first.chat("smart", user())
    await relay.cut()
    for _ in range(5):
        await first.chat("smart", user())  # each answered once its record is on disk (fsynced)
    spilled = list((tmp_path / "spill").glob("ledger-*.jsonl"))
    assert len(spilled) == 1 and len(spilled[0].read_bytes().splitlines()) == 5
    assert first.ledger is not None and first.ledger.spill is not None
    first.ledger.spill.abandon()  # the process dies: its file is left, unlocked

    await relay.start()
    second = gateway_on(mock_server, database, uid("ok:tokens=2"), ledger=settings)
    await second.chat("smart", user())  # its writer starts, and replays what it finds
    for _ in range(200):
        if len(await rows(postgres_schema_url)) >= 7:
            break
        await asyncio.sleep(0.05)
    await second.aclose()
    found = await rows(postgres_schema_url)
    assert len(found) == 7 and len({row["request_id"] for row in found}) == 7
    assert not list((tmp_path / "spill").glob("ledger-*.jsonl"))
