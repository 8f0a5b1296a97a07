"""The state protocols: one small protocol per concern, implemented by one module per engine.

Hot state (counters, breaker state, locks, cache entries) lives in memory for one process and in
Redis for many; durable records (the ledger, keys, prompt versions) in SQLite or PostgreSQL
(DESIGN §3). A policy depends on a protocol, never on an engine, and one contract test suite runs
against every engine that implements it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ..keys import VirtualKey

__all__ = [
    "BreakerSettings",
    "BreakerState",
    "BreakerStore",
    "Counters",
    "Hold",
    "KeyStore",
    "LedgerStore",
    "Limit",
    "LockNotify",
    "MapStats",
    "Refusal",
    "TTLMap",
]


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """When a route's circuit opens and for how long."""

    failure_threshold: int = 5
    window: float = 30.0
    open_for: float = 30.0


@dataclass(frozen=True, slots=True)
class BreakerState:
    """A snapshot of one route's circuit, for status pages and tests."""

    state: Literal["closed", "open", "half_open"]
    failures: int
    retry_at: float | None = None


class BreakerStore(Protocol):
    """Per-route circuit state shared by every caller of one process (memory) or of many (Redis).

    ``settings`` may be replaced while running (a config reload); circuits keep their state."""

    settings: BreakerSettings

    async def acquire(self, route: str) -> float | None:
        """``None`` when an attempt may go ahead (taking the single probe when half-open);
        otherwise the seconds until the route may be tried again."""
        ...

    async def release(self, route: str) -> None:
        """Give back a probe whose attempt ended with no verdict (the caller went away)."""
        ...

    async def record_success(self, route: str) -> None: ...

    async def record_failure(self, route: str) -> None: ...

    async def cool_down(self, route: str, seconds: float) -> None:
        """Skip the route for ``seconds`` without counting a failure (a 429's Retry-After)."""
        ...

    async def snapshot(self, route: str) -> BreakerState: ...


@dataclass(frozen=True, slots=True)
class Limit:
    """One windowed counter and its ceiling; the key names its window (``…:day:2026-11-23``) and
    ``ttl_s`` is the time left in it (``None``: a lifetime counter)."""

    key: str
    ceiling: int
    ttl_s: float | None


@dataclass(frozen=True, slots=True)
class Hold:
    """An amount held on some counters until it is settled."""

    keys: tuple[str, ...]
    amount: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """The first limit a reservation would have passed, and how full it was."""

    limit: Limit
    used: int
    resets_in: float


class Counters(Protocol):
    """Integer counters in fixed windows, with atomic all-or-nothing reserve and later settle.

    Amounts are integers (nano-dollars for money, tokens or requests for rate limits), so every
    engine adds exactly. A counter expires with its window.
    """

    async def reserve(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        """Add ``amount`` to every counter, or to none if any would pass its ceiling."""
        ...

    async def settle(self, hold: Hold, actual: int) -> None:
        """Replace the held amount by what was actually used; the rest is released."""
        ...

    async def read(self, keys: Sequence[str]) -> list[int]:
        """Current values (0 for a counter that does not exist)."""
        ...


@dataclass(frozen=True, slots=True)
class MapStats:
    """How much a ``TTLMap`` holds: live entries and the bytes of their values."""

    entries: int
    bytes: int


class TTLMap(Protocol):
    """A key-value map of bytes whose entries expire (cache entries).

    Keys are plain strings chosen by the caller; ``clear`` and ``stats`` take a glob pattern
    (``*``, ``?``), which every engine matches natively (fnmatch, SQLite ``GLOB``, Redis ``SCAN
    MATCH``). An engine may drop entries early to stay within its size bound.
    """

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def clear(self, pattern: str = "*") -> int:
        """Delete every entry whose key matches ``pattern``; how many were deleted."""
        ...

    async def stats(self, pattern: str = "*") -> MapStats: ...


class LockNotify(Protocol):
    """Short leases with a notification to the waiters when the holder finishes (coalescing across
    processes): one holder runs the shared work, the others ``wait`` for it, then read its result
    from where the holder put it (the cache)."""

    async def try_lock(self, key: str, ttl_s: float) -> str | None:
        """A token when this caller now holds the lease for ``ttl_s`` seconds, else ``None``."""
        ...

    async def unlock(self, key: str, token: str) -> None:
        """Release the lease (only if ``token`` still holds it) and wake the waiters."""
        ...

    async def wait(self, key: str, timeout_s: float) -> bool:
        """``True`` once the lease is free (released or expired), ``False`` after ``timeout_s``."""
        ...


class LedgerStore(Protocol):
    """Durable usage records: one per call, attempts inside it.

    ``write`` takes records as ``LedgerRecord.row()`` dicts, or as what the store's own optional
    ``prepare(row)`` made of them: ``LedgerWriter`` prepares each record when it is queued, so that
    a batch write does only the batch's own work on the event loop.
    """

    async def write(self, records: Sequence[Any]) -> None: ...

    async def close(self) -> None: ...


class KeyStore(Protocol):
    """Durable virtual keys, found by the hash of their secret (``keel.keys``); the secret itself is
    returned once, by ``create``, and never stored."""

    async def create(
        self,
        name: str,
        *,
        team: str | None = None,
        models: Iterable[str] | None = None,
        expires_at: datetime | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[VirtualKey, str]:
        """Issue a key; returns its record and its secret. ``ValueError`` for a bad field."""
        ...

    async def get(self, key_id: str) -> VirtualKey | None: ...

    async def find_by_hash(self, key_hash: str) -> VirtualKey | None:
        """The key with this hash, revoked and expired ones included (the caller decides)."""
        ...

    async def list(self, team: str | None = None, include_revoked: bool = False) -> builtins.list[VirtualKey]:
        """Keys oldest first, optionally of one team; revoked ones only when asked."""
        ...

    async def revoke(self, key_id: str) -> bool:
        """Mark a key revoked (keeping its first revocation time); ``False`` if no such key."""
        ...

    async def close(self) -> None: ...
