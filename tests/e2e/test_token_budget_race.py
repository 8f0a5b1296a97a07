"""The budget race with a token budget: 300 concurrent SDK calls through two ``keel serve`` replicas
sharing Redis, against a virtual key whose token budget fits about 50 worst cases — never overspent,
cleanly refused, and every token in the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from keel.mock import MockServer
from keel.policies.budget import spent_tokens

from .conftest import mock_config, start_keel
from .test_budget_race import CALLS, MASTER, keel_keys, ledger_rows, outcomes, race

# A call's bound here is its input bound (~50 tokens for "hi") + max_tokens=6, so ~54 worst cases fit;
# it uses 6 tokens (the mock counts 1 prompt token and answers 5).
LIMIT = 3000


def test_concurrent_calls_never_overspend_a_token_budget(
    upstream: MockServer, tmp_path: Path, uid, redis_url: str
) -> None:
    """300 concurrent calls over two replicas against a key's token budget: settled tokens ≤ the
    budget and equal to the ledger's input + output tokens, every refusal a 429 naming the budget
    with Retry-After, never a 5xx, and the mock saw exactly the answered calls."""
    model = uid("ok:tokens=5,ttft_ms=50")
    database = f"sqlite:///{tmp_path / 'keel.db'}"
    config = mock_config(
        upstream,
        {"smart": [f"mock/{model}"]},
        server={"master_key": MASTER},
        database=database,
        state=redis_url,
        timeouts={"total": 30, "attempt": 10},
    )
    record = keel_keys(database, "--budget-tokens", str(LIMIT), "--budget-window", "day")
    assert record["metadata"] == {"budget_tokens": str(LIMIT), "budget_window": "day"}
    key_id, secret = record["id"], record["key"]
    servers = [start_keel(config) for _ in range(2)]
    try:
        results = asyncio.run(race(servers, secret))
        settled = asyncio.run(settled_tokens(redis_url, key_id))
    finally:
        for server in servers:
            server.stop()  # closes each gateway, flushing its ledger

    answered, refused = outcomes(results)
    for raw in answered:
        assert raw.http_response.status_code == 200
        assert 0 <= int(raw.headers["x-keel-budget-remaining-tokens"]) <= LIMIT
    for error in refused:
        assert error.status_code == 429 and error.code == "budget_exceeded"
        assert f"budget 'key {key_id} day' (3,000 tokens)" in error.message and "resets in" in error.message
        assert int(error.response.headers["retry-after"]) > 0

    rows: list[dict[str, Any]] = asyncio.run(ledger_rows(tmp_path / "keel.db", key_id))
    assert len(rows) == CALLS
    ok_ids = {raw.headers["x-request-id"] for raw in answered}
    assert {row["request_id"] for row in rows if row["status"] == "ok"} == ok_ids
    ledger_tokens = sum(row["input_tokens"] + row["output_tokens"] for row in rows)
    assert ledger_tokens == settled <= LIMIT
    assert len(upstream.attempts(model=model)) == len(answered)
    print(f"\ntokens: {len(answered)} answered, {len(refused)} refused (429); {settled} of {LIMIT} settled")


async def settled_tokens(state: str, key_id: str) -> int:
    """The key's token counter, read through a Redis client of our own."""
    from keel.stores.redis import RedisCounters  # the redis extra; only this test needs it

    counters = RedisCounters.from_url(state)
    try:
        return await spent_tokens(counters, "key", key_id, "day")
    finally:
        await counters.aclose()
