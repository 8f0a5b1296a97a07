"""Shared state that survives its store: what breakers, rate limits and budgets do while Redis is away.

Each concern follows its own policy (docs/state.md):

- **breakers** (``ResilientBreakers``): circuits in this process while Redis is away, shared again
  when it is back (the in-process ones are forgotten then: Redis holds the replicas' common view);
- **rate limits** (``SharedLimits``): enforced in this process with its share of each limit
  (``state_outage.replicas``: the ceiling divided by the number of replicas), never an error;
- **budgets** (``SharedBudgets``): ``fail_closed`` — a call a budget applies to is refused with
  ``BudgetStateUnavailableError`` (503, before any upstream call); or ``local_allowance`` — each
  replica may reserve up to a configured amount per outage, and what its calls spent is added to the
  budgets when Redis is back (an overspend is bounded by the allowance times the replicas, and logged). A
  per-request cap (``max_cost_usd``) needs no sharing and is kept in this process. Settlements of
  holds taken before the outage are queued (bounded) and applied when Redis is back.

A failure is a connection error or a timeout; the ``StateOutage`` decides when to try Redis again.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import BudgetStateUnavailableError
from ..telemetry.logs import get_logger
from .base import BreakerSettings, BreakerState, BreakerStore, Counters, Hold, Limit, Refusal
from .memory import MemoryBreakerStore, MemoryCounters
from .outage import StateOutage
from .redis import CountersLostError

if TYPE_CHECKING:
    from ..policies._budget_rebuild import BudgetRebuild

__all__ = ["STORE_ERRORS", "ResilientBreakers", "SharedBudgets", "SharedLimits"]

log = get_logger("keel.state")

STORE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    TimeoutError,
    OSError,
)
"""What a store that is away raises (a refused or dropped connection, a timeout)."""

_LOCAL = "local:"  # the keys of holds taken in this process during an outage
_ALLOWANCE = "allowance:"  # the keys of budget holds taken from the local allowance
_NO_CEILING = 2**62
_REPLICAS = "keel:replicas"  # who shares the limits: member -> when it last said so
_NOTE_EVERY_S, _ALIVE_S = 10.0, 60.0
_MAX_QUEUED = 100_000

T = TypeVar("T")


async def _shared_or(
    outage: StateOutage, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
) -> T:
    """``shared()`` while the store answers, else ``local()``."""
    if outage.should_try():
        try:
            result = await shared()
        except STORE_ERRORS as error:
            outage.lost(error)
        else:
            outage.back()
            return result
    return await local()


class ResilientBreakers:
    """A ``BreakerStore`` shared through Redis, with circuits of this process while it is away."""

    def __init__(self, shared: BreakerStore, outage: StateOutage) -> None:
        self.shared = shared
        self.local = MemoryBreakerStore(shared.settings)
        self.outage = outage

    @property
    def settings(self) -> BreakerSettings:
        return self.shared.settings

    @settings.setter
    def settings(self, settings: BreakerSettings) -> None:
        self.shared.settings = self.local.settings = settings

    async def acquire(self, route: str) -> float | None:
        return await _shared_or(
            self.outage, lambda: self.shared.acquire(route), lambda: self.local.acquire(route)
        )

    async def release(self, route: str) -> None:
        await _shared_or(self.outage, lambda: self.shared.release(route), lambda: self.local.release(route))

    async def record_success(self, route: str) -> None:
        await _shared_or(
            self.outage, lambda: self.shared.record_success(route), lambda: self.local.record_success(route)
        )

    async def record_failure(self, route: str) -> None:
        await _shared_or(
            self.outage, lambda: self.shared.record_failure(route), lambda: self.local.record_failure(route)
        )

    async def cool_down(self, route: str, seconds: float) -> None:
        await _shared_or(
            self.outage,
            lambda: self.shared.cool_down(route, seconds),
            lambda: self.local.cool_down(route, seconds),
        )

    async def snapshot(self, route: str) -> BreakerState:
        return await _shared_or(
            self.outage, lambda: self.shared.snapshot(route), lambda: self.local.snapshot(route)
        )

    async def aclose(self) -> None:
        close = getattr(self.shared, "aclose", None)
        if close is not None:
            await close()


class SharedLimits:
    """Rate-limit ``Counters`` through Redis; this process's share of each limit while it is away.

    The share is one over ``replicas`` when configured, else over the number of replicas seen alive
    in the last minute: each one notes itself in Redis (a sorted set, at most every 10 s, with the
    reservations it makes anyway)."""

    def __init__(self, shared: Counters, outage: StateOutage, *, replicas: int | None = None) -> None:
        self.shared = shared
        self.local = MemoryCounters()
        self.outage = outage
        self.replicas = replicas
        self.live = 1  # replicas seen alive when Redis last answered
        self._me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._noted = 0.0

    @property
    def share(self) -> int:
        """How many parts each limit is split into during an outage."""
        return max(1, self.replicas if self.replicas is not None else self.live)

    async def reserve(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        return await _shared_or(
            self.outage, lambda: self._shared(limits, amount), lambda: self._local(limits, amount)
        )

    async def _shared(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        result = await self.shared.reserve(limits, amount)
        now = time.monotonic()
        redis = getattr(self.shared, "redis", None)
        if redis is not None and now - self._noted >= _NOTE_EVERY_S:
            self._noted = now
            async with redis.pipeline(transaction=False) as pipe:
                pipe.zadd(_REPLICAS, {self._me: time.time()})
                pipe.zremrangebyscore(_REPLICAS, "-inf", time.time() - _ALIVE_S)
                pipe.zcard(_REPLICAS)
                pipe.expire(_REPLICAS, int(_ALIVE_S * 2))
                self.live = max(1, int((await pipe.execute())[2]))
        return result

    async def _local(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        share = [
            Limit(_LOCAL + limit.key, math.ceil(limit.ceiling / self.share), limit.ttl_s) for limit in limits
        ]
        result = await self.local.reserve(share, amount)
        if isinstance(result, Refusal):  # name the limit as configured, with its share
            original = next(limit for limit in limits if _LOCAL + limit.key == result.limit.key)
            return Refusal(
                Limit(original.key, result.limit.ceiling, original.ttl_s), result.used, result.resets_in
            )
        return result

    async def settle(self, hold: Hold, actual: int) -> None:
        if hold.keys and hold.keys[0].startswith(_LOCAL):
            await self.local.settle(hold, actual)
            return
        try:
            await self.shared.settle(hold, actual)
        except STORE_ERRORS as error:  # a window's request count: not worth keeping past an outage
            self.outage.lost(error)

    async def read(self, keys: Sequence[str]) -> list[int]:
        return await _shared_or(
            self.outage,
            lambda: self.shared.read(keys),
            lambda: self.local.read([_LOCAL + key for key in keys]),
        )


class SharedBudgets:
    """Budget ``Counters`` through Redis, failing closed — or spending a local allowance — while it
    is away."""

    def __init__(
        self,
        shared: Counters,
        outage: StateOutage,
        rebuild: BudgetRebuild | None = None,
        *,
        allowance: dict[str, int] | None = None,
    ) -> None:
        """``rebuild``: checks, before budgets are enforced from the store (first, and after every
        outage), that the store still has the counters, and rebuilds them from the ledger if not.
        ``allowance``: ``local_allowance``'s amounts per outage (``usd`` in nano-dollars,
        ``tokens``); None: ``fail_closed``."""
        self.shared = shared
        self.local = MemoryCounters()  # per-request caps only: one call's own counter
        self.outage = outage
        self.rebuild = rebuild
        self.allowance = allowance
        self._checked_after: int | None = None  # the outage count when the counters were last checked
        self._queued: deque[tuple[Hold, int]] = deque()
        self._spent: dict[str, int] = {"usd": 0, "tokens": 0}  # of the allowance, this outage
        self._owed: deque[tuple[tuple[Limit, ...], int]] = deque()  # spend to add when the store is back
        self._reported = {"usd": 0, "tokens": 0}  # settled from the allowance, not yet reported
        self._limits: dict[Hold, tuple[Limit, ...]] = {}

    async def reserve(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        if all(":request:" in limit.key for limit in limits):
            return await self.local.reserve(limits, amount)
        if self.outage.should_try():
            try:
                for _ in range(2):  # a second time after finding the counters lost, and rebuilding them
                    if not await self._counters_present():
                        break
                    await self._flush()
                    try:
                        result = await self.shared.reserve(self._guarded(limits), amount)
                    except CountersLostError:  # Redis restarted empty between two operations
                        self._checked_after = None
                        continue
                    self.outage.back()
                    return result
                self.outage.back()
            except STORE_ERRORS as error:
                self.outage.lost(error)
        if self.allowance is not None:
            unit = "tokens" if any(":tokens:" in limit.key for limit in limits) else "usd"
            if self._spent[unit] + amount <= self.allowance[unit]:
                self._spent[unit] += amount
                hold = Hold(tuple(_ALLOWANCE + limit.key for limit in limits), amount)
                self._limits[hold] = tuple(limits)
                return hold
            reason = "this replica's local allowance for the state store's outage is spent"
        else:
            reason = "its counters (the shared state store) cannot be reached"
        raise BudgetStateUnavailableError(
            f"a budget applies to this call and {reason}; no upstream call was made, try again shortly",
            retry_after=self.outage.retry_after(),
        )

    def _guarded(self, limits: Sequence[Limit]) -> list[Limit]:
        """``limits`` and the marker that says the store still holds the counters (checked in the
        same script as the reservation, so a Redis restarted empty is noticed at once)."""
        if self.rebuild is None:
            return list(limits)
        from ..policies._budget_rebuild import MARKER

        return [*limits, Limit(MARKER, -1, None)]

    async def _counters_present(self) -> bool:
        """Whether the store holds the budgets' counters: checked first, and again after every
        outage any concern saw (rebuilt from the ledger if the store lost them)."""
        if self.rebuild is None or self._checked_after == self.outage.outages:
            return True
        if not await self.rebuild.ensure():
            return False
        self._checked_after = self.outage.outages
        if self.rebuild.rebuilt:  # the counters were rebuilt from the ledger, which holds it all
            self._queued.clear()
            self._owed.clear()
        return True

    async def settle(self, hold: Hold, actual: int) -> None:
        if all(":request:" in key for key in hold.keys):
            await self.local.settle(hold, actual)
            return
        limits = self._limits.pop(hold, None)
        if limits is not None:  # spent from the allowance: owed to the shared counters
            unit = "tokens" if any(":tokens:" in limit.key for limit in limits) else "usd"
            self._spent[unit] -= hold.amount - actual
            if actual:
                self._owed.append((limits, actual))
                self._reported[unit] += actual
            return
        try:
            await self.shared.settle(hold, actual)
        except STORE_ERRORS as error:
            self.outage.lost(error)
            if len(self._queued) < _MAX_QUEUED:
                self._queued.append((hold, actual))
            else:
                log.error("budget settlement dropped: too many queued during the state store's outage")

    async def _flush(self) -> None:
        """Apply what waited for the store: settlements of holds taken before the outage, then what
        calls spent from the local allowance (added whatever the ceilings: it was spent), in order."""
        while self._queued:
            hold, actual = self._queued[0]
            await self.shared.settle(hold, actual)
            self._queued.popleft()
        if not self._owed and not any(self._spent.values()):
            return
        rebuilt = not self._owed  # the counters were rebuilt from the ledger, which holds the spend
        while self._owed:
            limits, actual = self._owed[0]
            unbounded = [Limit(limit.key, _NO_CEILING, limit.ttl_s) for limit in limits]
            await self.shared.reserve(unbounded, actual)
            self._owed.popleft()
        if not self._limits:  # no allowance hold is still running: the next outage starts afresh
            self._spent = {"usd": 0, "tokens": 0}
        if any(self._reported.values()):
            log.warning(
                "budget spend made from the local allowance during the outage applied to the budgets",
                usd=self._reported["usd"] / 1e9,
                tokens=self._reported["tokens"],
                via="the ledger (counters rebuilt)" if rebuilt else "the counters",
            )
            self._reported = {"usd": 0, "tokens": 0}

    async def read(self, keys: Sequence[str]) -> list[int]:
        """The counters' values.

        Raises:
            BudgetStateUnavailableError: the store is away (a caller leaves the figures out).
        """
        if all(":request:" in key for key in keys):
            return await self.local.read(keys)
        if self.outage.should_try():
            try:
                values = await self.shared.read(keys)
            except STORE_ERRORS as error:
                self.outage.lost(error)
            else:
                self.outage.back()
                return values
        raise BudgetStateUnavailableError("the budgets' counters cannot be read now", retry_after=None)

    @property
    def queued(self) -> int:
        """Settlements waiting for the store to come back."""
        return len(self._queued)
