"""``BudgetPolicy``: budgets as reservations, per attempt — they cannot be overspent.

Before each attempt (the first, a retry, a fallback, a re-ask) the attempt's worst-case cost is
reserved atomically against every budget that applies; when it ends, the reservation is settled to
what the attempt actually cost and the rest is released. A reservation that does not fit stops the
call with ``BudgetExceededError`` before the attempt reaches any provider (DESIGN §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Protocol

from ..config import BudgetConfig
from ..errors import BudgetExceededError
from ..stores.base import Counters, Hold, Limit, Refusal
from ._windows import current_window

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from ..types import Attempt, ChatRequest
    from .base import Handler

__all__ = ["BudgetPolicy", "WorstCase", "to_nano"]

NANO = Decimal(10) ** 9
PREFIX = "{keel-budget}"  # one hash tag: a reservation over many budgets is one Redis Cluster slot


class WorstCase(Protocol):
    """The most one attempt of ``request`` on ``route`` can cost, in USD."""

    def __call__(self, route: Route, request: ChatRequest) -> Decimal: ...


class Alerter(Protocol):
    async def spent(
        self, budget: BudgetConfig, subject: str, key: str, used: int, ceiling: int, ttl_s: float | None
    ) -> None: ...


def to_nano(usd: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """USD as integer nano-dollars, the unit counters add exactly."""
    return int((usd * NANO).to_integral_value(rounding=rounding))


@dataclass(frozen=True, slots=True)
class _Applies:
    """One budget as it applies to one call: which counter, and its ceiling."""

    budget: BudgetConfig
    subject: str
    key: str
    ceiling: int
    ttl_s: float | None

    def limit(self) -> Limit:
        return Limit(self.key, self.ceiling, self.ttl_s)


class BudgetPolicy:
    """Reserves each attempt's worst case against every applicable budget, then settles it."""

    def __init__(
        self,
        budgets: Sequence[BudgetConfig],
        counters: Counters,
        worst_case: WorstCase,
        alerter: Alerter | None = None,
    ) -> None:
        self.budgets = list(budgets)
        self.counters = counters
        self.worst_case = worst_case
        self.alerter = alerter

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        applies = self._applicable(call)
        if applies:
            call.listeners.append(_Reservations(self, applies))
        return await call_next(call)

    def _applicable(self, call: Call) -> list[_Applies]:
        subjects = {
            "global": "all",
            "key": call.options.get("key_id"),
            "team": call.options.get("team"),
            "user": call.request.user,
            "model": call.request.model,
        }
        applies = []
        for budget in self.budgets:
            subject = subjects[budget.scope]
            if subject is None or (budget.match is not None and budget.match != subject):
                continue
            applies.append(self._applied(call, budget, str(subject)))
        key_budget = call.options.get("key_budget")
        if key_budget is not None and subjects["key"] is not None:
            limit, window = key_budget
            own = BudgetConfig(
                name=f"key {subjects['key']} {window}",
                scope="key",
                match=str(subjects["key"]),
                window=window,
                limit_usd=Decimal(str(limit)),
            )
            applies.append(self._applied(call, own, str(subjects["key"])))
        cap = call.options.get("max_cost_usd")
        if cap is not None:
            request_cap = BudgetConfig(
                name="per-request cost cap", window="request", limit_usd=Decimal(str(cap))
            )
            applies.append(self._applied(call, request_cap, call.request_id))
        return applies

    @staticmethod
    def _applied(call: Call, budget: BudgetConfig, subject: str) -> _Applies:
        ttl: float | None
        if budget.window == "request":
            label, ttl = call.request_id, max(call.deadline.remaining(), 0) + 60
        else:
            label, ttl = current_window(budget.window)
        key = f"{PREFIX}:{budget.scope}:{subject}:{budget.window}:{label}"
        return _Applies(budget, subject, key, to_nano(budget.limit_usd, ROUND_HALF_UP), ttl)


class _Reservations:
    """The attempt listener one call carries: its holds, keyed by attempt."""

    def __init__(self, policy: BudgetPolicy, applies: list[_Applies]) -> None:
        self.policy = policy
        self.applies = applies
        self.holds: dict[int, Hold] = {}

    async def attempt_started(self, call: Call, route: Route, attempt: Attempt) -> None:
        worst = self.policy.worst_case(route, call.request)
        amount = to_nano(worst, ROUND_CEILING)
        result = await self.policy.counters.reserve([applies.limit() for applies in self.applies], amount)
        if isinstance(result, Refusal):
            raise _refused(result, self.applies, worst)
        self.holds[id(attempt)] = result
        used = await self.policy.counters.read([applies.key for applies in self.applies])
        call.options["budget_remaining_usd"] = min(
            (
                Decimal(applies.ceiling - value) / NANO
                for applies, value in zip(self.applies, used, strict=True)
            ),
            default=None,
        )

    async def attempt_ended(self, call: Call, route: Route, attempt: Attempt) -> None:
        hold = self.holds.pop(id(attempt), None)
        if hold is None:
            return
        await self.policy.counters.settle(hold, to_nano(attempt.cost or Decimal(0)))
        alerter = self.policy.alerter
        if alerter is None:
            return
        used = await self.policy.counters.read([applies.key for applies in self.applies])
        for applies, value in zip(self.applies, used, strict=True):
            await alerter.spent(
                applies.budget, applies.subject, applies.key, value, applies.ceiling, applies.ttl_s
            )


def _refused(refusal: Refusal, applies: list[_Applies], worst: Decimal) -> BudgetExceededError:
    which = next(a for a in applies if a.key == refusal.limit.key)
    used = Decimal(refusal.used) / NANO
    label = which.budget.label
    if which.budget.window in ("request", "lifetime"):
        when, retry_after = "", None
    else:
        when, retry_after = f"; it resets in {_duration(refusal.resets_in)}", refusal.resets_in
    return BudgetExceededError(
        f"budget {label!r} (${which.budget.limit_usd}) cannot cover this call: ${used:.6f} used, "
        f"the next attempt may cost up to ${worst:.6f}{when}",
        budget=label,
        retry_after=retry_after,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
