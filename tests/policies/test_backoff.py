"""Backoff waits and the process-wide retry budget."""

import random

from keel.policies._backoff import RetryBudget, exponential_jitter


def test_exponential_jitter_grows_and_is_capped() -> None:
    """Retry n waits between half and all of ``min(max, initial * 2**(n-1))``."""
    wait, rng = exponential_jitter(initial=1.0, maximum=4.0), random.Random(1)
    for n, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        for _ in range(20):
            assert ceiling / 2 <= wait(n, rng) <= ceiling


def test_retry_budget_stops_a_retry_storm() -> None:
    """With no time passing, retries are limited to the bucket plus ``ratio`` per call."""
    now = [0.0]
    budget = RetryBudget(ratio=0.1, min_per_second=0, capacity=2, clock=lambda: now[0])
    spent = 0
    for _ in range(100):
        budget.deposit()
        spent += budget.try_spend()
    assert spent <= 2 + 100 * 0.1 + 1
    assert spent >= 10


def test_retry_budget_refills_over_time() -> None:
    """``min_per_second`` lets a quiet gateway retry again after a while."""
    now = [0.0]
    budget = RetryBudget(ratio=0, min_per_second=2, capacity=1, clock=lambda: now[0])
    assert budget.try_spend()
    assert not budget.try_spend()
    now[0] += 0.5
    assert budget.try_spend()
