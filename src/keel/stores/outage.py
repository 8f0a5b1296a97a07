"""``StateOutage``: whether the shared state store (Redis) answers, seen from this process.

The first failed operation starts an outage: one warning line, the ``keel_state_store_up`` gauge
at 0. While it lasts, callers use their local fallback and the store is tried again at most once
per backoff interval (0.5 s, doubling to 5 s), so a dead store costs no connect attempt per request.
The first operation that succeeds again ends it: one line saying how long it lasted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..telemetry.logs import get_logger
from ..telemetry.metrics import state_outages, state_store_up

__all__ = ["StateOutage"]

log = get_logger("keel.state")

_FIRST_PROBE_S = 0.5
_MAX_PROBE_S = 5.0


class StateOutage:
    """Shared by every store wrapper of one state URL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.since: float | None = None
        self.outages = 0
        """How many outages this process has seen (a store back from one may have lost its data)."""
        self._next_probe = 0.0
        self._wait = _FIRST_PROBE_S
        state_store_up.set(1)

    @property
    def away(self) -> bool:
        return self.since is not None

    def should_try(self) -> bool:
        """Whether to try the store now: always while it is up; once per interval while it is away."""
        if self.since is None:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._wait
        self._wait = min(self._wait * 2, _MAX_PROBE_S)
        return True

    def lost(self, error: BaseException) -> None:
        """An operation failed on the store's side."""
        if self.since is not None:
            return
        now = self._clock()
        self.since, self._next_probe, self._wait = now, now + _FIRST_PROBE_S, _FIRST_PROBE_S * 2
        self.outages += 1
        state_store_up.set(0)
        state_outages.inc()
        log.warning(
            "state store unreachable: breakers and rate limits run in this process, budgets refuse "
            "calls until it is back",
            error=f"{type(error).__name__}: {error}",
        )

    def back(self) -> None:
        """An operation succeeded."""
        if self.since is None:
            return
        lasted = self._clock() - self.since
        self.since, self._wait = None, _FIRST_PROBE_S
        state_store_up.set(1)
        log.warning("state store reachable again", outage_s=round(lasted, 3))

    def retry_after(self) -> float:
        """Seconds until the next look at the store (what a refused caller is told)."""
        return max(self._next_probe - self._clock(), _FIRST_PROBE_S)
