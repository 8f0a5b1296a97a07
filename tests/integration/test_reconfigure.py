"""``Gateway.reconfigure``: new calls run on the new config while running ones finish on theirs, and
what must carry across a reload does — connection pools, breaker state, budget spend, calls in flight
for coalescing; a refused config changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from keel import BudgetExceededError, ConfigError, Gateway, NoRouteAvailableError, ServerError
from keel.config_changes import RestartNeededError
from keel.mock import MockServer

from .conftest import GatewayFactory, merge, user

DEAR = {"pricing": {"models": {"mock/*": {"input": 1_000_000, "output": 1_000_000}}}}


def config_of(gateway: Gateway, **changes: Any) -> dict[str, Any]:
    """``gateway``'s config as keel.yaml would give it, with ``changes`` merged in."""
    raw = gateway.config.model_dump(mode="json", exclude_none=True)
    for name, provider in gateway.config.providers.items():
        if provider.api_key is not None:
            raw["providers"][name]["api_key"] = provider.api_key.get_secret_value()
    return merge(raw, changes)


async def until(condition: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_running_stream_finishes_on_its_config_while_new_calls_take_the_new_one(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    old, new = uid("ok:tokens=20,token_ms=20"), uid("ok:tokens=2")
    gateway = gateway_for({"smart": [f"mock/{old}"]})
    stream = gateway.stream("smart", user())
    first = await stream.__anext__()  # the stream has passed its commit point

    changed = gateway.reconfigure(config_of(gateway, models={"smart": [f"mock/{new}"]}))

    assert changed == ["models.smart"]
    answer = await gateway.chat("smart", user())
    assert answer.route == f"mock/{new}"
    rest = [chunk async for chunk in stream]
    assert stream.response is not None and stream.response.route == f"mock/{old}"
    assert "".join(c.text for c in [first, *rest]).split() == [f"token{i}" for i in range(20)]
    assert [a["outcome"] for a in mock_server.attempts(model=old)] == ["ok"]
    assert [a["outcome"] for a in mock_server.attempts(model=new)] == ["ok"]


async def test_an_unchanged_provider_keeps_its_pool_and_a_changed_one_closes_after_its_last_call(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    slow = uid("ok:tokens=10,token_ms=30")
    second = {"profile": "generic", "base_url": mock_server.base_url}
    gateway = gateway_for(
        {"smart": [f"mock/{slow}"], "other": [f"mock2/{slow}"]},
        providers={"mock2": second},
        pricing={"models": {"mock2/*": {"input": 1, "output": 2}}},
    )
    kept, replaced = gateway.providers["mock"], gateway.providers["mock2"]
    stream = gateway.stream("other", user())
    await stream.__anext__()  # the call holds a connection of mock2's pool
    pool = replaced.session

    gateway.reconfigure(config_of(gateway, providers={"mock2": {**second, "headers": {"x-team": "blue"}}}))

    assert gateway.providers["mock"] is kept
    assert gateway.providers["mock2"] is not replaced
    assert not pool.closed, "the running stream's pool must stay open until it ends"
    assert len([chunk async for chunk in stream]) >= 9
    await until(lambda: pool.closed)
    answer = await gateway.chat("other", user())
    assert answer.route == f"mock2/{slow}"
    assert mock_server.attempts(model=slow)[-1]["headers"] is not None


async def test_an_open_circuit_stays_open_and_spend_is_not_reset(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    broken, ok = uid("error-503"), uid("ok:tokens=5")
    gateway = gateway_for(
        {"broken": [f"mock/{broken}"], "smart": [f"mock/{ok}"]},
        breaker={"failure_threshold": 2, "window": 30, "open_for": 30},
        retry={"max_attempts": 1},
        budgets=[{"scope": "model", "match": "smart", "window": "day", "limit_usd": 60}],
        **DEAR,
    )
    for _ in range(2):
        with pytest.raises(ServerError):
            await gateway.chat("broken", user(), max_tokens=10)
    upstream_calls = len(mock_server.attempts(model=broken))
    assert (await gateway.breakers.snapshot(f"mock/{broken}")).state == "open"
    await gateway.chat("smart", user("hi"), max_tokens=10)  # $6 of $60; the next one's worst case is $59

    gateway.reconfigure(config_of(gateway, timeouts={"total": 14}))

    assert (await gateway.breakers.snapshot(f"mock/{broken}")).state == "open"
    with pytest.raises(NoRouteAvailableError, match="circuit"):
        await gateway.chat("broken", user(), max_tokens=10)
    assert len(mock_server.attempts(model=broken)) == upstream_calls
    with pytest.raises(BudgetExceededError):
        await gateway.chat("smart", user("hi"), max_tokens=10)
    wider = [{"scope": "model", "match": "smart", "window": "day", "limit_usd": 65}]
    gateway.reconfigure(config_of(gateway, budgets=wider))
    answer = await gateway.chat("smart", user("hi"), max_tokens=10)  # $6 spent + $59 fits $65 exactly
    assert answer.route == f"mock/{ok}"


async def test_a_call_in_flight_is_joined_across_a_reload(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    slow = uid("ok:tokens=10,token_ms=30")
    gateway = gateway_for({"smart": [f"mock/{slow}"]})
    first = asyncio.create_task(gateway.chat("smart", user(), temperature=0))
    await until(lambda: len(mock_server.attempts(model=slow)) == 1)

    gateway.reconfigure(config_of(gateway, retry={"max_attempts": 2}))
    joined = await gateway.chat("smart", user(), temperature=0)

    assert joined.choices[0].message.content == (await first).choices[0].message.content
    assert len(mock_server.attempts(model=slow)) == 1


async def test_cached_answers_survive_a_reload(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=4")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    first = await gateway.chat("smart", user(), temperature=0)
    cache = gateway.cache

    gateway.reconfigure(config_of(gateway, cache={"ttl": 600}, timeouts={"total": 14}))

    again = await gateway.chat("smart", user(), temperature=0)
    assert gateway.cache is cache
    assert again.cache is not None and again.cache.hit and again.cache.kind == "exact"
    assert again.choices[0].message.content == first.choices[0].message.content
    assert len(mock_server.attempts(model=ok)) == 1


async def test_a_refused_config_changes_nothing(gateway_for: GatewayFactory, uid, tmp_path: Path) -> None:
    ok = uid("ok:tokens=2")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    before = gateway.config

    with pytest.raises(ConfigError, match=r"models\.smart\[0\]\[0\]: unknown provider 'nope'"):
        gateway.reconfigure(config_of(gateway, models={"smart": ["nope/x"]}))
    with pytest.raises(ConfigError, match=r"timeouts\.total: Input should be greater than 0"):
        gateway.reconfigure(config_of(gateway, timeouts={"total": -1}))
    with pytest.raises(RestartNeededError, match=r"state changed: .* restart"):
        gateway.reconfigure(config_of(gateway, state="redis://127.0.0.1:1/0"))
    unpriced = {"providers": {"vllm": {"profile": "generic", "base_url": "http://127.0.0.1:9/v1"}}}
    with pytest.raises(ConfigError, match=r"no price for vllm/x"):
        gateway.reconfigure(config_of(gateway, models={"smart": ["vllm/x"]}, **unpriced))

    assert gateway.config is before
    assert (await gateway.chat("smart", user())).route == f"mock/{ok}"


async def test_nothing_changed_keeps_everything(gateway_for: GatewayFactory, uid) -> None:
    gateway = gateway_for({"smart": [f"mock/{uid('ok')}"]})
    handler = gateway._handler
    assert gateway.reconfigure(config_of(gateway)) == []
    assert gateway._handler is handler
