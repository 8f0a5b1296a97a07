"""Cache entries and coalescing leases in Redis, shared by every replica.

Keys are ``keel:`` plus the caller's key; callers put the part that identifies one call in a hash
tag (``…{digest}``), so an entry and its lease share a Redis Cluster slot. Expiry is Redis's own
(``PX``). A waiter learns that a lease ended by polling it every few milliseconds: no subscriber
connection to keep alive, and a waiter is waiting for a whole model call anyway.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from redis.asyncio import Redis

from .base import MapStats
from .redis import connect

__all__ = ["RedisLockNotify", "RedisTTLMap"]

_SCAN_BATCH = 500

# KEYS[1] lease. ARGV[1] token. Delete only a lease this holder still owns.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTTLMap:
    """A ``TTLMap`` in Redis; values are stored as given (the cache compresses large ones)."""

    def __init__(self, redis: Redis, *, prefix: str = "keel:") -> None:
        self.redis = redis
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str) -> RedisTTLMap:
        return cls(connect(url, decode_responses=False))

    async def get(self, key: str) -> bytes | None:
        value = await self.redis.get(self.prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self.redis.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))

    async def delete(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)

    async def clear(self, pattern: str = "*") -> int:
        deleted = 0
        batch: list[bytes] = []
        async for key in self.redis.scan_iter(match=self.prefix + pattern, count=_SCAN_BATCH):
            batch.append(key)
            if len(batch) >= _SCAN_BATCH:
                deleted += await self._unlink(batch)
                batch = []
        return deleted + await self._unlink(batch)

    async def _unlink(self, keys: list[bytes]) -> int:
        # One key per command: the keys of a batch may sit in different Cluster slots.
        if not keys:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.unlink(key)
            return sum(int(n) for n in await pipe.execute())

    async def stats(self, pattern: str = "*") -> MapStats:
        entries = size = 0
        keys = [key async for key in self.redis.scan_iter(match=self.prefix + pattern, count=_SCAN_BATCH)]
        for start in range(0, len(keys), _SCAN_BATCH):
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys[start : start + _SCAN_BATCH]:
                    pipe.strlen(key)
                lengths = await pipe.execute()
            live = [int(n) for n in lengths if int(n) > 0]
            entries += len(live)
            size += sum(live)
        return MapStats(entries=entries, bytes=size)

    async def aclose(self) -> None:
        await self.redis.aclose()


class RedisLockNotify:
    """Leases as ``SET NX PX`` keys; ``unlock`` deletes only its own lease (a Lua compare-and-delete)."""

    def __init__(self, redis: Redis, *, prefix: str = "keel:", poll_s: float = 0.02) -> None:
        self.redis = redis
        self.prefix = prefix
        self.poll_s = poll_s
        self._unlock = redis.register_script(_UNLOCK)

    @classmethod
    def from_url(cls, url: str) -> RedisLockNotify:
        return cls(connect(url, decode_responses=False))

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        token = uuid.uuid4().hex
        taken = await self.redis.set(self.prefix + key, token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        await self._unlock(keys=[self.prefix + key], args=[token])

    async def wait(self, key: str, timeout_s: float) -> bool:
        ends = time.monotonic() + timeout_s
        while await self.redis.exists(self.prefix + key):
            left = ends - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(self.poll_s, left))
        return True

    async def aclose(self) -> None:
        await self.redis.aclose()
