"""Shared calls through the library: who pays, who may leave, and what every caller gets."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from keel import ServerError
from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user


async def closed(mock_server: MockServer, model: str, within: float = 1.0) -> bool:
    """Whether the mock saw the client close the connection of the model's first request."""
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        records = mock_server.attempts(model=model)
        if records and records[0].get("closed_at"):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_leaving_caller_does_not_cancel_the_others(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """One of two streaming callers leaves early: the other still gets the whole answer from one call."""
    model = uid("ok:tokens=30,token_ms=10")
    gateway = gateway_for({"smart": [f"mock/{model}"]})
    leaving = gateway.stream("smart", user(), temperature=0)
    staying = gateway.stream("smart", user(), temperature=0)
    await anext(leaving)
    first = await anext(staying)
    await leaving.aclose()
    text = first.text + "".join([chunk.text async for chunk in staying])
    assert len(text.split()) == 30
    assert len(mock_server.attempts(model=model)) == 1
    assert mock_server.attempts(model=model)[0]["outcome"] != "client_closed"


async def test_the_shared_call_is_cancelled_when_its_last_caller_goes(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """When every caller of a shared stream has left, the upstream connection is closed within a second."""
    model = uid("ok:tokens=400,token_ms=20")
    gateway = gateway_for({"smart": [f"mock/{model}"]})
    handles = [gateway.stream("smart", user(), temperature=0) for _ in range(3)]
    for handle in handles:
        await anext(handle)
    for handle in handles[:2]:
        await handle.aclose()
    assert not await closed(mock_server, model, within=0.3)
    await handles[2].aclose()
    assert await closed(mock_server, model)


async def test_every_caller_gets_the_same_error(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A shared call that fails fails for each of its callers, after one upstream attempt."""
    model = uid("error-503:ttft_ms=100")
    gateway = gateway_for({"smart": [f"mock/{model}"]}, retry={"max_attempts": 1})
    results = await asyncio.gather(
        *(gateway.chat("smart", user(), temperature=0) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, ServerError) for result in results)
    assert len(mock_server.attempts(model=model)) == 1


async def test_followers_are_recorded_as_coalesced_at_no_cost(
    gateway_for: GatewayFactory, mock_server: MockServer, tmp_path: Path, uid
) -> None:
    """The caller that made the upstream call pays for it; the callers that shared it cost nothing."""
    model = uid("ok:tokens=5,ttft_ms=100")
    gateway = gateway_for({"smart": [f"mock/{model}"]})
    answers = await asyncio.gather(*(gateway.chat("smart", user(), temperature=0) for _ in range(4)))
    await gateway.aclose()
    assert len({answer.text for answer in answers}) == 1
    ledger = SQLiteLedger(tmp_path / "keel.db")
    rows = await ledger.rows()
    await ledger.close()
    leaders = [row for row in rows if not row["coalesced"]]
    followers = [row for row in rows if row["coalesced"]]
    assert len(leaders) == 1 and leaders[0]["cost_usd"] > 0
    assert len(followers) == 3 and all(row["cost_usd"] == Decimal(0) for row in followers)


async def test_a_leader_that_leaves_early_is_still_charged(
    gateway_for: GatewayFactory, mock_server: MockServer, tmp_path: Path, uid
) -> None:
    """The first caller leaves while another reads on: its ledger record carries the whole call's cost."""
    model = uid("ok:tokens=20,token_ms=10")
    gateway = gateway_for({"smart": [f"mock/{model}"]})
    leader = gateway.stream("smart", user(), temperature=0)
    follower = gateway.stream("smart", user(), temperature=0)
    await anext(leader)
    await anext(follower)
    await leader.aclose()
    async for _ in follower:
        pass
    await gateway.aclose()
    ledger = SQLiteLedger(tmp_path / "keel.db")
    rows = {bool(row["coalesced"]): row for row in await ledger.rows()}
    await ledger.close()
    assert rows[False]["status"] == "cancelled" and rows[False]["output_tokens"] == 20
    assert rows[False]["cost_usd"] > 0 and rows[True]["cost_usd"] == Decimal(0)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_the_library_marks_hits(gateway_for: GatewayFactory, uid, stream: bool) -> None:
    """``ChatResponse.cache`` says a second identical call was an exact hit; a first call has none."""
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=3')}"]})
    first = await gateway.chat("smart", user(), temperature=0)
    if stream:
        handle = gateway.stream("smart", user(), temperature=0)
        assert "".join([chunk.text async for chunk in handle]) == first.text
        second = handle.response
    else:
        second = await gateway.chat("smart", user(), temperature=0)
    assert first.cache is None
    assert second is not None and second.cache is not None
    assert second.cache.hit and second.cache.kind == "exact" and second.cache.age_s >= 0
    uncached = await gateway.chat("smart", user(), temperature=0, keel={"cache": False})
    assert uncached.cache is None
