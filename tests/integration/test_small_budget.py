"""The $0.01 case: how much of a small budget a burst of concurrent calls can use (docs/budgets.md).

A lifetime budget of $0.01 and calls that really cost ~$0.00106 each (a ~1,000-word prompt and a
1,500-token answer at gpt-4o-mini's prices), so nine are affordable; thirty arrive together. Every
reservation is made before any call settles (the mock holds each answer 300 ms), so the calls served
are the worst cases that fit the budget side by side.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from keel import BudgetExceededError, Gateway
from keel._prices import tokenizer
from keel.mock import MockServer

from .._requires import require_module
from .conftest import GatewayFactory, user

BUDGET = Decimal("0.01")
BURST = 30
ANSWER = 1500
# A retrieval-style prompt: ~1,000 words of prose (~6 KB), the kind a small budget pays for.
PROMPT = (
    "Summarise the notes below in your own words.\n\n"
    + (
        "The ledger keeps one record per call, with every attempt, its usage and its cost. A budget is "
        "a reservation made before each attempt and settled to what the provider reported afterwards. "
        "Refused calls are recorded too, at no cost, so that a report shows every call that was made. "
    )
    * 20
)
SMALL = {
    "pricing": {"models": {"mock/*": {"input": 0.15, "output": 0.60}}},  # gpt-4o-mini, USD per 1M
    "budgets": [{"scope": "global", "window": "lifetime", "limit_usd": float(BUDGET)}],
}


async def burst(gateway: Gateway, **params: Any) -> tuple[int, Decimal]:
    """(calls served, what one call really cost) when ``BURST`` identical calls arrive together."""
    results = await asyncio.gather(
        *(gateway.chat("small", user(PROMPT), **params) for _ in range(BURST)), return_exceptions=True
    )
    served = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, BudgetExceededError) for r in results if isinstance(r, BaseException))
    costs = {attempt.cost or Decimal(0) for response in served for attempt in response.attempts}
    assert len(costs) <= 1 and sum(costs) * len(served) <= BUDGET
    return len(served), costs.pop() if costs else Decimal(0)


def _small_gateway(gateway_for: GatewayFactory, uid: Any, family: str) -> tuple[Gateway, str]:
    model = uid(f"{family}:tokens={ANSWER},ttft_ms=300")
    deployment = {"provider": "mock", "model": model, "max_output_tokens": 16_384}
    return gateway_for({"small": [[deployment]]}, **SMALL), model


async def test_a_burst_serves_most_affordable_calls_with_max_tokens(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    """With max_tokens a tenth over the answer, a burst on a $0.01 budget is served 8 of its 9
    affordable calls: the input is bounded by the route's tokenizer, not by its UTF-8 bytes."""
    require_module("bpe_openai", "the offline OpenAI tokenizer, keel[tokenizer]")
    gateway, model = _small_gateway(gateway_for, uid, "gpt-4o-mini")
    assert tokenizer.wait("o200k_base", 60), "the tokenizer did not load"
    served, each = await burst(gateway, max_tokens=ANSWER * 11 // 10)
    affordable = int(BUDGET // each)
    assert affordable == 9
    assert served >= 0.8 * affordable, f"{served} of {affordable} affordable calls served"
    assert len(mock_server.attempts(model=model)) == served


async def test_a_route_without_a_tokenizer_serves_fewer(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    """The same burst on a route whose family has no offline tokenizer keeps the UTF-8 bound: 5 of 9."""
    gateway, model = _small_gateway(gateway_for, uid, "house-model")
    served, each = await burst(gateway, max_tokens=ANSWER * 11 // 10)
    assert int(BUDGET // each) == 9 and served == 5
    assert len(mock_server.attempts(model=model)) == served


async def test_without_max_tokens_a_burst_strands_the_budget(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    """Without max_tokens each reservation holds the route's 16,384-token output limit ($0.0098) and
    its input bound: not one call fits the $0.01, though nine could be paid for."""
    gateway, model = _small_gateway(gateway_for, uid, "gpt-4o-mini")
    served, _ = await burst(gateway)
    assert served == 0
    assert mock_server.attempts(model=model) == []
