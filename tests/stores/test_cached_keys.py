"""The key lookup cache: found keys are remembered for a TTL, revocations here are seen at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from keel.keys import hash_key
from keel.stores.cached_keys import CachedKeyStore
from keel.stores.sqlite import SQLiteKeyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[CachedKeyStore, SQLiteKeyStore, Clock]]:
    """A cached store, and a second plain store on the same file standing for another process."""
    clock = Clock()
    cached = CachedKeyStore(SQLiteKeyStore(tmp_path / "k.db"), ttl=5.0, max_entries=3, clock=clock)
    other = SQLiteKeyStore(tmp_path / "k.db")
    yield cached, other, clock
    await cached.close()
    await other.close()


async def test_revocation_elsewhere_is_seen_after_the_ttl(
    stores: tuple[CachedKeyStore, SQLiteKeyStore, Clock],
) -> None:
    """A key revoked by another process still looks active here until the cached entry expires."""
    cached, other, clock = stores
    record, secret = await cached.create("k")
    assert (await cached.find_by_hash(hash_key(secret))) == record
    await other.revoke(record.id)
    clock.now += 4.9
    found = await cached.find_by_hash(hash_key(secret))
    assert found is not None and found.status() == "active"
    clock.now += 0.2
    found = await cached.find_by_hash(hash_key(secret))
    assert found is not None and found.status() == "revoked"


async def test_revoking_through_the_cache_takes_effect_at_once(
    stores: tuple[CachedKeyStore, SQLiteKeyStore, Clock],
) -> None:
    """Revoking through the cached store drops the key from the cache immediately."""
    cached, _, _ = stores
    record, secret = await cached.create("k")
    await cached.find_by_hash(hash_key(secret))
    assert await cached.revoke(record.id)
    found = await cached.find_by_hash(hash_key(secret))
    assert found is not None and found.status() == "revoked"


async def test_misses_are_not_cached(stores: tuple[CachedKeyStore, SQLiteKeyStore, Clock]) -> None:
    """A key created elsewhere right after a failed lookup works on the next request."""
    cached, other, _ = stores
    assert await cached.find_by_hash(hash_key("sk-keel-" + "a" * 43)) is None
    record, secret = await other.create("new")
    assert await cached.find_by_hash(hash_key(secret)) == record


async def test_the_cache_holds_at_most_max_entries(
    stores: tuple[CachedKeyStore, SQLiteKeyStore, Clock],
) -> None:
    """Past ``max_entries`` the oldest entry goes, so memory stays bounded under many keys."""
    cached, _, _ = stores
    secrets_ = [(await cached.create(f"k{i}"))[1] for i in range(5)]
    for secret in secrets_:
        await cached.find_by_hash(hash_key(secret))
    assert len(cached._found) == 3
    assert set(cached._found) == {hash_key(s) for s in secrets_[2:]}
