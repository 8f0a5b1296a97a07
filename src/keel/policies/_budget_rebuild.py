"""Budget counters rebuilt from the ledger when the shared store has lost them.

A Redis restarted without persistence comes back empty: enforced from it as it is, every budget
would start again at zero and a spent budget could be spent twice. So before budgets are enforced
from Redis — the first time in a process, and after every outage — Keel looks for a marker key; if
it is missing, one replica (under a lease) sums the ledger's spend for every scope and window a
budget can have, since each window's start, writes those counters, then sets the marker. The others
wait for the marker (up to 5 s; then refuse budgeted calls with ``budget_state_unavailable``).

The ledger must be the replicas' shared database (PostgreSQL) for the rebuilt counters to hold
everyone's spend; calls in flight during the loss (their holds, and records not yet written) are the
bounded difference.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..telemetry.logs import get_logger
from ._windows import Window, current_window
from .budget import PREFIX, budget_key

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..config import BudgetConfig

__all__ = ["MARKER", "BudgetRebuild"]

log = get_logger("keel.budget")

MARKER = f"{PREFIX}:counters-present"
_LEASE = f"{PREFIX}:rebuilding"
_LEASE_MS = 30_000
_WAIT_STEP_S, _WAIT_STEPS = 0.02, 250  # up to 5 s
_WINDOWS: tuple[Window, ...] = ("hour", "day", "month", "lifetime")
_BY = {"key": "key", "team": "team", "user": "user", "model": "model"}


class BudgetRebuild:
    """Checks for the marker and rebuilds the counters when it is gone."""

    def __init__(self, redis: Redis, ledger: Any, budgets: Sequence[BudgetConfig] = ()) -> None:
        """``ledger``: a store with ``spend(by, since=)`` (SQLite or PostgreSQL); None: no ledger to
        rebuild from (the counters are then trusted as they are)."""
        self.redis = redis
        self.ledger = ledger
        self.budgets = list(budgets)
        self.rebuilt = False
        """Whether the last ``ensure`` found the counters gone (rebuilt by this or another replica):
        then what was owed to the old counters is in the ledger, and must not be added again."""

    async def ensure(self) -> bool:
        """Whether budgets may be enforced from the store now (rebuilding first when needed).

        Raises:
            redis errors: the store is away.
        """
        self.rebuilt = False
        if self.ledger is None or await self.redis.exists(MARKER):
            return True
        self.rebuilt = True
        token = secrets.token_hex(8)
        if not await self.redis.set(_LEASE, token, nx=True, px=_LEASE_MS):
            return await self._other_rebuilds()
        try:
            written = await self._rebuild()
            await self.redis.set(MARKER, "1")
        finally:
            if await self.redis.get(_LEASE) in (token, token.encode()):
                await self.redis.delete(_LEASE)
        log.warning(
            "budget counters rebuilt from the ledger: the state store had lost them", counters=written
        )
        return True

    async def _other_rebuilds(self) -> bool:
        """Another replica holds the lease: wait (briefly) for its marker."""
        for _ in range(_WAIT_STEPS):
            await asyncio.sleep(_WAIT_STEP_S)
            if await self.redis.exists(MARKER):
                return True
        return False  # still rebuilding: budgeted calls are refused until it is done

    async def _rebuild(self) -> int:
        now = datetime.now(UTC)
        values: dict[str, tuple[int, float | None]] = {}
        for scope, window in self._scopes():
            label_start = _window_start(window, now)
            rows = await self.ledger.spend([_BY[scope]] if scope in _BY else [], since=label_start)
            ttl = current_window(window, now)[1]
            for row in rows:
                subject = "all" if scope == "global" else row.get(_BY[scope])
                if subject is None:
                    continue
                nano, tokens = int(row["cost_usd"] * 10**9), int(row["tokens"])
                values[budget_key(scope, str(subject), window, "usd", now)] = (nano, ttl)
                values[budget_key(scope, str(subject), window, "tokens", now)] = (tokens, ttl)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, (value, ttl) in values.items():
                if ttl is None:
                    pipe.set(key, value)
                else:
                    pipe.set(key, value, px=max(1, int(ttl * 1000)))
            await pipe.execute()
        return len(values)

    def _scopes(self) -> list[tuple[str, Window]]:
        """Every (scope, window) a budget can count in: the config's, and a key's own (any window)."""
        found: set[tuple[str, Window]] = {("key", window) for window in _WINDOWS}
        for budget in self.budgets:
            if budget.window != "request":
                found.add((budget.scope, budget.window))
        return sorted(found)


def _window_start(window: Window, now: datetime) -> float | None:
    """When ``window``'s current period began (epoch seconds, UTC calendar); None for ``lifetime``."""
    if window == "lifetime":
        return None
    start = now.replace(minute=0, second=0, microsecond=0)
    if window in ("day", "month"):
        start = start.replace(hour=0)
    if window == "month":
        start = start.replace(day=1)
    return start.timestamp()
