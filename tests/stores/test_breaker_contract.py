"""One contract for every breaker store engine: memory and Redis behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from keel.stores.base import BreakerSettings, BreakerStore
from keel.stores.memory import MemoryBreakerStore

SETTINGS = BreakerSettings(failure_threshold=2, window=5, open_for=0.3)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BreakerStore]:
    if request.param == "memory":
        yield MemoryBreakerStore(SETTINGS)
        return
    from keel.stores.redis import RedisBreakerStore

    redis_store = RedisBreakerStore.from_url(
        request.getfixturevalue("redis_url"), SETTINGS, prefix=f"test-{uuid.uuid4().hex[:6]}:"
    )
    yield redis_store
    await redis_store.aclose()


async def test_closed_until_threshold_then_open(store: BreakerStore) -> None:
    """Failures below the threshold leave the circuit closed; reaching it opens it."""
    await store.record_failure("a/x")
    assert await store.acquire("a/x") is None
    await store.record_failure("a/x")
    wait = await store.acquire("a/x")
    assert wait is not None and 0 < wait <= 0.3
    assert (await store.snapshot("a/x")).state == "open"


async def test_half_open_lets_one_probe_and_success_closes(store: BreakerStore) -> None:
    """After ``open_for``, exactly one caller probes; its success closes the circuit."""
    for _ in range(2):
        await store.record_failure("r")
    await asyncio.sleep(0.32)
    results = await asyncio.gather(*(store.acquire("r") for _ in range(5)))
    assert sum(result is None for result in results) == 1
    await store.record_success("r")
    assert await store.acquire("r") is None
    assert (await store.snapshot("r")).state == "closed"


async def test_failed_probe_reopens(store: BreakerStore) -> None:
    """A probe that fails opens the circuit again."""
    for _ in range(2):
        await store.record_failure("r")
    await asyncio.sleep(0.32)
    assert await store.acquire("r") is None
    await store.record_failure("r")
    assert await store.acquire("r") is not None


async def test_release_returns_the_probe(store: BreakerStore) -> None:
    """A probe given back lets the next caller probe."""
    for _ in range(2):
        await store.record_failure("r")
    await asyncio.sleep(0.32)
    assert await store.acquire("r") is None
    await store.release("r")
    assert await store.acquire("r") is None


async def test_cool_down_is_not_a_failure(store: BreakerStore) -> None:
    """A cooldown skips the route for its duration and counts nothing."""
    await store.cool_down("r", 0.2)
    wait = await store.acquire("r")
    assert wait is not None and wait <= 0.2
    await asyncio.sleep(0.22)
    assert await store.acquire("r") is None
    assert (await store.snapshot("r")).failures == 0


async def test_routes_are_independent(store: BreakerStore) -> None:
    """One route's failures never open another's circuit, even with braces in the name."""
    for _ in range(2):
        await store.record_failure("p/{odd}")
    assert await store.acquire("p/{odd}") is not None
    assert await store.acquire("p/other") is None
