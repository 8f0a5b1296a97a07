"""Virtual keys while their database is away: a key verified recently is still accepted (within
``server.key_grace``); another gets a 503 ``key_store_unavailable`` — not a 401 — until the
database is back, and then the usual answer."""

from __future__ import annotations

import asyncio

import pytest

from keel import KeyStoreUnavailableError
from keel.keys import hash_key
from keel.stores.state import open_key_store

from ._relay import CuttableRelay


async def test_recent_keys_are_accepted_and_others_wait_for_the_database(
    relayed: tuple[CuttableRelay, str],
) -> None:
    relay, database = relayed
    store = open_key_store(database, cache_ttl=0.05, grace=60)
    known, secret = await store.create("known")
    other, other_secret = await store.create("other")
    assert (await store.find_by_hash(hash_key(secret))).id == known.id  # type: ignore[union-attr]
    await asyncio.sleep(0.1)  # past the cache's ttl: the next lookup asks the database

    await relay.cut()
    found = await store.find_by_hash(hash_key(secret))
    assert found is not None and found.id == known.id  # verified a moment ago: within the grace
    with pytest.raises(KeyStoreUnavailableError) as info:
        await store.find_by_hash(hash_key(other_secret))  # never verified here
    assert info.value.status == 503 and info.value.code == "key_store_unavailable"
    with pytest.raises(KeyStoreUnavailableError):
        await store.find_by_hash(hash_key("sk-keel-not-a-key"))

    await relay.start()
    again = await store.find_by_hash(hash_key(other_secret))
    assert again is not None and again.id == other.id
    assert await store.find_by_hash(hash_key("sk-keel-not-a-key")) is None
    await store.close()


async def test_past_the_grace_a_verified_key_waits_too(relayed: tuple[CuttableRelay, str]) -> None:
    relay, database = relayed
    store = open_key_store(database, cache_ttl=0.05, grace=0.1)
    _, secret = await store.create("known")
    assert await store.find_by_hash(hash_key(secret)) is not None
    await asyncio.sleep(0.2)
    await relay.cut()
    with pytest.raises(KeyStoreUnavailableError):
        await store.find_by_hash(hash_key(secret))
    await relay.start()
    await store.close()
