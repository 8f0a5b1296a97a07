"""``RetryPolicy``: the one retry layer — same-route retries, backoff, Retry-After, retry budgets."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import RateLimitError, UpstreamError
from ..telemetry.logs import get_logger
from ._backoff import RetryBudget, exponential_jitter

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from .base import RouteHandler

__all__ = ["RetryPolicy", "RetrySettings"]

log = get_logger("keel.retry")

_TIMER_SLACK_S = 0.01


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How often and how patiently one route is retried within one call."""

    max_attempts: int = 3
    initial_backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 5.0
    per_call_retries: int = 4
    budget_ratio: float = 0.2
    budget_min_per_second: float = 5.0


class RetryPolicy:
    """Retries the same route when the error's class allows it and time and budgets are left.

    A Retry-After longer than ``max_retry_after`` (or than the time left in the call) is not waited
    for: the error goes to the router, which moves to the next route at once.
    """

    def __init__(
        self,
        settings: RetrySettings,
        *,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.budget = budget or RetryBudget(settings.budget_ratio, settings.budget_min_per_second)
        self._wait = exponential_jitter(settings.initial_backoff, settings.max_backoff)
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def __call__(self, call: Call, route: Route, call_next: RouteHandler) -> Reply:
        self.budget.deposit()
        attempt = 1
        while True:
            try:
                return await call_next(call, route)
            except UpstreamError as error:
                delay = self._delay(call, error, attempt)
                if delay is None:
                    raise
                log.info(
                    "retrying",
                    route=route.name,
                    attempt=attempt,
                    reason=error.outcome,
                    delay_s=round(delay, 3),
                    request_id=call.request_id,
                )
            await self._sleep(delay)
            attempt += 1
            call.attempt_reason = "retry"

    def _delay(self, call: Call, error: UpstreamError, attempt: int) -> float | None:
        """Seconds to wait before retrying, or ``None`` to give the error to the router."""
        if not error.retry_same_route or attempt >= self.settings.max_attempts or call.retries_left <= 0:
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.settings.max_retry_after:
                return None
            # The breaker cools the route down for the same Retry-After; a timer that fires a
            # millisecond early (uvloop's resolution) would find the route still cooling.
            delay = error.retry_after + _TIMER_SLACK_S
        else:
            delay = self._wait(attempt, self._rng)
        if delay >= call.deadline.remaining():
            return None
        if not self.budget.try_spend():
            log.warning("retry budget exhausted", route=call.request.model)
            return None
        call.retries_left -= 1
        return delay
