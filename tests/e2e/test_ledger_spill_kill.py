"""A ``keel serve`` replica killed (SIGKILL) while its PostgreSQL ledger is away: the calls it answered
during the outage were spilled to disk, and the replica started next on the same spill directory
writes them once the database is back — every call in the ledger exactly once."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx2 as httpx
import pytest

from keel.mock import MockServer

from ..integration._relay import CuttableRelay
from .conftest import free_port, mock_config, user
from .test_reload_processes import MASTER, Served


class ThreadedRelay:
    """A ``CuttableRelay`` on an event loop of its own, for synchronous tests."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.relay = CuttableRelay(target)
        self.start()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> None:
        self._run(self.relay.start())

    def cut(self) -> None:
        self._run(self.relay.cut())

    def close(self) -> None:
        try:
            self.cut()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture
def relay_url(postgres_schema_url: str) -> Iterator[tuple[ThreadedRelay, str]]:
    parts = urlsplit(postgres_schema_url)
    relay = ThreadedRelay((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username + '@' if parts.username else ''}127.0.0.1:{relay.relay.port}"
    yield relay, urlunsplit(parts._replace(netloc=netloc))
    relay.close()


def ledger_rows(url: str) -> list[Any]:
    async def fetch() -> list[Any]:
        schema = url.rpartition("search_path=")[2]
        connection = await asyncpg.connect(url.partition("?")[0])
        try:
            return await connection.fetch(f"SELECT request_id FROM {schema}.ledger")
        except asyncpg.exceptions.UndefinedTableError:
            return []  # no replica has reached the database yet
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_a_replica_killed_during_a_database_outage_loses_no_record(
    upstream: MockServer, relay_url: tuple[ThreadedRelay, str], postgres_schema_url: str, tmp_path: Path
) -> None:
    relay, database = relay_url
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
        relay.cut()
        ids += [call(first) for _ in range(10)]  # answered during the outage
        deadline = time.monotonic() + 10
        while not list((tmp_path / "spill").glob("ledger-*.jsonl")):
            assert time.monotonic() < deadline, "nothing was spilled"
            time.sleep(0.05)
        time.sleep(1.0)  # the last batch, too, has met the outage and gone to disk
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    finally:
        first.stop()

    relay.start()
    second = start("second")
    try:
        ids.append(call(second))  # its writer starts, and replays the dead replica's file
        deadline = time.monotonic() + 20
        while len(ledger_rows(postgres_schema_url)) < len(ids):
            assert time.monotonic() < deadline, (
                f"{len(ledger_rows(postgres_schema_url))} of {len(ids)} records"
            )
            time.sleep(0.1)
    finally:
        second.stop()
    written = [row["request_id"] for row in ledger_rows(postgres_schema_url)]
    assert sorted(written) == sorted(ids)  # every call, exactly once
    assert not list((tmp_path / "spill").glob("ledger-*.jsonl"))
