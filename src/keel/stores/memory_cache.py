"""Cache entries and coalescing leases in this process: an LRU map bounded in bytes, and leases on events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from fnmatch import fnmatchcase

from .base import MapStats

__all__ = ["MemoryLockNotify", "MemoryTTLMap"]


class MemoryTTLMap:
    """Entries expire after their TTL; past ``max_bytes`` the least recently used go first."""

    def __init__(self, max_bytes: int = 64 << 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if key in self._entries:
            self._drop(key)
        if len(value) > self.max_bytes or ttl_s <= 0:
            return
        self._entries[key] = (value, self._clock() + ttl_s)
        self._bytes += len(value)
        self._evict()

    async def delete(self, key: str) -> None:
        if key in self._entries:
            self._drop(key)

    async def clear(self, pattern: str = "*") -> int:
        doomed = [key for key in self._entries if fnmatchcase(key, pattern)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    async def stats(self, pattern: str = "*") -> MapStats:
        now = self._clock()
        live = [
            len(value)
            for key, (value, expires) in self._entries.items()
            if expires > now and fnmatchcase(key, pattern)
        ]
        return MapStats(entries=len(live), bytes=sum(live))

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._bytes -= len(value)

    def _evict(self) -> None:
        now = self._clock()
        if self._bytes <= self.max_bytes:
            return
        for key in [key for key, (_, expires) in self._entries.items() if expires <= now]:
            self._drop(key)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))


class MemoryLockNotify:
    """Leases for the callers of one process; ``wait`` is woken by ``unlock`` or by the lease's expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, tuple[str, float, asyncio.Event]] = {}

    def _live(self, key: str) -> tuple[str, float, asyncio.Event] | None:
        lease = self._leases.get(key)
        if lease is not None and lease[1] <= self._clock():
            del self._leases[key]
            lease[2].set()
            return None
        return lease

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        if self._live(key) is not None:
            return None
        token = uuid.uuid4().hex
        self._leases[key] = (token, self._clock() + ttl_s, asyncio.Event())
        return token

    async def unlock(self, key: str, token: str) -> None:
        lease = self._leases.get(key)
        if lease is not None and lease[0] == token:
            del self._leases[key]
            lease[2].set()

    async def wait(self, key: str, timeout_s: float) -> bool:
        lease = self._live(key)
        if lease is None:
            return True
        left = min(timeout_s, lease[1] - self._clock())
        try:
            async with asyncio.timeout(max(left, 0)):
                await lease[2].wait()
        except TimeoutError:
            return self._live(key) is None
        return True
