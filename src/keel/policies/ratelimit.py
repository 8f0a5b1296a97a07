"""Rate limits: requests and tokens per minute, inbound per caller and model, outbound per route.

Tokens are reserved at their upper bound (input bound plus the output limit) and settled to what
the call used, so concurrent calls can never push a window past its limit. Inbound refusals are
``RateLimitExceededError`` with Retry-After; an outbound refusal is a ``RateLimitError`` on the
route, which the retry layer waits out when it is short and the router steps past when it is not —
Keel itself never exceeds a provider's limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import RateLimitError, RateLimitExceededError
from ..reply import ChunkStream, StreamEnd
from ..stores.base import Counters, Hold, Limit, Refusal
from ..telemetry.budgets import rate_limited
from ._windows import current_window

if TYPE_CHECKING:
    from ..call import Call
    from ..config import RateLimitConfig
    from ..reply import Reply
    from ..route import Route
    from ..types import ChatRequest
    from .base import Handler, RouteHandler

__all__ = ["RateLimitPolicy", "RouteRateLimitPolicy", "TokenBound"]

PREFIX = "{keel-rate}"
TokenBound = Callable[["ChatRequest", int | None], int]


def _limits(rule: RateLimitConfig, subject: str) -> tuple[list[Limit], list[Limit]]:
    """This minute's request and token counters for one rule and subject."""
    label, ttl = current_window("minute")
    base = f"{PREFIX}:{rule.scope}:{subject}:{label}"
    requests = [Limit(f"{base}:rpm", rule.rpm, ttl)] if rule.rpm else []
    tokens = [Limit(f"{base}:tpm", rule.tpm, ttl)] if rule.tpm else []
    return requests, tokens


async def _reserve(
    counters: Counters, requests: list[Limit], tokens: list[Limit], bound: int
) -> tuple[Hold | None, Refusal | None]:
    """One request on every request counter and ``bound`` tokens on every token counter, or nothing.

    Returns the token hold, to be settled to the tokens actually used.
    """
    taken: Hold | None = None
    if requests:
        result = await counters.reserve(requests, 1)
        if isinstance(result, Refusal):
            return None, result
        taken = result
    if not tokens:
        return None, None
    held = await counters.reserve(tokens, bound)
    if isinstance(held, Refusal):
        if taken is not None:
            await counters.settle(taken, 0)
        return None, held
    return held, None


def _describe(refusal: Refusal) -> str:
    kind = "requests" if refusal.limit.key.endswith(":rpm") else "tokens"
    scope = refusal.limit.key.split(":")[1:3]
    return f"{refusal.limit.ceiling} {kind} per minute for {':'.join(scope)}"


class RateLimitPolicy:
    """Inbound limits for the caller's key, team, user and model, and a global one."""

    def __init__(self, rules: Sequence[RateLimitConfig], counters: Counters, token_bound: TokenBound) -> None:
        self.rules = [rule for rule in rules if rule.scope != "route"]
        self.counters = counters
        self.token_bound = token_bound

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        subjects = {
            "global": "all",
            "key": call.options.get("key_id"),
            "team": call.options.get("team"),
            "user": call.options.get("user_ref", call.request.user),
            "model": call.request.model,
        }
        requests: list[Limit] = []
        tokens: list[Limit] = []
        for rule in self.rules:
            subject = subjects[rule.scope]
            named = call.request.user if rule.scope == "user" else subject  # a match names the id sent
            if subject is not None and (rule.match is None or rule.match == named):
                more_requests, more_tokens = _limits(rule, str(subject))
                requests += more_requests
                tokens += more_tokens
        if not requests and not tokens:
            return await call_next(call)
        hold, refusal = await _reserve(self.counters, requests, tokens, self.token_bound(call.request, None))
        if refusal is not None:
            rate_limited(refusal.limit.key)
            raise RateLimitExceededError(
                f"rate limit reached: {_describe(refusal)}; retry in {refusal.resets_in:.0f}s",
                limit=_describe(refusal),
                retry_after=refusal.resets_in,
            )
        return await _settled_after(self.counters, hold, call, 0, call_next(call))


async def _settled_after(
    counters: Counters, hold: Hold | None, call: Call, first_attempt: int, work: Awaitable[Reply]
) -> Reply:
    """Run ``work``; when its answer is complete, settle ``hold`` to the tokens its attempts used."""

    async def settle(_end: StreamEnd | None = None) -> None:
        if hold is not None:
            used = sum(
                a.usage.input_tokens + a.usage.output_tokens for a in call.attempts[first_attempt:] if a.usage
            )
            await counters.settle(hold, used)

    try:
        reply = await work
    except BaseException:
        await settle()
        raise
    if isinstance(reply, ChunkStream):
        reply.on_end(settle)
    else:
        await settle()
    return reply


class RouteRateLimitPolicy:
    """Outbound limits per route, checked before each attempt, so Keel stays under a provider's limits."""

    def __init__(self, rules: Sequence[RateLimitConfig], counters: Counters, token_bound: TokenBound) -> None:
        self.rules = [rule for rule in rules if rule.scope == "route"]
        self.counters = counters
        self.token_bound = token_bound

    async def __call__(self, call: Call, route: Route, call_next: RouteHandler) -> Reply:
        rules = [rule for rule in self.rules if rule.match in (None, route.name)]
        if not rules:
            return await call_next(call, route)
        requests: list[Limit] = []
        tokens: list[Limit] = []
        for rule in rules:
            more_requests, more_tokens = _limits(rule, route.name)
            requests += more_requests
            tokens += more_tokens
        bound = self.token_bound(call.request, route.capabilities.max_output_tokens)
        hold, refusal = await _reserve(self.counters, requests, tokens, bound)
        if refusal is not None:
            rate_limited(refusal.limit.key)
            raise RateLimitError(
                f"Keel's own limit for this route: {_describe(refusal)}",
                route=route.name,
                retry_after=refusal.resets_in,
            )
        return await _settled_after(self.counters, hold, call, len(call.attempts), call_next(call, route))
