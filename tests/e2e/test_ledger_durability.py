"""Ledger durability: ``keel serve`` killed with SIGKILL in the middle of a load. With ``strict``
every response a client received whole is in the ledger; ``batched`` loses at most what it had
queued in its last flush interval."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import free_port, mock_config, user

KEEL = str(Path(sys.executable).with_name("keel"))
WORKERS = 16
ENOUGH = 50
"""Whole responses received, and records stored, before the kill: a real load at any machine's pace."""


def serve(config: dict[str, Any], folder: Path) -> subprocess.Popen[bytes]:
    """``keel serve`` as a process of its own, returned once it answers ``/healthz``."""
    path = folder / "keel.yaml"
    path.write_bytes(orjson.dumps(config))  # JSON is YAML
    env = {k: v for k, v in os.environ.items() if k not in ("KEEL_CONFIG", "KEEL_MASTER_KEY")}
    process = subprocess.Popen(
        [KEEL, "serve", "--config", str(path), "--log-level", "warning"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{config['server']['port']}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("keel serve did not start")


@dataclass
class Load:
    """What the clients received whole: request id → when its response body was complete."""

    received: dict[str, float] = field(default_factory=dict)
    failed: int = 0


async def drive(base: str, load: Load, stop: asyncio.Event, *, stream: bool = False) -> None:
    """WORKERS clients calling back to back until ``stop``; a call counts only with its whole body
    (a stream only once its ``data: [DONE]`` has arrived)."""
    body = {"model": "m", "messages": user(), "max_tokens": 8, "stream": stream}

    def whole(data: bytes) -> bool:
        if stream:
            return data.rstrip().endswith(b"data: [DONE]")
        return bool(orjson.loads(data)["choices"][0]["message"]["content"])

    async def worker(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            try:
                async with session.post(f"{base}/v1/chat/completions", json=body) as response:
                    if response.status == 200 and whole(await response.read()):
                        load.received[response.headers["x-request-id"]] = time.time()
            except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError, KeyError):
                load.failed += 1
                await asyncio.sleep(0.01)

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(WORKERS)))


def stored(path: Path) -> int:
    """How many records the ledger file holds so far (0 before its table exists)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            return int(db.execute("SELECT count(*) FROM ledger").fetchone()[0])
    except sqlite3.Error:
        return 0


async def kill_mid_load(
    process: subprocess.Popen[bytes], base: str, ledger: Path, *, stream: bool = False
) -> tuple[Load, float]:
    """Drive load until the clients have received ``ENOUGH`` whole responses and the ledger holds as
    many records (however long that takes on a busy machine, within a minute), SIGKILL the server,
    and let the clients see it die."""
    load, stop = Load(), asyncio.Event()
    clients = asyncio.create_task(drive(base, load, stop, stream=stream))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not clients.done():
        if len(load.received) >= ENOUGH and await asyncio.to_thread(stored, ledger) >= ENOUGH:
            break
        await asyncio.sleep(0.02)
    killed_at = time.time()
    os.kill(process.pid, signal.SIGKILL)
    await asyncio.sleep(0.3)
    stop.set()
    await clients
    return load, killed_at


async def recorded(path: Path) -> set[str]:
    ledger = SQLiteLedger(path)
    try:
        return {row["request_id"] for row in await ledger.rows(limit=1_000_000)}
    finally:
        await ledger.close()


@pytest.fixture
def killed(upstream: MockServer, tmp_path: Path, uid) -> Any:
    """``killed("strict")``: run a load against a ``keel serve`` with that durability, SIGKILL it
    mid-load; returns what the clients received, when it was killed, and the ledger's request ids."""

    def run(durability: str, *, stream: bool = False) -> tuple[Load, float, set[str]]:
        config = mock_config(
            upstream,
            {"m": [f"mock/{uid('ok:tokens=3,ttft_ms=10')}"]},
            server={"port": free_port()},
            database=f"sqlite:///{tmp_path / 'keel.db'}",
            ledger={"durability": durability},
        )
        process = serve(config, tmp_path)
        try:
            base = f"http://127.0.0.1:{config['server']['port']}"
            load, killed_at = asyncio.run(kill_mid_load(process, base, tmp_path / "keel.db", stream=stream))
        finally:
            process.kill()
            process.wait(10)
        assert process.returncode == -signal.SIGKILL
        return load, killed_at, asyncio.run(recorded(tmp_path / "keel.db"))

    return run


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_strict_ledger_survives_sigkill(killed: Any, stream: bool) -> None:
    """With ``durability: strict``, every call whose whole response a client received is in the
    ledger after the server is SIGKILLed mid-load; for a stream, the ``[DONE]`` leaves only once its
    record is stored."""
    load, _, ledger = killed("strict", stream=stream)
    assert len(load.received) >= ENOUGH and load.failed > 0  # a real load, cut by the kill
    missing = set(load.received) - ledger
    assert not missing, f"{len(missing)} of {len(load.received)} received calls not in the ledger"
    print(f"\nstrict: {len(load.received)} received whole, all in the ledger ({len(ledger)} records)")


def test_batched_ledger_loses_at_most_its_last_flush(killed: Any) -> None:
    """With ``durability: batched`` a SIGKILL loses at most the records of calls answered in the last
    moments before it (the writer flushes every 0.2 s); everything older is in the ledger."""
    load, killed_at, ledger = killed("batched")
    assert len(load.received) >= ENOUGH and len(ledger) >= ENOUGH  # flushes happened before the kill
    missing = {rid: at for rid, at in load.received.items() if rid not in ledger}
    assert all(killed_at - at < 1.0 for at in missing.values()), sorted(
        killed_at - at for at in missing.values()
    )
    print(f"\nbatched: {len(load.received)} received whole, {len(missing)} lost to the kill")
