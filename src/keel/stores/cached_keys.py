"""``CachedKeyStore``: any key store, with found keys remembered for a few seconds in this process.

Every authenticated request looks its key up, so the lookup is kept off the database for most of
them. Revoking through this store forgets the key at once; a revocation made elsewhere (another
worker, another replica, ``keel keys revoke``) is seen here within ``ttl`` seconds.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ..keys import VirtualKey
from .base import KeyStore

__all__ = ["CachedKeyStore"]


class CachedKeyStore:
    """Positive ``find_by_hash`` results cached for ``ttl`` seconds, at most ``max_entries`` of them."""

    def __init__(
        self,
        store: KeyStore,
        ttl: float = 5.0,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._found: dict[str, tuple[float, VirtualKey]] = {}

    async def find_by_hash(self, key_hash: str) -> VirtualKey | None:
        now = self._clock()
        hit = self._found.get(key_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await self.store.find_by_hash(key_hash)
        self._found.pop(key_hash, None)
        if record is not None:
            if len(self._found) >= self._max:
                del self._found[next(iter(self._found))]  # the oldest entry
            self._found[key_hash] = (now + self.ttl, record)
        return record

    async def revoke(self, key_id: str) -> bool:
        revoked = await self.store.revoke(key_id)
        self.forget(key_id)
        return revoked

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache, so its next use reads the store."""
        for key_hash, (_, record) in list(self._found.items()):
            if record.id == key_id:
                del self._found[key_hash]

    async def create(
        self,
        name: str,
        *,
        team: str | None = None,
        models: Iterable[str] | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[VirtualKey, str]:
        return await self.store.create(
            name, team=team, models=models, expires_at=expires_at, metadata=metadata
        )

    async def get(self, key_id: str) -> VirtualKey | None:
        return await self.store.get(key_id)

    async def list(self, team: str | None = None, include_revoked: bool = False) -> builtins.list[VirtualKey]:
        return await self.store.list(team, include_revoked)

    async def close(self) -> None:
        self._found.clear()
        await self.store.close()
