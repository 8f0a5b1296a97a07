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
from ..errors import BudgetExceededError, RequestOverBudgetError
from ..stores.base import Counters, Hold, Limit, Refusal
from ._windows import Window, current_window

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from ..types import Attempt, ChatRequest
    from .base import Handler

__all__ = ["BudgetPolicy", "WorstCase", "budget_key", "spent", "to_nano"]

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


def budget_key(scope: str, subject: str, window: Window) -> str:
    """The counter a budget over ``window`` keeps for one subject (a key id, a team, ...) right now;
    ``global`` budgets have the subject ``all``. Not for ``request`` windows, one counter per call."""
    label, _ = current_window(window)
    return f"{PREFIX}:{scope}:{subject}:{window}:{label}"


async def spent(counters: Counters, scope: str, subject: str, window: Window) -> Decimal:
    """What the budget's current window holds, in USD: settled spend plus what calls in flight hold.

    With no call in flight this is the settled spend, the figure the ledger's costs add up to. A
    key's own budget (metadata ``budget_usd``) is ``spent(counters, "key", key_id, window)``.
    """
    [used] = await counters.read([budget_key(scope, subject, window)])
    return Decimal(used) / NANO


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
        if not applies:
            return await call_next(call)
        reservations = _Reservations(self, applies)
        call.listeners.append(reservations)
        reply = await call_next(call)
        if "budget_remaining_usd" not in call.options:  # no attempt: a cache hit, or another's call
            await reservations.remaining(call)
        return reply

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
        if budget.window == "request":
            key = f"{PREFIX}:{budget.scope}:{subject}:request:{call.request_id}"
            ttl: float | None = max(call.deadline.remaining(), 0) + 60
        else:
            key, ttl = budget_key(budget.scope, subject, budget.window), current_window(budget.window)[1]
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
        if over := _over_request_limit(self.applies, amount):
            await self.remaining(call)
            raise _too_big(over, amount)
        result = await self.policy.counters.reserve([applies.limit() for applies in self.applies], amount)
        if isinstance(result, Refusal):
            await self.remaining(call)  # a refusal's answer says what remains, as every answer does
            raise _refused(result, self.applies, worst)
        self.holds[id(attempt)] = result
        await self.remaining(call)

    async def attempt_ended(self, call: Call, route: Route, attempt: Attempt) -> None:
        hold = self.holds.pop(id(attempt), None)
        if hold is None:
            return
        await self.policy.counters.settle(hold, to_nano(attempt.cost or Decimal(0)))
        used = await self.remaining(call)
        alerter = self.policy.alerter
        if alerter is None:
            return
        for applies, value in zip(self.applies, used, strict=True):
            await alerter.spent(
                applies.budget, applies.subject, applies.key, value, applies.ceiling, applies.ttl_s
            )

    async def remaining(self, call: Call) -> list[int]:
        """Read every counter; note the tightest budget's room in ``budget_remaining_usd`` (what a
        response's ``x-keel-budget-remaining`` header says: after settling, net of a running
        attempt's hold, or on a refusal the room that was too small)."""
        used = await self.policy.counters.read([applies.key for applies in self.applies])
        room = min(applies.ceiling - value for applies, value in zip(self.applies, used, strict=True))
        call.options["budget_remaining_usd"] = Decimal(max(room, 0)) / NANO
        return used


def _over_request_limit(applies: list[_Applies], amount: int) -> _Applies | None:
    """The first per-request budget this attempt's worst case alone exceeds: no retry fits it."""
    return next((a for a in applies if a.budget.window == "request" and amount > a.ceiling), None)


def _too_big(which: _Applies, amount: int) -> RequestOverBudgetError:
    label = which.budget.label
    worst, over = Decimal(amount) / NANO, Decimal(amount - which.ceiling) / NANO
    return RequestOverBudgetError(
        f"budget {label!r} (${which.budget.limit_usd} per request) can never cover this call: its worst "
        f"case is ${worst:.6f}, over by ${over:.6f}; lower max_tokens (the output bound) or shorten "
        "the input",
        budget=label,
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
