"""A gateway on Redis whose Redis goes away: unbudgeted calls go on (circuits and rate limits in the
process, with its share of each limit), budgeted calls are refused cleanly before any upstream call
(503 ``budget_state_unavailable``), and everything is shared again once Redis is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from keel import BudgetExceededError, BudgetStateUnavailableError, Gateway, RateLimitExceededError
from keel.mock import MockServer
from keel.policies._budget_rebuild import MARKER
from keel.policies.budget import budget_key
from keel.telemetry.metrics import REGISTRY

from .._support.redis_process import RedisProcess
from .._support.windows import fresh_minute_async
from .conftest import FAST, merge, user

DEAR = {"pricing": {"models": {"mock/*": {"input": 1_000_000, "output": 1_000_000}}}}


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    redis = RedisProcess(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
async def on_redis(
    mock_server: MockServer, redis_process: RedisProcess, tmp_path: Path
) -> AsyncIterator[Any]:
    made: list[Gateway] = []

    def factory(models: dict[str, Any], **overrides: Any) -> Gateway:
        config = merge(
            {
                "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
                "models": models,
                "database": f"sqlite:///{tmp_path}/keel.db",
                "state": redis_process.url,
                **FAST,
            },
            overrides,
        )
        gateway = Gateway.from_config(config)
        made.append(gateway)
        return gateway

    yield factory
    for gateway in made:
        await gateway.aclose()


async def until(condition: Any, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_unbudgeted_calls_go_on_while_redis_is_away_and_circuits_are_shared_again(
    on_redis: Any, redis_process: RedisProcess, mock_server: MockServer, uid
) -> None:
    broken, ok = uid("error-503"), uid("ok:tokens=2")
    gateway = on_redis(
        {"smart": [f"mock/{broken}", f"mock/{ok}"]},
        breaker={"failure_threshold": 2, "window": 30, "open_for": 30},
        retry={"max_attempts": 1},
    )
    assert (await gateway.chat("smart", user())).route == f"mock/{ok}"
    outages = REGISTRY.get_sample_value("keel_state_outages_total") or 0.0
    redis_process.stop()

    answers = [await gateway.chat("smart", user()) for _ in range(4)]

    assert all(answer.route == f"mock/{ok}" for answer in answers)
    assert gateway.state_outage is not None and gateway.state_outage.away
    assert (
        REGISTRY.get_sample_value("keel_state_outages_total") == outages + 1
    )  # one outage, not one per call
    assert REGISTRY.get_sample_value("keel_state_store_up") == 0
    # The broken route's circuit opened in this process: it was tried twice (threshold 2), then passed over.
    assert len(mock_server.attempts(model=broken)) == 1 + 2

    redis_process.start()

    async def shared_again() -> bool:
        await gateway.chat("smart", user())
        return not gateway.state_outage.away

    await until(shared_again)
    assert REGISTRY.get_sample_value("keel_state_store_up") == 1


async def test_rate_limits_run_on_this_process_s_share_while_redis_is_away(
    on_redis: Any, redis_process: RedisProcess, uid
) -> None:
    gateway = on_redis(
        {"smart": [f"mock/{uid('ok:tokens=1')}"]},
        rate_limits=[{"scope": "global", "rpm": 4}],
        state_outage={"replicas": 2},
    )
    await fresh_minute_async()
    redis_process.stop()
    await gateway.chat("smart", user())
    await gateway.chat("smart", user())
    with pytest.raises(RateLimitExceededError) as info:  # 2 of the 4: this replica's half
        await gateway.chat("smart", user())
    assert info.value.retry_after is not None


async def test_a_budgeted_call_is_refused_cleanly_and_a_per_request_cap_still_holds(
    on_redis: Any, redis_process: RedisProcess, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=2")
    budgets = [{"scope": "model", "match": "budgeted", "window": "day", "limit_usd": 1000}]
    gateway = on_redis({"budgeted": [f"mock/{ok}"], "free": [f"mock/{ok}"]}, budgets=budgets, **DEAR)
    await gateway.chat("budgeted", user(), max_tokens=5)
    before = len(mock_server.attempts(model=ok))
    redis_process.stop()

    with pytest.raises(BudgetStateUnavailableError) as info:
        await gateway.chat("budgeted", user(), max_tokens=5)
    assert info.value.status == 503 and info.value.code == "budget_state_unavailable"
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert len(mock_server.attempts(model=ok)) == before  # refused before any upstream call
    capped = await gateway.chat("free", user(), max_tokens=5, keel={"max_cost_usd": 100})
    assert capped.route == f"mock/{ok}"  # a per-request cap needs no shared counter

    redis_process.start()

    async def budgets_again() -> bool:
        try:
            await gateway.chat("budgeted", user(), max_tokens=5)
        except BudgetStateUnavailableError:
            return False
        return True

    await until(budgets_again)


async def test_a_redis_restarted_empty_does_not_let_a_spent_budget_spend_again(
    on_redis: Any, redis_process: RedisProcess, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=5")
    budgets = [{"scope": "global", "window": "day", "limit_usd": 60}]
    gateway = on_redis({"smart": [f"mock/{ok}"]}, budgets=budgets, ledger={"durability": "strict"}, **DEAR)
    await gateway.chat("smart", user("hi"), max_tokens=10)  # $6 of $60: the next call's worst case is $59
    with pytest.raises(BudgetExceededError):
        await gateway.chat("smart", user("hi"), max_tokens=10)

    redis_process.stop()
    redis_process.start()  # no persistence: it comes back empty

    async def budgets_answer() -> bool:
        try:
            await gateway.chat("smart", user("hi"), max_tokens=10)
        except BudgetStateUnavailableError:
            return False
        except BudgetExceededError:
            return True  # the rebuilt counter still holds the $6 the ledger recorded
        raise AssertionError("a spent budget was spent again after Redis came back empty")

    await until(budgets_answer)
    assert len(mock_server.attempts(model=ok)) == 1
    [spent] = await gateway.counters.read([budget_key("global", "all", "day")])
    assert spent == 6 * 10**9


async def test_budgets_on_redis_mark_that_the_store_holds_their_counters(
    on_redis: Any, redis_process: RedisProcess, uid
) -> None:
    budgets = [{"scope": "model", "window": "month", "limit_usd": 1000}]
    gateway = on_redis({"smart": [f"mock/{uid('ok:tokens=5')}"]}, budgets=budgets, **DEAR)
    await gateway.chat("smart", user("hi"), max_tokens=10)
    redis = gateway.counters.redis
    assert await redis.exists(MARKER)
    [held] = await gateway.counters.read([budget_key("model", "smart", "month")])
    assert held == 6 * 10**9


@pytest.mark.parametrize("restart", ["empty", "paused"])
async def test_a_local_allowance_spends_at_most_its_amount_and_the_spend_reaches_the_budget_after(
    on_redis: Any, redis_process: RedisProcess, mock_server: MockServer, uid, restart: str
) -> None:
    ok = uid("ok:tokens=5")
    gateway = on_redis(
        {"smart": [f"mock/{ok}"]},
        budgets=[{"scope": "global", "window": "day", "limit_usd": 1000, "name": uid("allowance")}],
        state_outage={"budgets": "local_allowance", "allowance_usd": 70},
        ledger={"durability": "strict"},
        **DEAR,
    )
    await gateway.chat("smart", user("hi"), max_tokens=10)  # $6; each call's worst case is $59
    redis_process.stop() if restart == "empty" else redis_process.pause()

    await gateway.chat("smart", user("hi"), max_tokens=10)  # $59 held of the $70 allowance, $6 spent
    await gateway.chat("smart", user("hi"), max_tokens=10)  # $6 + $59 = $65 fits
    with pytest.raises(BudgetStateUnavailableError, match="allowance"):
        await gateway.chat("smart", user("hi"), max_tokens=10)  # $12 + $59 does not
    assert len(mock_server.attempts(model=ok)) == 3

    if restart == "empty":
        redis_process.start()  # no persistence: the counters are rebuilt from the ledger's $18
    else:
        redis_process.resume()  # it kept its $6: the $12 spent from the allowance is added

    async def counted() -> bool:
        try:
            await gateway.chat("smart", user("hi"), max_tokens=10)
        except BudgetStateUnavailableError:
            return False
        return True

    await until(counted)
    [spent] = await gateway.counters.read([budget_key("global", "all", "day")])
    assert spent == 24 * 10**9  # the four calls, each counted once


async def test_without_a_configured_share_each_replica_takes_its_part_of_those_seen_alive(
    on_redis: Any, redis_process: RedisProcess, uid
) -> None:
    models = {"smart": [f"mock/{uid('ok:tokens=1')}"]}
    limits = [{"scope": "global", "rpm": 4}]
    first, second = on_redis(models, rate_limits=limits), on_redis(models, rate_limits=limits)
    await fresh_minute_async()
    await first.chat("smart", user())
    await second.chat("smart", user())  # sees two replicas noted in Redis
    assert second.limit_counters.share == 2  # type: ignore[attr-defined]
    redis_process.stop()

    await second.chat("smart", user())
    await second.chat("smart", user())
    with pytest.raises(RateLimitExceededError):  # 2 of the 4: half, for two replicas
        await second.chat("smart", user())
