"""Backoff strategies and the process-wide retry budget: small objects the retry loop composes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RetryBudget", "exponential_jitter"]


@dataclass(frozen=True, slots=True)
class exponential_jitter:
    """Equal jitter: a uniform wait in ``[c/2, c]`` before retry ``n``, ``c = min(max, initial*2**(n-1))``."""

    initial: float = 0.25
    maximum: float = 8.0

    def __call__(self, retry_number: int, rng: random.Random) -> float:
        ceiling = min(self.maximum, self.initial * 2 ** (retry_number - 1))
        return rng.uniform(ceiling / 2, ceiling)


class RetryBudget:
    """A token bucket shared by every call of one gateway, so an outage cannot become a retry storm.

    Each call deposits ``ratio`` of a token, each retry spends one, and ``min_per_second`` tokens
    trickle in regardless so a quiet gateway can still retry.
    """

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 5.0,
        capacity: float = 50.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.min_per_second)
        self._updated = now

    def deposit(self) -> None:
        """Record one call."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens + self.ratio)

    def try_spend(self) -> bool:
        """Take one retry token, if there is one."""
        self._refill()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
