"""Circuit breakers, load balancing, cancellation and the sync facade, against ``keel mock``."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from keel import Gateway, NoRouteAvailableError, ServerError
from keel.mock import MockServer

from .conftest import FAST, GatewayFactory, merge, user


async def answered_by(gateway: Gateway, stream: bool) -> str | None:
    if not stream:
        return (await gateway.chat("smart", user())).route
    handle = gateway.stream("smart", user())
    async for _ in handle:
        pass
    return handle.response.route if handle.response else None


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_flapping_primary_is_skipped_while_open_and_used_after_recovery(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, stream: bool
) -> None:
    """A primary that is down for a window is skipped while its circuit is open, then used again."""
    down_s, open_s = 1.0, 1.5  # wide enough for six calls on a busy machine
    primary, backup = uid(f"flap:down_ms={down_s * 1000:g}"), uid("ok")
    gateway = gateway_for(
        {"smart": [f"mock/{primary}", f"mock/{backup}"]},
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 2, "window": 10, "open_for": open_s},
    )
    routes = [await answered_by(gateway, stream) for _ in range(6)]
    assert routes == [f"mock/{backup}"] * 6
    seen = mock_server.attempts(model=primary)
    assert len(seen) == 2  # two failures opened the circuit; the other four calls skipped it
    # Wait, by what the mock saw, until the primary is up and the circuit half-open (opened just
    # after the second failure's reply went out).
    ready_at = max(seen[0]["monotonic"] + down_s, seen[1]["ended_at"] + open_s) + 0.3
    await asyncio.sleep(ready_at - time.monotonic())
    routes = [await answered_by(gateway, stream) for _ in range(3)]
    assert routes == [f"mock/{primary}"] * 3
    assert [r["outcome"] for r in mock_server.attempts(model=primary)][-3:] == ["ok", "ok", "ok"]


async def test_every_route_open_fails_fast(gateway_for: GatewayFactory, uid) -> None:
    """With every circuit open the call fails at once with NoRouteAvailableError and a retry hint."""
    down = uid("error-503")
    gateway = gateway_for(
        {"smart": [f"mock/{down}"]},
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 1, "open_for": 30},
    )
    with contextlib.suppress(ServerError):
        await gateway.chat("smart", user())
    started = time.monotonic()
    try:
        await gateway.chat("smart", user())
    except NoRouteAvailableError as error:
        assert error.retry_after is not None and error.retry_after > 20
    else:
        raise AssertionError("expected NoRouteAvailableError")
    assert time.monotonic() - started < 0.1


async def test_weighted_load_balancing(gateway_for: GatewayFactory, mock_server: MockServer, uid) -> None:
    """Calls spread over a tier's deployments in proportion to their weights."""
    heavy, light = uid("ok:tokens=1,x=heavy"), uid("ok:tokens=1,x=light")
    gateway = gateway_for(
        {
            "smart": [
                [
                    {"provider": "mock", "model": heavy, "weight": 3},
                    {"provider": "mock", "model": light, "weight": 1},
                ]
            ]
        }
    )
    await asyncio.gather(*(gateway.chat("smart", user()) for _ in range(200)))
    share = len(mock_server.attempts(model=heavy)) / 200
    assert 0.62 <= share <= 0.88  # 0.75 expected; wide enough for a fair coin's noise
    assert len(mock_server.attempts(model=heavy)) + len(mock_server.attempts(model=light)) == 200


async def test_load_balancing_skips_an_open_circuit(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Once a deployment's circuit opens, its tier-mate takes all the traffic."""
    bad, good = uid("error-503"), uid("ok:tokens=1")
    gateway = gateway_for(
        {"smart": [[{"provider": "mock", "model": bad, "weight": 5}, {"provider": "mock", "model": good}]]},
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 1, "open_for": 30},
    )
    routes = [(await gateway.chat("smart", user())).route for _ in range(20)]
    assert routes == [f"mock/{good}"] * 20
    assert len(mock_server.attempts(model=bad)) == 1


async def test_stream_cancel_closes_the_upstream_within_a_second(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A caller that stops reading a stream closes the upstream connection promptly."""
    slow = uid("ok:tokens=200,token_ms=50")
    gateway = gateway_for({"smart": [f"mock/{slow}"]})
    handle = gateway.stream("smart", user())
    await anext(handle)
    await handle.aclose()
    closed_at = time.monotonic()
    for _ in range(50):
        records = mock_server.attempts(model=slow)
        if records and records[0].get("closed_at"):
            break
        await asyncio.sleep(0.02)
    assert records[0]["closed_at"] is not None
    assert records[0]["closed_at"] - closed_at < 1.0
    assert handle.response is not None
    assert [a.outcome for a in handle.response.attempts] == ["cancelled"]


async def test_task_cancel_closes_the_upstream(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Cancelling the task awaiting a call closes the upstream connection promptly."""
    slow = uid("hang")
    gateway = gateway_for({"smart": [f"mock/{slow}"]})
    task = asyncio.create_task(gateway.chat("smart", user()))
    for _ in range(50):
        if mock_server.attempts(model=slow):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    cancelled_at = time.monotonic()
    for _ in range(50):
        record = mock_server.attempts(model=slow)[0]
        if record.get("closed_at"):
            break
        await asyncio.sleep(0.02)
    assert record["closed_at"] is not None and record["closed_at"] - cancelled_at < 1.0


async def test_unknown_model_names_the_choices(gateway_for: GatewayFactory) -> None:
    """An unknown model name fails before any upstream call, listing the configured names."""
    from keel import ModelNotFoundError

    gateway = gateway_for({"smart": ["mock/ok"]})
    try:
        await gateway.chat("nope", user())
    except ModelNotFoundError as error:
        assert "smart" in str(error)
    else:
        raise AssertionError("expected ModelNotFoundError")


async def test_direct_provider_model_names(gateway_for: GatewayFactory, mock_server: MockServer, uid) -> None:
    """``provider/model`` reaches that provider's model without a configured alias."""
    ok = uid("ok")
    gateway = gateway_for({})
    response = await gateway.chat(f"mock/{ok}", user())
    assert response.route == f"mock/{ok}"
    assert len(mock_server.attempts(model=ok)) == 1


def test_sync_and_async_give_the_same_results(mock_server: MockServer, tmp_path) -> None:
    """The sync facade returns what the async API returns, for chat and stream."""
    config = merge(
        {
            "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
            "database": f"sqlite:///{tmp_path}/keel.db",
            "models": {"smart": ["mock/ok:tokens=6,x=parity"]},
        },
        FAST,
    )
    sync_gateway = Gateway.from_config(config)
    try:
        sync_chat = sync_gateway.sync.chat("smart", user(), temperature=0)
        sync_stream = [chunk.text for chunk in sync_gateway.sync.stream("smart", user(), temperature=0)]
    finally:
        sync_gateway.close()

    async def run_async() -> tuple[object, list[str]]:
        async with Gateway.from_config(config) as gateway:
            chat = await gateway.chat("smart", user(), temperature=0)
            chunks = [chunk.text async for chunk in gateway.stream("smart", user(), temperature=0)]
            return chat, chunks

    async_chat, async_stream = asyncio.run(run_async())
    assert sync_chat.text == async_chat.text  # type: ignore[attr-defined]
    assert sync_chat.route == async_chat.route  # type: ignore[attr-defined]
    assert sync_chat.usage == async_chat.usage  # type: ignore[attr-defined]
    assert sync_stream == async_stream
    assert "".join(sync_stream) == sync_chat.text
