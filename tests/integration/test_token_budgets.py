"""Token budgets are reservations per attempt, as dollar budgets are: the call's token bound is
reserved before each attempt and settled to the tokens the provider reported, in counters of their
own; a per-request token limit a call can never fit is a 400; calendar windows roll over."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keel import (
    BudgetExceededError,
    ChatRequest,
    ConfigError,
    Gateway,
    RequestError,
    RequestOverBudgetError,
    StreamInterruptedError,
)
from keel.config import BudgetConfig
from keel.mock import MockServer
from keel.policies.base import chain
from keel.policies.budget import BudgetPolicy, spent, spent_tokens
from keel.pricing import input_token_bound
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user


def hi(max_tokens: int = 10) -> ChatRequest:
    return ChatRequest.model_validate({"model": "smart", "messages": user("hi"), "max_tokens": max_tokens})


async def ledger_rows(path: Path) -> list[dict[str, Any]]:
    ledger = SQLiteLedger(path)
    try:
        return await ledger.rows(limit=1000)
    finally:
        await ledger.close()


async def answer_until_refused(run: Any, limit: int = 50) -> tuple[int, BudgetExceededError]:
    """Calls ``run()`` until a budget refuses one (at most ``limit`` times): how many were answered."""
    for answered in range(limit):
        try:
            await run()
        except BudgetExceededError as refusal:
            return answered, refusal
    raise AssertionError(f"no refusal in {limit} calls")


@pytest.mark.parametrize(
    "limits",
    [{"limit_usd": 5, "limit_tokens": 100}, {}],
    ids=["both", "neither"],
)
def test_a_budget_has_exactly_one_limit(limits: dict[str, Any], uid) -> None:
    """A budget entry with both ``limit_usd`` and ``limit_tokens``, or neither, is a config error."""
    config = {"models": {"smart": [f"mock/{uid('ok')}"]}, "budgets": [{"window": "day", **limits}]}
    with pytest.raises(ConfigError, match=r"exactly one of limit_usd .* and limit_tokens"):
        Gateway.from_config(config)


async def test_tokens_settle_to_reported_usage_in_counters_of_their_own(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, tmp_path: Path
) -> None:
    """Calls under a 100-token daily budget are answered while the bound fits, then refused before
    the upstream with a 429 naming tokens; the token counter holds exactly the tokens the ledger
    records (input + output), apart from the dollar budget's counter beside it."""
    ok = uid("ok:tokens=5")
    team = uid("team")
    budgets = [
        {"scope": "team", "window": "day", "limit_tokens": 100, "name": f"t-{team}"},
        {"scope": "team", "window": "day", "limit_usd": 1000, "name": f"d-{team}"},
    ]
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, budgets=budgets)
    answered, refusal = await answer_until_refused(lambda: gateway.call(hi(), team=team))
    assert answered >= 2
    assert "100 tokens" in str(refusal) and "may use up to" in str(refusal) and "resets in" in str(refusal)
    assert refusal.retry_after is not None and refusal.retry_after > 0
    assert not isinstance(refusal, RequestOverBudgetError)
    assert len(mock_server.attempts(model=ok)) == answered
    await gateway.aclose()
    rows = [row for row in await ledger_rows(tmp_path / "keel.db") if row["status"] == "ok"]
    assert len(rows) == answered
    tokens = await spent_tokens(gateway.counters, "team", team, "day")
    assert tokens == sum(row["input_tokens"] + row["output_tokens"] for row in rows) <= 100
    assert tokens == 6 * answered  # 1 prompt token and 5 answer tokens each, as the mock reports
    assert await spent(gateway.counters, "team", team, "day") == sum(Decimal(r["cost_usd"]) for r in rows)


async def test_a_per_request_token_limit_is_a_400_before_the_call(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A call whose token bound exceeds a per-request token limit is refused with
    ``RequestOverBudgetError`` (400) before any upstream call; a smaller ``max_tokens`` fits."""
    ok = uid("ok:tokens=5")
    budgets = [{"name": "per call", "window": "request", "limit_tokens": 500}]
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, budgets=budgets)
    with pytest.raises(RequestOverBudgetError) as info:
        await gateway.call(hi(max_tokens=1000))
    message = str(info.value)
    assert info.value.status == 400 and info.value.retry_after is None
    assert "'per call' (500 tokens per request)" in message and "over by" in message
    assert "max_tokens" in message
    assert mock_server.attempts(model=ok) == []
    await gateway.call(hi(max_tokens=10))
    assert len(mock_server.attempts(model=ok)) == 1


@pytest.mark.parametrize(
    ("window", "start", "same", "next_"),
    [
        ("hour", datetime(2026, 5, 1, 10, 59, 59, tzinfo=UTC), timedelta(0), timedelta(seconds=1)),
        ("day", datetime(2026, 5, 1, 23, 0, tzinfo=UTC), timedelta(minutes=59), timedelta(hours=1)),
    ],
)
async def test_token_windows_roll_over_with_the_clock(
    gateway_for: GatewayFactory, mock_server: MockServer, uid,
    window: str, start: datetime, same: timedelta, next_: timedelta,
) -> None:  # fmt: skip
    """A token budget spent to refusal in one hour or day still refuses later in that period and has
    its whole limit again in the next one, by the policy's clock."""
    ok = uid("ok:tokens=5")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    now = [start]
    budgets = [BudgetConfig.model_validate({"window": window, "limit_tokens": 100, "name": uid("w")})]
    policy = BudgetPolicy(budgets, gateway.counters, gateway.pricer.route_worst_case, clock=lambda: now[0])
    handler = chain([policy], gateway._handler)
    answered, _ = await answer_until_refused(lambda: handler(gateway.new_call(hi())))
    now[0] = start + same
    with pytest.raises(BudgetExceededError):
        await handler(gateway.new_call(hi()))
    now[0] = start + next_
    again, _ = await answer_until_refused(lambda: handler(gateway.new_call(hi())))
    assert again == answered >= 2
    assert len(mock_server.attempts(model=ok)) == 2 * answered


async def test_concurrent_calls_never_overspend_tokens(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, tmp_path: Path
) -> None:
    """Sixty concurrent calls against a 300-token budget use no more than 300 tokens."""
    ok = uid("ok:tokens=5,ttft_ms=5")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, budgets=[{"window": "lifetime", "limit_tokens": 300}])
    results = await asyncio.gather(*(gateway.call(hi()) for _ in range(60)), return_exceptions=True)
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answered) + len(refused) == 60 and answered and refused
    assert len(mock_server.attempts(model=ok)) == len(answered)
    assert await spent_tokens(gateway.counters, "global", "all", "lifetime") == 6 * len(answered) <= 300


async def test_a_cut_stream_settles_to_what_it_delivered(
    gateway_for: GatewayFactory, uid, tmp_path: Path
) -> None:
    """A stream cut before its usage arrived settles its input bound plus one token per delivered
    byte, as its cost does, and its ledger record counts the same tokens."""
    gateway = gateway_for(
        {"smart": [f"mock/{uid('cut:after=3,tokens=10')}"]},
        budgets=[{"window": "lifetime", "limit_tokens": 10_000}],
    )
    handle = gateway.stream("smart", user(), max_tokens=50)
    with pytest.raises(StreamInterruptedError) as info:
        async for _ in handle:
            pass
    delivered = info.value.partial.text.encode()
    assert delivered == b"token0 token1 token2"
    expected = input_token_bound(handle.call.request) + len(delivered)
    assert await spent_tokens(gateway.counters, "global", "all", "lifetime") == expected
    await gateway.aclose()
    [row] = await ledger_rows(tmp_path / "keel.db")
    assert (row["input_tokens"], row["output_tokens"]) == (
        input_token_bound(handle.call.request),
        len(delivered),
    )


async def test_token_budget_alerts_say_tokens(
    gateway_for: GatewayFactory, uid, caplog: pytest.LogCaptureFixture
) -> None:
    """Crossing a token budget's soft threshold raises one alert, in tokens."""
    gateway = gateway_for(
        {"smart": [f"mock/{uid('ok:tokens=5')}"]},
        budgets=[{"window": "day", "limit_tokens": 200, "alert_at": [0.1], "name": uid("alerting")}],
    )
    with caplog.at_level(logging.WARNING, logger="keel.alerts"):
        for _ in range(4):
            await gateway.call(hi())
    assert caplog.text.count("budget threshold crossed") == 1
    assert "limit_tokens" in caplog.text and "committed_tokens" in caplog.text
    assert "limit_usd" not in caplog.text


async def test_an_unbounded_output_under_a_token_budget_is_a_clear_400(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Under a token budget alone, a call whose output nothing bounds is refused as the caller's to
    fix, untried, as under a dollar budget."""
    ok = uid("ok")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, budgets=[{"window": "day", "limit_tokens": 10_000}])
    with pytest.raises(RequestError, match="token budget cannot cover it; send max_tokens") as info:
        await gateway.chat("smart", user())
    assert info.value.status == 400
    assert mock_server.attempts(model=ok) == []
