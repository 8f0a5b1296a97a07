"""``CachedKeyStore``: any key store, with found keys remembered for a few seconds in this process.

Every authenticated request looks its key up, so the lookup is kept off the database for most of
them. Revoking through this store forgets the key at once; a revocation made elsewhere (another
worker, another replica, ``keel keys revoke``) is seen here within ``ttl`` seconds.

While the database is away, a key verified here within the last ``grace`` seconds is still
accepted (one log line says so, at the start of the outage); any other key gets
``KeyStoreUnavailableError`` (503) — not a 401, since it may well be valid. A key revoked elsewhere
during the outage is accepted until the grace runs out.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ..errors import KeyStoreUnavailableError
from ..keys import VirtualKey
from ..telemetry.logs import get_logger
from .base import KeyStore
from .unavailable import store_unavailable

log = get_logger("keel.keys")

__all__ = ["CachedKeyStore"]


class CachedKeyStore:
    """Positive ``find_by_hash`` results cached for ``ttl`` seconds, at most ``max_entries`` of them."""

    def __init__(
        self,
        store: KeyStore,
        ttl: float = 5.0,
        *,
        max_entries: int = 10_000,
        grace: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.grace = grace
        self._max = max_entries
        self._clock = clock
        self._found: dict[str, tuple[float, VirtualKey]] = {}  # key hash -> (when verified, record)
        self._away = False

    async def find_by_hash(self, key_hash: str) -> VirtualKey | None:
        now = self._clock()
        hit = self._found.get(key_hash)
        if hit is not None and hit[0] + self.ttl > now:
            return hit[1]
        try:
            record = await self.store.find_by_hash(key_hash)
        except Exception as error:
            if not store_unavailable(error):
                raise
            return self._during_outage(hit, now, error)
        if self._away:
            self._away = False
            log.warning("key store reachable again")
        self._found.pop(key_hash, None)
        if record is not None:
            if len(self._found) >= self._max:
                del self._found[next(iter(self._found))]  # the oldest entry
            self._found[key_hash] = (now, record)
        return record

    def _during_outage(
        self, hit: tuple[float, VirtualKey] | None, now: float, error: BaseException
    ) -> VirtualKey:
        if not self._away:
            self._away = True
            log.warning(
                "key store unreachable: keys verified in the last grace seconds are accepted meanwhile",
                grace_s=self.grace,
                error=type(error).__name__,
            )
        if hit is not None and hit[0] + self.grace > now:
            return hit[1]
        raise KeyStoreUnavailableError(
            "this key cannot be checked now: the key store is unreachable; try again shortly", retry_after=5
        )

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
