"""What a call is billed: failed attempts nothing, a fallback at the answering model's price, a cut
stream what it delivered — the same figure in the ledger, on the attempts and in the budget's counter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keel import BudgetExceededError, Gateway, StreamInterruptedError
from keel.mock import MockServer
from keel.policies.budget import spent
from keel.pricing import input_token_bound
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user

MILLION = Decimal(1_000_000)
CHEAP = {"input": 1, "output": 2}  # USD per million tokens
DEAR = {"input": 3, "output": 7}
GLOBAL_BUDGET = {"budgets": [{"scope": "global", "window": "day", "limit_usd": 100}]}


def priced(usage: Any, prices: dict[str, int]) -> Decimal:
    """Price times usage, by hand."""
    return (usage.input_tokens * prices["input"] + usage.output_tokens * prices["output"]) / MILLION


async def record(tmp_path: Path) -> dict[str, Any]:
    ledger = SQLiteLedger(tmp_path / "keel.db")
    try:
        [row] = await ledger.rows()
    finally:
        await ledger.close()
    return row


async def settled(gateway: Gateway) -> Decimal:
    return await spent(gateway.counters, "global", "all", "day")


@pytest.mark.parametrize(
    "failing",
    ["error-500:times=1", "error-503:times=1", "rate-limit:times=1,retry_after=0.05"],
    ids=["500", "503", "429"],
)
async def test_failed_attempts_cost_nothing(
    gateway_for: GatewayFactory, tmp_path: Path, uid, failing: str
) -> None:
    """A 500, 503 or 429 attempt is recorded with no cost; the call pays for its answer alone."""
    gateway = gateway_for({"smart": [f"mock/{uid(failing + ',tokens=4')}"]}, **GLOBAL_BUDGET)
    response = await gateway.chat("smart", user(), max_tokens=50)
    counter = await settled(gateway)
    await gateway.aclose()
    row = await record(tmp_path)
    failed, answered = row["attempts"]
    assert failed["outcome"] != "ok" and failed.get("cost") is None and "usage" not in failed
    assert answered["outcome"] == "ok"
    expected = priced(response.usage, CHEAP)
    assert Decimal(answered["cost"]) == expected == row["cost_usd"] == counter


async def test_fallback_is_billed_at_the_answering_models_price(
    gateway_for: GatewayFactory, mock_server: MockServer, tmp_path: Path, uid
) -> None:
    """When a cheap route fails and a dear one answers, the call costs the dear price times its usage."""
    down, backup = uid("error-503"), uid("ok:tokens=4")
    gateway = gateway_for(
        {"smart": [f"mock/{down}", f"dear/{backup}"]},
        providers={"dear": {"profile": "generic", "base_url": mock_server.base_url}},
        pricing={"models": {"dear/*": DEAR}},
        retry={"max_attempts": 1},
        **GLOBAL_BUDGET,
    )
    response = await gateway.chat("smart", user(), max_tokens=50)
    counter = await settled(gateway)
    await gateway.aclose()
    assert response.route == f"dear/{backup}" and response.model == backup
    row = await record(tmp_path)
    assert row["route"] == f"dear/{backup}" and row["model"] == backup
    assert [a["outcome"] for a in row["attempts"]] == ["server_error", "ok"]
    expected = priced(response.usage, DEAR)
    assert expected != priced(response.usage, CHEAP)
    assert row["cost_usd"] == expected == response.attempts[-1].cost == counter


async def test_cut_stream_is_billed_for_what_it_delivered(
    gateway_for: GatewayFactory, tmp_path: Path, uid
) -> None:
    """A stream cut before its usage arrived pays its input bound plus one token per delivered byte."""
    gateway = gateway_for({"smart": [f"mock/{uid('cut:after=3,tokens=10')}"]}, **GLOBAL_BUDGET)
    handle = gateway.stream("smart", user(), max_tokens=50)
    with pytest.raises(StreamInterruptedError) as info:
        async for _ in handle:
            pass
    counter = await settled(gateway)
    await gateway.aclose()
    delivered = info.value.partial.text.encode()
    assert delivered == b"token0 token1 token2"
    row = await record(tmp_path)
    [attempt] = row["attempts"]
    assert attempt["outcome"] == "cut" and attempt["error"].startswith("malformed")
    assert attempt["delivered_bytes"] == len(delivered)
    expected = (
        input_token_bound(handle.call.request) * CHEAP["input"] + len(delivered) * CHEAP["output"]
    ) / MILLION
    assert row["cost_usd"] == expected == Decimal(attempt["cost"]) == counter
    assert row["status"] == "stream_interrupted"
    # The record's tokens are the ones it was billed for, as its cost is.
    assert (row["input_tokens"], row["output_tokens"]) == (
        input_token_bound(handle.call.request),
        len(delivered),
    )


async def test_a_fallback_the_budget_cannot_cover_stops_the_call(
    gateway_for: GatewayFactory, mock_server: MockServer, tmp_path: Path, uid
) -> None:
    """A budget that covers the cheap route's worst case but not the dear fallback's stops the call
    with a budget error when the cheap route fails; the dear route is never called."""
    down, dear = uid("error-503"), uid("ok:tokens=4")
    gateway = gateway_for(
        {"smart": [f"mock/{down}", f"dear/{dear}"]},
        providers={"dear": {"profile": "generic", "base_url": mock_server.base_url}},
        pricing={
            "models": {
                "mock/*": {"input": 1_000_000, "output": 1_000_000},
                "dear/*": {"input": 3_000_000, "output": 3_000_000},
            }
        },
        retry={"max_attempts": 1},
        budgets=[
            {"scope": "global", "window": "day", "limit_usd": 100}
        ],  # mock's worst case $59, dear's $177
    )
    with pytest.raises(BudgetExceededError, match=r"global day.*up to \$177"):
        await gateway.chat("smart", user("hi"), max_tokens=10)
    assert await settled(gateway) == 0
    await gateway.aclose()
    assert mock_server.attempts(model=dear) == []
    row = await record(tmp_path)
    assert [a["outcome"] for a in row["attempts"]] == ["server_error", "refused"] and row["cost_usd"] == 0
