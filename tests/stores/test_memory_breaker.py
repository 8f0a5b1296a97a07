"""The circuit breaker's state machine, driven by a fake clock."""

from keel.stores.base import BreakerSettings
from keel.stores.memory import MemoryBreakerStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_opens_after_threshold_and_probes_once_when_half_open() -> None:
    """Closed → open after N failures → one probe after ``open_for`` → closed on success."""
    clock = Clock()
    store = MemoryBreakerStore(BreakerSettings(failure_threshold=2, window=10, open_for=5), clock)
    assert await store.acquire("r") is None
    await store.record_failure("r")
    assert await store.acquire("r") is None
    await store.record_failure("r")
    assert (await store.snapshot("r")).state == "open"
    assert await store.acquire("r") == 5
    clock.now += 5
    assert await store.acquire("r") is None  # the probe
    assert await store.acquire("r") is not None  # nobody else while it is out
    await store.record_success("r")
    assert (await store.snapshot("r")).state == "closed"
    assert await store.acquire("r") is None


async def test_failed_probe_opens_again() -> None:
    """A failure while half-open opens the circuit for another ``open_for``."""
    clock = Clock()
    store = MemoryBreakerStore(BreakerSettings(failure_threshold=1, window=10, open_for=5), clock)
    await store.record_failure("r")
    clock.now += 5
    assert await store.acquire("r") is None
    await store.record_failure("r")
    assert await store.acquire("r") == 5


async def test_failures_outside_the_window_do_not_add_up() -> None:
    """Only failures within ``window`` seconds count toward the threshold."""
    clock = Clock()
    store = MemoryBreakerStore(BreakerSettings(failure_threshold=2, window=10, open_for=5), clock)
    await store.record_failure("r")
    clock.now += 11
    await store.record_failure("r")
    assert (await store.snapshot("r")).state == "closed"


async def test_cool_down_skips_without_counting() -> None:
    """A 429 cooldown makes the route unavailable until it passes, and leaves the circuit closed."""
    clock = Clock()
    store = MemoryBreakerStore(BreakerSettings(), clock)
    await store.cool_down("r", 3)
    assert await store.acquire("r") == 3
    clock.now += 3
    assert await store.acquire("r") is None
    assert (await store.snapshot("r")).failures == 0


async def test_released_probe_lets_the_next_caller_probe() -> None:
    """A probe whose caller went away gives the probe back."""
    clock = Clock()
    store = MemoryBreakerStore(BreakerSettings(failure_threshold=1, open_for=1), clock)
    await store.record_failure("r")
    clock.now += 1
    assert await store.acquire("r") is None
    await store.release("r")
    assert await store.acquire("r") is None
