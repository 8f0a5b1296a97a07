"""Hot-state engines chosen by the ``state:`` URL, each imported only when chosen."""

from __future__ import annotations

from .base import BreakerSettings, BreakerStore
from .memory import MemoryBreakerStore

__all__ = ["open_breaker_store"]


def open_breaker_store(url: str, settings: BreakerSettings) -> BreakerStore:
    """``memory://`` for one process; ``redis://host:port/db`` shared by many."""
    if url.startswith("memory://"):
        return MemoryBreakerStore(settings)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis import RedisBreakerStore
        except ImportError:
            raise ImportError("state: redis:// needs the redis extra: pip install 'keel[redis]'") from None
        return RedisBreakerStore.from_url(url, settings)
    raise ValueError(f"unknown state URL {url.split('://')[0]}://; use memory:// or redis://")
