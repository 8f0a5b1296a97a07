"""``BudgetPolicy``: budgets as reservations, per attempt — they cannot be overspent.

Before each attempt (the first, a retry, a fallback, a re-ask) the attempt's worst case — its cost
for dollar budgets, its token bound for token budgets — is reserved atomically against every budget
that applies; when it ends, the reservation is settled to what the attempt actually cost or used
and the rest is released. A reservation that does not fit stops the call with
``BudgetExceededError`` before the attempt reaches any provider (DESIGN §2); one that could never
fit a per-request budget, with ``RequestOverBudgetError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal, Protocol

from ..config import BudgetConfig
from ..errors import BudgetExceededError, BudgetStateUnavailableError, RequestOverBudgetError
from ..stores.base import Counters, Hold, Limit, Refusal
from ..telemetry.budgets import budget_refused, budget_settled, budget_state
from ._token_bound import InputBound, attempt_tokens, route_token_bound, utf8_input_bound
from ._windows import Window, current_window

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from ..types import Attempt, ChatRequest
    from .base import Handler

__all__ = ["BudgetPolicy", "WorstCase", "budget_key", "spent", "spent_tokens", "to_nano"]

NANO = Decimal(10) ** 9
PREFIX = "{keel-budget}"  # one hash tag: a reservation over many budgets is one Redis Cluster slot
Unit = Literal["usd", "tokens"]
UNITS: tuple[Unit, ...] = ("usd", "tokens")


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


def budget_key(
    scope: str, subject: str, window: Window, unit: Unit = "usd", now: datetime | None = None
) -> str:
    """The counter a budget over ``window`` keeps for one subject (a key id, a team, ...) at ``now``
    (default: right now); ``global`` budgets have the subject ``all``. Not for ``request`` windows,
    one counter per call. Token budgets count in counters of their own (``…:tokens:…``)."""
    label, _ = current_window(window, now)
    return f"{PREFIX}:{_unit_part(unit)}{scope}:{subject}:{window}:{label}"


def _unit_part(unit: Unit) -> str:
    return "" if unit == "usd" else "tokens:"


async def spent(counters: Counters, scope: str, subject: str, window: Window) -> Decimal:
    """What the budget's current window holds, in USD: settled spend plus what calls in flight hold.

    With no call in flight this is the settled spend, the figure the ledger's costs add up to. A
    key's own budget (metadata ``budget_usd``) is ``spent(counters, "key", key_id, window)``.
    """
    [used] = await counters.read([budget_key(scope, subject, window)])
    return Decimal(used) / NANO


async def spent_tokens(counters: Counters, scope: str, subject: str, window: Window) -> int:
    """What a token budget's current window holds: settled tokens plus what calls in flight hold."""
    [used] = await counters.read([budget_key(scope, subject, window, "tokens")])
    return used


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

    @property
    def unit(self) -> Unit:
        return self.budget.unit


class BudgetPolicy:
    """Reserves each attempt's worst case against every applicable budget, then settles it."""

    def __init__(
        self,
        budgets: Sequence[BudgetConfig],
        counters: Counters,
        worst_case: WorstCase,
        alerter: Alerter | None = None,
        clock: Callable[[], datetime] | None = None,
        input_bound: InputBound = utf8_input_bound,
    ) -> None:
        self.budgets = list(budgets)
        self.counters = counters
        self.worst_case = worst_case
        self.alerter = alerter
        self.clock = clock  # what time it is for the calendar windows; None: the system's UTC clock
        self.input_bound = input_bound  # a token budget's input bound: the route's tokenizer where one is

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        applies = self._applicable(call)
        if not applies:
            return await call_next(call)
        reservations = _Reservations(self, applies)
        call.listeners.append(reservations)
        reply = await call_next(call)
        if not reservations.read:  # no attempt: a cache hit, or another's call
            await reservations.remaining(call)
        return reply

    def _applicable(self, call: Call) -> list[_Applies]:
        subjects = {
            "global": "all",
            "key": call.options.get("key_id"),
            "team": call.options.get("team"),
            "user": call.options.get("user_ref", call.request.user),
            "model": call.request.model,
            "feature": call.options.get("feature_budgeted"),
        }
        applies = []
        for budget in self.budgets:
            subject = subjects[budget.scope]
            named = call.request.user if budget.scope == "user" else subject  # a match names the id sent
            if subject is None or (budget.match is not None and budget.match != named):
                continue
            applies.append(self._applied(call, budget, str(subject)))
        key_id = subjects["key"]
        for option, field in (("key_budget", "limit_usd"), ("key_token_budget", "limit_tokens")):
            own_budget = call.options.get(option)
            if own_budget is not None and key_id is not None:
                limit, window = own_budget
                own = BudgetConfig.model_validate(
                    {"name": f"key {key_id} {window}", "scope": "key", "match": str(key_id),
                     "window": window, field: limit}
                )  # fmt: skip
                applies.append(self._applied(call, own, str(key_id)))
        cap = call.options.get("max_cost_usd")
        if cap is not None:
            request_cap = BudgetConfig(
                name="per-request cost cap", window="request", limit_usd=Decimal(str(cap))
            )
            applies.append(self._applied(call, request_cap, call.request_id))
        return applies

    def _applied(self, call: Call, budget: BudgetConfig, subject: str) -> _Applies:
        unit = budget.unit
        if budget.window == "request":
            key = f"{PREFIX}:{_unit_part(unit)}{budget.scope}:{subject}:request:{call.request_id}"
            ttl: float | None = max(call.deadline.remaining(), 0) + 60
        else:
            now = self.clock() if self.clock is not None else datetime.now(UTC)
            key = budget_key(budget.scope, subject, budget.window, unit, now)
            ttl = current_window(budget.window, now)[1]
        if budget.limit_usd is not None:
            ceiling = to_nano(budget.limit_usd, ROUND_HALF_UP)
        else:
            ceiling = budget.limit_tokens or 0
        return _Applies(budget, subject, key, ceiling, ttl)


class _Reservations:
    """The attempt listener one call carries: its holds, keyed by attempt, one per unit in use."""

    def __init__(self, policy: BudgetPolicy, applies: list[_Applies]) -> None:
        self.policy = policy
        self.applies = applies
        self.units = [unit for unit in UNITS if any(a.unit == unit for a in applies)]
        self.holds: dict[int, list[tuple[Unit, Hold]]] = {}
        self.read = False

    async def attempt_started(self, call: Call, route: Route, attempt: Attempt) -> None:
        amounts = {unit: self._bound(unit, route, call.request) for unit in self.units}
        for unit, amount in amounts.items():
            if over := _over_request_limit(self.applies, unit, amount):
                await self.remaining(call)
                raise _too_big(over, amount)
        holds: list[tuple[Unit, Hold]] = []
        for unit, amount in amounts.items():
            limits = [applies.limit() for applies in self.applies if applies.unit == unit]
            result = await self.policy.counters.reserve(limits, amount)
            if isinstance(result, Refusal):
                for _, hold in holds:  # all or nothing: release the other unit's hold
                    await self.policy.counters.settle(hold, 0)
                await self.remaining(call)  # a refusal's answer says what remains, as every answer does
                raise _refused(result, self.applies, amount)
            holds.append((unit, result))
        self.holds[id(attempt)] = holds
        await self.remaining(call)

    def _bound(self, unit: Unit, route: Route, request: ChatRequest) -> int:
        if unit == "usd":
            return to_nano(self.policy.worst_case(route, request), ROUND_CEILING)
        return route_token_bound(route, request, self.policy.input_bound)

    async def attempt_ended(self, call: Call, route: Route, attempt: Attempt) -> None:
        holds = self.holds.pop(id(attempt), None)
        if holds is None:
            return
        for unit, hold in holds:
            if unit == "usd":
                actual = to_nano(attempt.cost or Decimal(0))
            else:
                actual = attempt_tokens(route, call.request, attempt, self.policy.input_bound)
            await self.policy.counters.settle(hold, actual)
            for applies in self.applies:
                if applies.unit == unit:
                    budget_settled(applies.budget.label, unit, actual / 1e9 if unit == "usd" else actual)
        used = await self.remaining(call)
        alerter = self.policy.alerter
        if alerter is None or used is None:
            return
        for applies, value in zip(self.applies, used, strict=True):
            await alerter.spent(
                applies.budget, applies.subject, applies.key, value, applies.ceiling, applies.ttl_s
            )

    async def remaining(self, call: Call) -> list[int] | None:
        """Read every counter; note each unit's tightest room in ``budget_remaining_usd`` and
        ``budget_remaining_tokens`` (what a response's ``x-keel-budget-remaining`` and
        ``x-keel-budget-remaining-tokens`` headers say: after settling, net of a running attempt's
        hold, or on a refusal the room that was too small). None while the counters cannot be read
        (the shared state store is away): the answer then says nothing of its budget."""
        try:
            used = await self.policy.counters.read([applies.key for applies in self.applies])
        except BudgetStateUnavailableError:
            return None
        self.read = True
        rooms: dict[Unit, int] = {}
        for applies, value in zip(self.applies, used, strict=True):
            room = max(applies.ceiling - value, 0)
            rooms[applies.unit] = min(rooms.get(applies.unit, room), room)
            budget = applies.budget
            if budget.window != "request" and (budget.scope == "global" or budget.match is not None):
                budget_state(budget.label, applies.unit, room / 1e9 if applies.unit == "usd" else room)
        if "usd" in rooms:
            call.options["budget_remaining_usd"] = Decimal(rooms["usd"]) / NANO
        if "tokens" in rooms:
            call.options["budget_remaining_tokens"] = rooms["tokens"]
        return used


def _over_request_limit(applies: list[_Applies], unit: Unit, amount: int) -> _Applies | None:
    """The first per-request budget this attempt's worst case alone exceeds: no retry fits it."""
    return next(
        (a for a in applies if a.unit == unit and a.budget.window == "request" and amount > a.ceiling), None
    )


def _too_big(which: _Applies, amount: int) -> RequestOverBudgetError:
    label = which.budget.label
    budget_refused(label)
    worst, over = _amount(which.unit, amount), _amount(which.unit, amount - which.ceiling)
    return RequestOverBudgetError(
        f"budget {label!r} ({which.budget.limit_text} per request) can never cover this call: its worst "
        f"case is {worst}, over by {over}; lower max_tokens (the output bound) or shorten the input",
        budget=label,
    )


def _amount(unit: Unit, amount: int) -> str:
    """A counter amount as a message shows it: ``$0.012345`` or ``1,234 tokens``."""
    return f"${Decimal(amount) / NANO:.6f}" if unit == "usd" else f"{amount:,} tokens"


def _refused(refusal: Refusal, applies: list[_Applies], amount: int) -> BudgetExceededError:
    which = next(a for a in applies if a.key == refusal.limit.key)
    label = which.budget.label
    budget_refused(label)
    if which.budget.window in ("request", "lifetime"):
        when, retry_after = "", None
    else:
        when, retry_after = f"; it resets in {_duration(refusal.resets_in)}", refusal.resets_in
    budget = which.budget
    return BudgetExceededError(
        f"budget {label!r} ({budget.limit_text}) cannot cover this call: "
        f"{_amount(which.unit, refusal.used)} used, the next attempt may "
        f"{'cost' if which.unit == 'usd' else 'use'} up to {_amount(which.unit, amount)}{when}",
        budget=label,
        retry_after=retry_after,
        feature=which.subject if budget.scope == "feature" else None,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
