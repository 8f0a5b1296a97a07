"""One contract for every counter engine: reservations are all-or-nothing and never pass a ceiling."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from keel.stores.base import Counters, Hold, Limit, Refusal
from keel.stores.memory import MemoryCounters


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    from keel.stores.redis import RedisCounters

    store = RedisCounters.from_url(request.getfixturevalue("redis_url"))
    yield store
    await store.aclose()


@pytest.fixture
def key() -> str:
    return f"{{t-{uuid.uuid4().hex[:8]}}}"


async def test_reserve_then_settle_to_actual(counters: Counters, key: str) -> None:
    """A hold counts in full until settled, then only what was used."""
    limit = Limit(f"{key}:a", ceiling=100, ttl_s=60)
    hold = await counters.reserve([limit], 40)
    assert isinstance(hold, Hold)
    assert await counters.read([limit.key]) == [40]
    await counters.settle(hold, 15)
    assert await counters.read([limit.key]) == [15]


async def test_all_or_nothing_across_keys(counters: Counters, key: str) -> None:
    """When one counter would pass its ceiling, none is touched and the refusal names it."""
    roomy, tight = Limit(f"{key}:roomy", 1000, 60), Limit(f"{key}:tight", 50, 60)
    assert isinstance(await counters.reserve([roomy, tight], 30), Hold)
    refusal = await counters.reserve([roomy, tight], 30)
    assert isinstance(refusal, Refusal)
    assert refusal.limit == tight and refusal.used == 30
    assert 0 < refusal.resets_in <= 60
    assert await counters.read([roomy.key, tight.key]) == [30, 30]


async def test_concurrent_reservations_never_pass_the_ceiling(counters: Counters, key: str) -> None:
    """Hundreds of concurrent reservations against one ceiling admit exactly what fits."""
    limit = Limit(f"{key}:c", ceiling=1000, ttl_s=60)
    results = await asyncio.gather(*(counters.reserve([limit], 7) for _ in range(300)))
    admitted = [result for result in results if isinstance(result, Hold)]
    assert len(admitted) == 1000 // 7
    assert await counters.read([limit.key]) == [7 * (1000 // 7)]


async def test_counters_expire_with_their_window(counters: Counters, key: str) -> None:
    """A counter whose window ends starts again from zero."""
    limit = Limit(f"{key}:w", ceiling=10, ttl_s=0.15)
    assert isinstance(await counters.reserve([limit], 10), Hold)
    assert isinstance(await counters.reserve([limit], 1), Refusal)
    await asyncio.sleep(0.2)
    assert isinstance(await counters.reserve([limit], 10), Hold)


async def test_lifetime_counters_do_not_expire(counters: Counters, key: str) -> None:
    """A counter without a window keeps counting; its refusal has no reset time."""
    limit = Limit(f"{key}:life", ceiling=5, ttl_s=None)
    assert isinstance(await counters.reserve([limit], 5), Hold)
    refusal = await counters.reserve([limit], 1)
    assert isinstance(refusal, Refusal) and refusal.resets_in == float("inf")


async def test_settle_releases_a_cancelled_hold(counters: Counters, key: str) -> None:
    """Settling to zero gives the whole hold back."""
    limit = Limit(f"{key}:z", ceiling=10, ttl_s=60)
    hold = await counters.reserve([limit], 10)
    assert isinstance(hold, Hold)
    await counters.settle(hold, 0)
    assert isinstance(await counters.reserve([limit], 10), Hold)
