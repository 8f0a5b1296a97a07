"""Metrics the policies feed as they decide: budget spend and what remains, rate-limit refusals,
circuit transitions."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from keel import RateLimitExceededError, ServerError
from keel.errors import OutputValidationError
from keel.telemetry.exposition import scrape

from .._support.windows import fresh_minute_async
from ..scrape import Samples, by, changed, parse, total
from .conftest import GatewayFactory, user

UNBOUNDED = {"metrics": {"max_label_values": 1_000_000}}  # above what the suite's other tests showed
DEAR = {"pricing": {"models": {"mock/*": {"input": 1_000_000, "output": 1_000_000}}}}  # $1 a token


def samples() -> Samples:
    return parse(scrape().decode())


async def test_budget_spend_remaining_and_rate_limit_refusals(gateway_for: GatewayFactory, uid) -> None:
    """Spend settled per budget equals what the answers cost and used, what remains is the limit
    less it, and a call over a rate limit is counted by the limit's scope and kind."""
    t = uuid.uuid4().hex[:8]
    gateway = gateway_for(
        {f"m-{t}": [f"mock/{uid('ok:tokens=5')}"]},
        budgets=[
            {"name": f"usd-{t}", "scope": "global", "window": "day", "limit_usd": 1000},
            {"name": f"tokens-{t}", "scope": "global", "window": "day", "limit_tokens": 100_000},
        ],
        rate_limits=[{"scope": "model", "match": f"m-{t}", "rpm": 2}],
        **DEAR,
        **UNBOUNDED,
    )
    await fresh_minute_async()
    before = samples()
    answers = [await gateway.chat(f"m-{t}", user(), max_tokens=10) for _ in range(2)]
    with pytest.raises(RateLimitExceededError):
        await gateway.chat(f"m-{t}", user(), max_tokens=10)
    delta, after = changed(before, samples()), samples()
    cost = sum(float(a.attempts[0].cost or 0) for a in answers)
    used = sum(a.usage.input_tokens + a.usage.output_tokens for a in answers if a.usage)
    assert cost > 0 and total(delta, "keel_budget_spend_usd_total", budget=f"usd-{t}") == cost
    assert total(delta, "keel_budget_spend_tokens_total", budget=f"tokens-{t}") == used
    assert total(after, "keel_budget_remaining", budget=f"usd-{t}", unit="usd") == 1000 - cost
    assert total(after, "keel_budget_remaining", budget=f"tokens-{t}", unit="tokens") == 100_000 - used
    assert total(delta, "keel_rate_limit_refusals_total", scope="model", limit="requests") == 1


async def test_a_circuit_opens_lets_a_probe_through_and_closes(gateway_for: GatewayFactory, uid) -> None:
    """A failure over the threshold opens the circuit; after open_for the next call is the half-open
    probe, and its success closes it: three transitions, and the gauge back at closed."""
    route = f"mock/{uid('error-500:times=1')}"
    gateway = gateway_for(
        {"m": [route]},
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 1, "open_for": 0.2},
        **UNBOUNDED,
    )
    before = samples()
    with pytest.raises(ServerError):
        await gateway.chat("m", user())
    assert total(samples(), "keel_breaker_state", route=route) == 2
    await asyncio.sleep(0.3)  # open_for is over
    await gateway.chat("m", user())
    delta = changed(before, samples())
    assert by(delta, "keel_breaker_transitions_total", "to", route=route) == {
        ("open",): 1,
        ("half_open",): 1,
        ("closed",): 1,
    }
    assert total(samples(), "keel_breaker_state", route=route) == 0


async def test_a_reask_is_an_attempt_made_for_reason_reask(gateway_for: GatewayFactory, uid) -> None:
    """An answer that fails validation is asked again: the re-ask's attempt says reason ``reask``,
    and the attempts metric counts it so."""
    route = f"mock/{uid('ok:tokens=3')}"

    def never(value: object) -> None:
        raise ValueError("no answer is good enough")

    gateway = gateway_for({"m": [route]}, **UNBOUNDED)
    before = samples()
    with pytest.raises(OutputValidationError) as info:
        await gateway.structured({"type": "object"}, user(), model="m", validators=[never], max_reasks=1)
    assert [(a.outcome, a.reason) for a in info.value.attempts] == [("ok", "first"), ("ok", "reask")]
    delta = changed(before, samples())
    assert by(delta, "keel_attempts_total", "reason", route=route) == {("first",): 1, ("reask",): 1}
