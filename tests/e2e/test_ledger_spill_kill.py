"""A ``keel serve`` replica killed (SIGKILL) while its PostgreSQL ledger — a private cluster, stopped
for 10 s — is away: the calls it answered during the outage were spilled to disk, and the replica
started next on the same spill directory writes them once the database is back — every call in the
ledger exactly once."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx2 as httpx

from keel.mock import MockServer

from .._support.postgres_cluster import PostgresCluster
from .conftest import free_port, mock_config, user
from .test_reload_processes import MASTER, Served


def ledger_rows(url: str) -> list[Any]:
    async def fetch() -> list[Any]:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetch("SELECT request_id FROM ledger")
        except asyncpg.exceptions.UndefinedTableError:
            return []  # no replica has reached the database yet
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_a_replica_killed_during_a_database_outage_loses_no_record(
    upstream: MockServer, cluster: PostgresCluster, tmp_path: Path
) -> None:
    database = cluster.url
    model = f"ok:tokens=2,id={uuid.uuid4().hex[:8]}"

    def start(name: str) -> Served:
        workdir = tmp_path / name
        workdir.mkdir()
        raw = mock_config(
            upstream,
            {"smart": [f"mock/{model}"]},
            database=database,
            server={"port": free_port(), "master_key": MASTER},
            ledger={"spill_dir": str(tmp_path / "spill")},
        )
        served = Served(workdir, raw)
        served.wait_ready()
        return served

    def call(served: Served) -> str:
        answer = httpx.post(
            f"{served.base_url}/v1/chat/completions",
            json={"model": "smart", "messages": user()},
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=20,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.headers["x-request-id"])

    first = start("first")
    try:
        ids = [call(first) for _ in range(3)]
        time.sleep(0.5)  # written (batched: within 0.2 s)
        cluster.stop()
        stopped = time.monotonic()
        for _ in range(20):  # answered during the outage, none failed
            ids.append(call(first))
            time.sleep(0.15)
        deadline = time.monotonic() + 10
        while not list((tmp_path / "spill").glob("ledger-*.jsonl")):
            assert time.monotonic() < deadline, "nothing was spilled"
            time.sleep(0.05)
        time.sleep(1.0)  # the last batch, too, has met the outage and gone to disk
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    finally:
        first.stop()

    time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))  # the database is away for 10 s
    cluster.start()
    second = start("second")
    try:
        ids.append(call(second))  # its writer starts, and replays the dead replica's file
        deadline = time.monotonic() + 20
        while len(ledger_rows(database)) < len(ids):
            assert time.monotonic() < deadline, f"{len(ledger_rows(database))} of {len(ids)} records"
            time.sleep(0.1)
    finally:
        second.stop()
    written = [row["request_id"] for row in ledger_rows(database)]
    assert sorted(written) == sorted(ids)  # every call, exactly once
    assert not list((tmp_path / "spill").glob("ledger-*.jsonl"))
