"""Budget alerts: a threshold crossed is announced once per window — log, metric, optional webhook."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ..stores.base import Counters, Hold, Limit
from .logs import get_logger
from .metrics import budget_alerts

if TYPE_CHECKING:
    from ..config import BudgetConfig

__all__ = ["BudgetAlerts"]

log = get_logger("keel.alerts")


class BudgetAlerts:
    """Fires each (budget, subject, threshold) once per window, across replicas when counters are shared.

    The once-only flag is itself a counter with a ceiling of one, so Redis makes it exact across
    replicas. The webhook is posted in the background, retried, and never delays a request.
    """

    def __init__(self, counters: Counters, *, webhook_url: str | None = None, attempts: int = 3) -> None:
        self.counters = counters
        self.webhook_url = webhook_url
        self.attempts = attempts
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def spent(
        self, budget: BudgetConfig, subject: str, key: str, used: int, ceiling: int, ttl_s: float | None
    ) -> None:
        ratio = used / ceiling if ceiling else 1.0
        for threshold in sorted(budget.alert_at):
            if ratio < threshold:
                break
            flag = Limit(f"{key}:alert:{threshold}", ceiling=1, ttl_s=ttl_s)
            if isinstance(await self.counters.reserve([flag], 1), Hold):
                self._fire(budget, subject, threshold, used, ceiling)

    def _fire(self, budget: BudgetConfig, subject: str, threshold: float, used: int, ceiling: int) -> None:
        event = {
            "budget": budget.label,
            "scope": budget.scope,
            "subject": subject,
            "window": budget.window,
            "threshold": threshold,
        }
        if budget.limit_usd is not None:
            event["committed_usd"] = f"{used / 1e9:.6f}"  # spent, plus what calls in flight hold
            event["limit_usd"] = str(budget.limit_usd)
        else:
            event["committed_tokens"], event["limit_tokens"] = used, budget.limit_tokens
        log.warning("budget threshold crossed", **event)
        budget_alerts.labels(budget=budget.label, threshold=str(threshold)).inc()
        self.notify(event)

    def notify(self, event: dict[str, Any]) -> None:
        """Post ``event`` to the webhook, if there is one, in the background (other alerts use it too:
        a prompt guard's rollback)."""
        if self.webhook_url:
            task = asyncio.create_task(self._post(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, event: dict[str, Any]) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        assert self.webhook_url is not None
        for attempt in range(self.attempts):
            try:
                async with self._session.post(
                    self.webhook_url, data=orjson.dumps(event), headers={"content-type": "application/json"}
                ) as response:
                    if response.status < 500:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.5 * 2**attempt)
        log.error(
            "alert webhook failed", alert=event.get("budget") or event.get("alert"), attempts=self.attempts
        )

    async def aclose(self) -> None:
        """Let pending webhooks finish (briefly), then close."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._session is not None:
            await self._session.close()
