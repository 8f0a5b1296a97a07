"""The cache's stores, opened from the ``cache:`` section: entries, cross-process leases, semantic index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError
from .policies._cache_guard import CacheGuard
from .policies._cache_key import clear_pattern
from .stores.state import open_cache_map, open_locks
from .telemetry.metrics import cache_bytes, cache_lookups, coalesced_calls

if TYPE_CHECKING:
    from .config import Config
    from .policies.cache import SemanticLookup
    from .stores.base import LockNotify, TTLMap

__all__ = ["CacheStores", "cache_url", "clear_cache", "open_cache", "process_counts"]


@dataclass(eq=False)
class CacheStores:
    """Where entries live, the leases that elect one replica per shared call, and the vector index."""

    url: str
    entries: TTLMap
    guard: CacheGuard
    """How every user of these stores runs its work on them (one timeout, one failure log)."""
    locks: LockNotify | None = None
    semantic: SemanticLookup | None = None

    async def aclose(self) -> None:
        for store in (self.entries, self.locks):
            close = getattr(store, "aclose", None)
            if close is not None:
                await close()


def cache_url(config: Config) -> str:
    return config.state if config.cache.backend == "state" else config.cache.backend


def open_cache(config: Config) -> CacheStores | None:
    """The stores for ``config.cache``; ``None`` when caching is off.

    Raises:
        ConfigError: a backend or the semantic extra that is not installed, saying what to install.
    """
    settings = config.cache
    if not settings.enabled:
        return None
    url = cache_url(config)
    try:
        stores = CacheStores(
            url, open_cache_map(url, max_bytes=settings.max_bytes), CacheGuard(settings.timeout)
        )
        if settings.coalesce:
            stores.locks = open_locks(url)
        if settings.semantic.enabled:
            from .semantic import SemanticIndex

            stores.semantic = SemanticIndex(settings.semantic)
    except (ImportError, ValueError) as error:
        raise ConfigError(f"cache: {error}") from None
    return stores


async def clear_cache(
    entries: TTLMap, *, model: str | None = None, key: str | None = None, team: str | None = None
) -> int:
    """Delete the entries of one model, one key's or team's, or all of them; how many went."""
    if key is not None and team is not None:
        raise ValueError("clear by key or by team, not both")
    tenant = f"key:{key}" if key else (f"team:{team}" if team else None)
    return await entries.clear(clear_pattern(model, tenant))


def process_counts() -> dict[str, int]:
    """This process's lookups by result, bytes stored and served, and coalesced calls."""
    counts: dict[str, int] = {}
    for metric, label in ((cache_lookups, "result"), (cache_bytes, "direction"), (coalesced_calls, "source")):
        for family in metric.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    prefix = "coalesced_" if metric is coalesced_calls else ""
                    suffix = "_bytes" if metric is cache_bytes else ""
                    counts[prefix + sample.labels[label] + suffix] = int(sample.value)
    return counts
