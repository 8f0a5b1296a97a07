"""One contract for every cache engine (memory, SQLite, Redis) and every lease engine (memory, Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from keel.stores.base import LockNotify, TTLMap
from keel.stores.memory_cache import MemoryLockNotify, MemoryTTLMap


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def entries(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TTLMap]:
    if request.param == "memory":
        yield MemoryTTLMap()
        return
    if request.param == "sqlite":
        from keel.stores.sqlite_cache import SQLiteTTLMap

        store: TTLMap = SQLiteTTLMap(tmp_path / "cache.db")
    else:
        from keel.stores.redis_cache import RedisTTLMap

        store = RedisTTLMap.from_url(request.getfixturevalue("redis_url"))
    yield store
    await store.aclose()  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", "redis"])
async def leases(request: pytest.FixtureRequest) -> AsyncIterator[LockNotify]:
    if request.param == "memory":
        yield MemoryLockNotify()
        return
    from keel.stores.redis_cache import RedisLockNotify

    store = RedisLockNotify.from_url(request.getfixturevalue("redis_url"))
    yield store
    await store.aclose()


@pytest.fixture
def ns() -> str:
    """A key prefix of this test's own, so engines shared across tests start empty for it."""
    return f"t{uuid.uuid4().hex[:8]}"


async def test_set_get_delete(entries: TTLMap, ns: str) -> None:
    """A value comes back byte for byte, is replaced by a later set, and is gone after delete."""
    await entries.set(f"{ns}:a", b"\x00bytes\xff", 60)
    assert await entries.get(f"{ns}:a") == b"\x00bytes\xff"
    await entries.set(f"{ns}:a", b"second", 60)
    assert await entries.get(f"{ns}:a") == b"second"
    await entries.delete(f"{ns}:a")
    assert await entries.get(f"{ns}:a") is None
    assert await entries.get(f"{ns}:never") is None


async def test_entries_expire(entries: TTLMap, ns: str) -> None:
    """An entry is gone once its TTL has passed, and no longer counts in the stats."""
    await entries.set(f"{ns}:short", b"x", 0.2)
    await entries.set(f"{ns}:long", b"yy", 60)
    await asyncio.sleep(0.3)
    assert await entries.get(f"{ns}:short") is None
    assert (await entries.stats(f"{ns}:*")).entries == 1


async def test_clear_and_stats_take_a_glob(entries: TTLMap, ns: str) -> None:
    """``clear`` deletes what its pattern matches and says how many; ``stats`` counts entries and bytes."""
    for key in ("m1:k1:{a}", "m1:k2:{b}", "m2:k1:{c}"):
        await entries.set(f"{ns}:{key}", b"1234", 60)
    stats = await entries.stats(f"{ns}:*")
    assert (stats.entries, stats.bytes) == (3, 12)
    assert await entries.clear(f"{ns}:*:k1:*") == 2
    assert await entries.get(f"{ns}:m1:k2:{{b}}") == b"1234"
    assert await entries.clear(f"{ns}:*") == 1
    assert (await entries.stats(f"{ns}:*")).entries == 0


async def test_memory_map_stays_within_its_bytes() -> None:
    """Past its byte bound the memory map drops the least recently used entries first."""
    entries = MemoryTTLMap(max_bytes=10)
    await entries.set("a", b"1234", 60)
    await entries.set("b", b"1234", 60)
    await entries.get("a")  # now b is the least recently used
    await entries.set("c", b"1234", 60)
    assert await entries.get("b") is None
    assert await entries.get("a") == b"1234" and await entries.get("c") == b"1234"
    await entries.set("huge", b"x" * 11, 60)
    assert await entries.get("huge") is None


async def test_one_holder_at_a_time(leases: LockNotify, ns: str) -> None:
    """Only one caller gets a lease; a stranger's token does not release it; its holder's does."""
    token = await leases.try_lock(f"{ns}:l", 5)
    assert token is not None
    assert await leases.try_lock(f"{ns}:l", 5) is None
    await leases.unlock(f"{ns}:l", "not-the-token")
    assert await leases.try_lock(f"{ns}:l", 5) is None
    await leases.unlock(f"{ns}:l", token)
    assert await leases.try_lock(f"{ns}:l", 5) is not None


async def test_waiters_wake_on_unlock(leases: LockNotify, ns: str) -> None:
    """A waiter returns True soon after the holder unlocks."""
    token = await leases.try_lock(f"{ns}:w", 5)
    assert token is not None
    waiter = asyncio.create_task(leases.wait(f"{ns}:w", 5))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await leases.unlock(f"{ns}:w", token)
    assert await asyncio.wait_for(waiter, 1) is True
    assert await leases.wait(f"{ns}:free", 1) is True


async def test_wait_is_bounded_and_leases_expire(leases: LockNotify, ns: str) -> None:
    """A wait gives up after its timeout; a lease nobody releases frees itself when its TTL ends."""
    assert await leases.try_lock(f"{ns}:x", 0.5) is not None
    assert await leases.wait(f"{ns}:x", 0.1) is False
    assert await leases.wait(f"{ns}:x", 2) is True
    assert await leases.try_lock(f"{ns}:x", 5) is not None
