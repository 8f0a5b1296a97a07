"""Two ``keel serve`` replicas in batched durability under steady load while their PostgreSQL ledger —
a private cluster — is away for 10 s, one of them killed (SIGKILL) during the outage: no call fails,
the survivor writes what it spilled when the database is back, the killed replica's spill is written
by the replica started next on its directory, and the ledger holds every answered call exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
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


def spilled(folder: Path) -> set[str]:
    """The request ids of the records in a spill directory's files."""
    found: set[str] = set()
    for path in folder.glob("ledger-*.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line being written
                found.add(json.loads(line)["request_id"])
    return found


def test_replicas_lose_no_record_through_a_database_outage_and_a_kill(
    upstream: MockServer, cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Two replicas under steady load while PostgreSQL is away for 10 s; one is killed mid-outage
    and started again afterwards: no call failed, and the ledger holds each answered call once."""
    database = cluster.url
    model = f"ok:tokens=2,id={uuid.uuid4().hex[:8]}"

    def start(name: str) -> Served:
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        raw = mock_config(
            upstream,
            {"smart": [f"mock/{model}"]},
            database=database,
            server={"port": free_port(), "master_key": MASTER},
            ledger={"spill_dir": str(workdir / "spill")},  # batched durability, the default
        )
        served = Served(workdir, raw)
        served.wait_ready()
        return served

    survivor, victim = start("a"), start("b")
    targets = [survivor, victim]
    ids: list[str] = []
    answered_by_victim: list[tuple[float, str]] = []  # (when, request id)
    failures: list[str] = []
    stop = threading.Event()
    in_flight = threading.Semaphore(3)

    def load(index: int) -> None:
        with httpx.Client(timeout=20) as client:
            n = index
            while not stop.is_set():
                with in_flight:
                    served = targets[n % len(targets)]
                    n += 1
                    try:
                        answer = client.post(
                            f"{served.base_url}/v1/chat/completions",
                            json={"model": "smart", "messages": user()},
                            headers={"authorization": f"Bearer {MASTER}"},
                        )
                    except httpx.HTTPError as error:
                        failures.append(type(error).__name__)
                        continue
                if answer.status_code == 200:
                    ids.append(str(answer.headers["x-request-id"]))
                    if served is victim:
                        answered_by_victim.append((time.monotonic(), ids[-1]))
                else:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(3)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # some calls written before the outage
        cluster.stop()
        stopped = time.monotonic()
        time.sleep(2.0)
        for _ in range(3):  # no call is left in flight to it: a killed call is not Keel's failure
            in_flight.acquire()
        targets.remove(victim)
        for _ in range(3):
            in_flight.release()
        # Killed once every call it answered during the outage is on disk (records are spilled in
        # order, so the ones before are on disk or were written before the database stopped).
        owed = {request_id for when, request_id in answered_by_victim if when > stopped}
        assert owed, "the replica to be killed answered nothing during the outage"
        deadline = time.monotonic() + 10
        while owed - spilled(tmp_path / "b" / "spill"):
            assert time.monotonic() < deadline, f"not spilled: {owed - spilled(tmp_path / 'b' / 'spill')}"
            time.sleep(0.05)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))  # the database is away for 10 s
        cluster.start()
        restarted = start("b")  # on the same spill directory: replays the dead process's file
        targets.append(restarted)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(30)
        deadline = time.monotonic() + 20
        while len(ledger_rows(database)) < len(ids):
            assert time.monotonic() < deadline, f"{len(ledger_rows(database))} of {len(ids)} records"
            time.sleep(0.1)
        restarted.stop()
    finally:
        stop.set()
        for served in (survivor, victim, *targets):
            served.stop()

    assert not failures, failures
    written = [row["request_id"] for row in ledger_rows(database)]
    assert sorted(written) == sorted(ids)  # every answered call, exactly once
    assert len(ids) > 60
    assert not list(tmp_path.glob("*/spill/ledger-*.jsonl"))
