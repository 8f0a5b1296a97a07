"""In-process state for the embedded default (``state: memory://``): one process, no setup."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .base import BreakerSettings, BreakerState, Hold, Limit, Refusal

__all__ = ["MemoryBreakerStore", "MemoryCounters"]


@dataclass(slots=True)
class _Circuit:
    failures: deque[float] = field(default_factory=deque)
    opened_until: float | None = None
    half_open: bool = False
    probe_out: bool = False
    cooldown_until: float = 0.0


class MemoryBreakerStore:
    """Closed → open after ``failure_threshold`` failures in ``window`` s → half-open after
    ``open_for`` s, where one probe decides: success closes, failure opens again."""

    def __init__(self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def _circuit(self, route: str) -> _Circuit:
        circuit = self._circuits.get(route)
        if circuit is None:
            circuit = self._circuits[route] = _Circuit()
        return circuit

    async def acquire(self, route: str) -> float | None:
        circuit = self._circuit(route)
        now = self._clock()
        if circuit.cooldown_until > now:
            return circuit.cooldown_until - now
        if circuit.opened_until is None:
            return None
        if now < circuit.opened_until:
            return circuit.opened_until - now
        if circuit.probe_out:
            return self.settings.open_for / 10
        circuit.half_open = circuit.probe_out = True
        return None

    async def release(self, route: str) -> None:
        self._circuit(route).probe_out = False

    async def record_success(self, route: str) -> None:
        circuit = self._circuit(route)
        circuit.failures.clear()
        circuit.opened_until = None
        circuit.half_open = circuit.probe_out = False

    async def record_failure(self, route: str) -> None:
        circuit = self._circuit(route)
        now = self._clock()
        if circuit.half_open:
            self._open(circuit, now)
            return
        circuit.failures.append(now)
        while circuit.failures and circuit.failures[0] < now - self.settings.window:
            circuit.failures.popleft()
        if len(circuit.failures) >= self.settings.failure_threshold:
            self._open(circuit, now)

    def _open(self, circuit: _Circuit, now: float) -> None:
        circuit.opened_until = now + self.settings.open_for
        circuit.half_open = circuit.probe_out = False
        circuit.failures.clear()

    async def cool_down(self, route: str, seconds: float) -> None:
        circuit = self._circuit(route)
        circuit.cooldown_until = max(circuit.cooldown_until, self._clock() + seconds)

    async def snapshot(self, route: str) -> BreakerState:
        circuit = self._circuit(route)
        now = self._clock()
        if circuit.opened_until is None:
            return BreakerState("closed", len(circuit.failures), circuit.cooldown_until or None)
        if now < circuit.opened_until:
            return BreakerState("open", 0, circuit.opened_until)
        return BreakerState("half_open", 0, None)


class MemoryCounters:
    """Counters in a dict; one event loop makes each check-then-add atomic (no await between)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[int, float | None]] = {}

    def _entry(self, key: str, now: float) -> tuple[int, float | None]:
        entry = self._values.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= now:
            del self._values[key]
            entry = None
        return entry or (0, None)

    async def reserve(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        now = self._clock()
        for limit in limits:
            used, expires = self._entry(limit.key, now)
            if used + amount > limit.ceiling:
                ends = expires if expires is not None else (now + limit.ttl_s if limit.ttl_s else None)
                return Refusal(limit, used, ends - now if ends is not None else float("inf"))
        for limit in limits:
            used, expires = self._entry(limit.key, now)
            if expires is None and limit.ttl_s is not None:
                expires = now + limit.ttl_s
            self._values[limit.key] = (used + amount, expires)
        return Hold(tuple(limit.key for limit in limits), amount)

    async def settle(self, hold: Hold, actual: int) -> None:
        now = self._clock()
        for key in hold.keys:
            used, expires = self._entry(key, now)
            if key in self._values:  # a hold whose window has ended settles nothing
                self._values[key] = (max(used + actual - hold.amount, 0), expires)

    async def read(self, keys: Sequence[str]) -> list[int]:
        now = self._clock()
        return [self._entry(key, now)[0] for key in keys]
