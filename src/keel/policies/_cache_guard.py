"""``CacheGuard``: a cache backend's work within its timeout, where a failure can only cost a miss.

A failure is counted (``keel_cache_lookups_total{result="error"}``) and logged once per 10 s while it
lasts, not once per call; the caller gets the fallback value it named.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..telemetry.logs import get_logger
from ..telemetry.metrics import cache_lookups

__all__ = ["CacheGuard"]

log = get_logger("keel.cache")
T = TypeVar("T")


class CacheGuard:
    """Runs backend work for the response cache (chat entries and token counts alike)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._quiet_until = 0.0

    async def __call__(self, work: Awaitable[T], failed: Any) -> T | Any:
        """``work``'s result, or ``failed`` when the backend errs or takes longer than its timeout."""
        try:
            async with asyncio.timeout(self.timeout):
                return await work
        except Exception as error:  # the cache must never fail a call
            self.failed("cache backend failed", error)
            return failed

    def failed(self, what: str, error: BaseException) -> None:
        cache_lookups.labels(result="error").inc()
        now = time.monotonic()
        if now >= self._quiet_until:  # one line per 10 s while a backend is down, not one per call
            self._quiet_until = now + 10
            log.warning(what + "; serving as a miss", error=type(error).__name__)
