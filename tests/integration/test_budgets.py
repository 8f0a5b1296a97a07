"""Budgets are reservations per attempt: they refuse before spending and are never overspent,
on one gateway or on two sharing Redis; alerts fire once; rate limits refuse with Retry-After."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keel import BudgetExceededError, ChatRequest, ConfigError, Gateway, RateLimitExceededError, RequestError
from keel.mock import MockServer
from keel.server.auth import Principal
from keel.stores.sqlite_ledger import SQLiteLedger

from .._support.windows import fresh_minute_async
from .conftest import FAST, GatewayFactory, merge, user

# A dollar per token, so worst cases and costs are easy to read: a call here is bounded at $59 (its
# input bound of 49 tokens plus max_tokens=10) and actually costs $6 (1 prompt + 5 answer tokens).
DEAR = {"pricing": {"models": {"mock/*": {"input": 1_000_000, "output": 1_000_000}}}}


def budget(limit: float, **extra: Any) -> dict[str, Any]:
    return {"budgets": [{"scope": "global", "window": "day", "limit_usd": limit, **extra}], **DEAR}


async def spent(path: Path) -> Decimal:
    ledger = SQLiteLedger(path)
    try:
        rows = await ledger.spend([])
    finally:
        await ledger.close()
    return rows[0]["cost_usd"] if rows else Decimal(0)


async def test_worst_case_must_fit_before_the_call(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A call whose worst case does not fit the rest of the budget is refused before any upstream call."""
    ok = uid("ok:tokens=5")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, **budget(60))
    response = await gateway.chat("smart", user("hi"), max_tokens=10)
    assert response.attempts[0].cost == Decimal(6)
    with pytest.raises(BudgetExceededError) as info:
        await gateway.chat("smart", user("hi"), max_tokens=10)
    assert "global day" in str(info.value) and "$59" in str(info.value) and "resets in" in str(info.value)
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert len(mock_server.attempts(model=ok)) == 1


async def test_concurrent_calls_never_overspend(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, tmp_path: Path
) -> None:
    """A hundred concurrent calls against one budget spend no more than the budget."""
    ok = uid("ok:tokens=5,ttft_ms=5")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, **budget(300))
    results = await asyncio.gather(
        *(gateway.chat("smart", user("hi"), max_tokens=10) for _ in range(100)), return_exceptions=True
    )
    await gateway.aclose()
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answered) + len(refused) == 100
    assert answered and refused
    assert await spent(tmp_path / "keel.db") == 6 * len(answered) <= 300
    assert len(mock_server.attempts(model=ok)) == len(answered)


async def test_two_replicas_sharing_redis_never_overspend(
    mock_server: MockServer, redis_url: str, uid, tmp_path: Path
) -> None:
    """Two gateways sharing Redis hold one budget between them, under concurrency: every call is
    answered or refused, as many are answered as the budget allows at least, and none beyond it."""
    ok = uid("ok:tokens=5,ttft_ms=5")
    config = merge(
        {
            "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
            "models": {"smart": [f"mock/{ok}"]},
            "state": redis_url,
            "database": f"sqlite:///{tmp_path}/keel.db",
            **budget(300, name=f"shared-{uid('x')}"),
        },
        {key: value for key, value in FAST.items() if key != "pricing"},
    )
    config["budgets"][0]["scope"] = "team"
    config["budgets"][0]["match"] = uid("team")
    team = config["budgets"][0]["match"]
    async with Gateway.from_config(config) as a, Gateway.from_config(config) as b:
        calls = [
            gw.chat("smart", user("hi"), max_tokens=10, keel={"team": team})
            for _ in range(50)
            for gw in (a, b)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answered) + len(refused) == 100
    # Five worst cases ($59 each) fit $300 together, so the first five reservations always succeed;
    # at $6 a call no more than 50 can be paid for.
    assert 300 // 59 <= len(answered) <= 300 // 6
    assert len(mock_server.attempts(model=ok)) == len(answered)
    assert await spent(tmp_path / "keel.db") == 6 * len(answered)


async def test_per_request_cost_cap(gateway_for: GatewayFactory, mock_server: MockServer, uid) -> None:
    """A per-request cap refuses a call whose worst case exceeds it, and admits one that fits."""
    ok = uid("ok:tokens=5")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, **DEAR)
    with pytest.raises(BudgetExceededError, match="per-request cost cap"):
        await gateway.chat("smart", user("hi"), max_tokens=10, keel={"max_cost_usd": 20})
    response = await gateway.chat("smart", user("hi"), max_tokens=10, keel={"max_cost_usd": 60})
    assert response.text
    assert len(mock_server.attempts(model=ok)) == 1


async def test_alerts_fire_once_per_window(
    gateway_for: GatewayFactory,
    uid,
    caplog: pytest.LogCaptureFixture,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    """Crossing a soft threshold logs and posts one alert, however many calls pass it."""
    url, received = webhook
    gateway = gateway_for(
        {"smart": [f"mock/{uid('ok:tokens=5')}"]},
        alerts={"webhook_url": url},
        **budget(100, alert_at=[0.1], name=uid("alerting")),
    )
    with caplog.at_level(logging.WARNING, logger="keel.alerts"):
        for _ in range(4):
            await gateway.chat("smart", user("hi"), max_tokens=10)
        await gateway.aclose()
    assert caplog.text.count("budget threshold crossed") == 1
    assert len(received) == 1 and received[0]["threshold"] == 0.1


async def test_key_rate_limit_refuses_with_retry_after(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Past a key's requests-per-minute the call is refused with a Retry-After, upstream untouched."""
    ok = uid("ok:tokens=1")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, rate_limits=[{"scope": "key", "rpm": 3}])
    key = {"key_id": uid("key")}
    await fresh_minute_async()
    for _ in range(3):
        await gateway.chat("smart", user(), keel=key)
    with pytest.raises(RateLimitExceededError) as info:
        await gateway.chat("smart", user(), keel=key)
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60
    assert len(mock_server.attempts(model=ok)) == 3
    await gateway.chat("smart", user(), keel={"key_id": uid("other")})  # another key has its own limit


async def test_route_rate_limit_moves_to_the_next_route(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A route at its outbound limit is not called; the next route answers."""
    limited, spare = uid("ok:x=limited"), uid("ok:x=spare")
    gateway = gateway_for(
        {"smart": [f"mock/{limited}", f"mock/{spare}"]},
        rate_limits=[{"scope": "route", "match": f"mock/{limited}", "rpm": 2}],
        retry={"max_retry_after": 0.5},
    )
    await fresh_minute_async()
    routes = [(await gateway.chat("smart", user())).route for _ in range(4)]
    assert routes == [f"mock/{limited}"] * 2 + [f"mock/{spare}"] * 2
    assert len(mock_server.attempts(model=limited)) == 2


async def test_unbounded_call_under_a_budget_is_a_clear_400(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Under a budget, a call whose output nothing bounds is refused as the caller's to fix, untried."""
    ok = uid("ok")
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, **budget(100))
    with pytest.raises(RequestError, match="send max_tokens, or set max_output_tokens") as info:
        await gateway.chat("smart", user())
    assert info.value.status == 400
    assert mock_server.attempts(model=ok) == []


async def test_a_keys_own_budget_comes_from_its_metadata(gateway_for: GatewayFactory, uid) -> None:
    """A virtual key's ``budget_usd``/``budget_window`` metadata is a budget of its own; metadata that
    is not a budget (a key stored before it was checked) fails the call rather than go unbudgeted."""
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=5')}"]}, **DEAR)
    capped = Principal("virtual", uid("key"), metadata={"budget_usd": "60", "budget_window": "hour"})
    request = ChatRequest.model_validate({"model": "smart", "messages": user("hi"), "max_tokens": 10})
    assert (await gateway.run(gateway.new_call(request, principal=capped))).text
    with pytest.raises(BudgetExceededError, match=f"budget 'key {capped.key_id} hour' \\(\\$60\\)"):
        await gateway.run(gateway.new_call(request, principal=capped))
    broken = Principal("virtual", uid("key"), metadata={"budget_usd": "plenty"})
    with pytest.raises(ConfigError, match=f"virtual key {broken.key_id}: metadata budget_usd must be"):
        gateway.new_call(request, principal=broken)
