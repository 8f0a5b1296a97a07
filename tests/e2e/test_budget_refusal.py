"""A budget refusal through ``keel serve``: no upstream attempt, and the budget's room on its headers.

A virtual key with a $1 lifetime budget pays for one answer (about 50¢); every later call's worst
case no longer fits. The refusals go through both front doors with the official SDKs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import RunningKeel, issue_key, mock_config, start_keel, user

MASTER = "mk-refusal-master-key"
# A tenth of a cent per input token and 10¢ per output token: one 5-token answer costs about 50¢ and
# reserves at most 55¢ (under 50 bytes of input), so the $1 budget covers exactly one.
PRICES = {"models": {"mock/*": {"input": 1_000, "output": 100_000}}}


@dataclass
class Budgeted:
    """A server, the mock model behind ``smart``, the key's id and secret, and its ledger file."""

    running: RunningKeel
    model: str
    key_id: str
    secret: str
    database: Path


@pytest.fixture
def budgeted(upstream: MockServer, tmp_path: Path, uid) -> Iterator[Budgeted]:
    """A strict-ledger server whose key has $1 to spend, for its whole life."""
    model = uid("ok:tokens=5")
    database = tmp_path / "keel.db"
    config = mock_config(
        upstream,
        {"smart": [f"mock/{model}"]},
        server={"master_key": MASTER},
        database=f"sqlite:///{database}",
        ledger={"durability": "strict"},
        pricing=PRICES,
    )
    running = start_keel(config)

    record, secret = issue_key(running, "refusals", metadata={"budget_usd": "1", "budget_window": "lifetime"})
    key_id = record.id
    yield Budgeted(running, model, key_id, secret, database)
    running.stop()


def ledger_rows(database: Path, key_id: str) -> dict[str, dict[str, Any]]:
    """The key's ledger records by request id."""

    async def read() -> list[dict[str, Any]]:
        ledger = SQLiteLedger(database)
        try:
            return await ledger.rows(limit=100)
        finally:
            await ledger.close()

    return {row["request_id"]: row for row in asyncio.run(read()) if row["key_id"] == key_id}


def remaining(headers: Any) -> Decimal:
    return Decimal(headers["x-keel-budget-remaining"])


def test_refusals_made_no_attempt_and_say_what_remains(budgeted: Budgeted, upstream: MockServer) -> None:
    """A budget refusal — chat, streamed chat, or Anthropic message — answers ``x-keel-attempts: 0``
    and the key's remaining budget, as the answered call before it did; the upstream saw only that
    call, and the ledger records each refusal with no upstream attempt, no route and no cost."""
    running = budgeted.running
    with openai.OpenAI(base_url=running.v1, api_key=budgeted.secret, timeout=20) as sdk:
        answered = sdk.chat.completions.with_raw_response.create(model="smart", messages=user(), max_tokens=5)
        refusals = []
        for stream in (False, True):
            with pytest.raises(openai.RateLimitError) as refused:
                sdk.chat.completions.create(model="smart", messages=user(), max_tokens=5, stream=stream)
            assert refused.value.code == "budget_exceeded"
            refusals.append(refused.value.response.headers)
    with anthropic.Anthropic(base_url=running.base_url, api_key=budgeted.secret, timeout=20) as claude:
        with pytest.raises(anthropic.RateLimitError) as refused_message:
            claude.messages.create(model="smart", max_tokens=5, messages=user())
        assert "cannot cover this call" in refused_message.value.message
        refusals.append(refused_message.value.response.headers)

    assert answered.headers["x-keel-attempts"] == "1"
    assert len(upstream.attempts(model=budgeted.model)) == 1  # the answer's attempt alone
    rows = ledger_rows(budgeted.database, budgeted.key_id)
    spent = rows[answered.headers["x-request-id"]]["cost_usd"]
    left = (1 - spent).quantize(Decimal("0.000001"), ROUND_FLOOR)
    assert Decimal("0.4") < left < Decimal("0.55") and remaining(answered.headers) == left
    for headers in refusals:
        assert headers["x-keel-attempts"] == "0"
        assert remaining(headers) == left
        row = rows[headers["x-request-id"]]
        assert row["status"] == "budget_exceeded" and row["cost_usd"] == 0
        assert row["route"] is None and row["model"] is None
        assert [attempt["outcome"] for attempt in row["attempts"]] == ["refused"]  # none reached upstream
    assert len(rows) == 4


def test_a_cache_hit_says_what_remains(budgeted: Budgeted, upstream: MockServer) -> None:
    """A call answered from the cache, with no attempt of its own, still carries the key's remaining
    budget, unchanged by the hit (a hit costs nothing)."""
    with openai.OpenAI(base_url=budgeted.running.v1, api_key=budgeted.secret, timeout=20) as sdk:
        ask = sdk.chat.completions.with_raw_response.create
        miss, hit = (ask(model="smart", messages=user(), max_tokens=5, temperature=0) for _ in range(2))
        miss_headers, hit_headers = miss.headers, hit.headers
    assert (miss_headers["x-keel-cache"], hit_headers["x-keel-cache"]) == ("miss", "hit")
    assert hit_headers["x-keel-attempts"] == "0"
    assert len(upstream.attempts(model=budgeted.model)) == 1
    assert Decimal("0.4") < remaining(hit_headers) == remaining(miss_headers) < Decimal("0.55")
