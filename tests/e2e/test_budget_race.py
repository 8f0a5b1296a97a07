"""The budget race: 300 concurrent SDK calls against a virtual key whose budget affords about 50,
through real ``keel serve`` replicas in front of ``keel mock`` — never overspent, cleanly refused,
and every cent in the ledger."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from keel.mock import MockServer
from keel.policies.budget import spent
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import RunningKeel, mock_config, start_keel, user

KEEL = str(Path(sys.executable).with_name("keel"))
MASTER = "mk-race-master-key"
CALLS = 300
BUDGET = Decimal(75)
# Per token: input $0.0013, output $0.2417. A call here (max_tokens=6, 5 tokens answered) reserves
# about $1.51 at its worst case and settles at about $1.21, so $75 affords ~50 worst cases, ~60 answers.
PRICES = {"models": {"mock/*": {"input": 1300, "output": 241700}}}


def keel_keys(database: str, *flags: str) -> dict[str, Any]:
    """A virtual key made as an operator would, by ``keel keys create`` with ``flags``: its record."""
    made = subprocess.run(
        [KEEL, "keys", "create", "--name", "race", *flags, "--format", "json", "--database", database],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    record: dict[str, Any] = orjson.loads(made.stdout)
    return record


def issue_key(database: str) -> tuple[str, str]:
    """A virtual key with a $75 daily budget."""
    record = keel_keys(database, "--budget-usd", str(BUDGET), "--budget-window", "day")
    assert record["metadata"] == {"budget_usd": "75", "budget_window": "day"}
    return record["id"], record["key"]


async def race(replicas: list[RunningKeel], secret: str) -> list[Any]:
    """CALLS concurrent chat calls spread over the replicas, with the SDK's default retries."""
    clients = [openai.AsyncOpenAI(base_url=r.v1, api_key=secret, timeout=30) for r in replicas]

    async def one(index: int) -> Any:
        sdk = clients[index % len(clients)]
        try:
            return await sdk.chat.completions.with_raw_response.create(
                model="smart", messages=user("hi"), max_tokens=6
            )
        except openai.APIError as error:
            return error

    try:
        return await asyncio.gather(*(one(i) for i in range(CALLS)))
    finally:
        for sdk in clients:
            await sdk.close()


def outcomes(results: list[Any]) -> tuple[list[Any], list[openai.RateLimitError]]:
    """A race's answers and its refusals (429s), having checked that every call was one or the other
    and that there were some of each."""
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    others = [r for r in results if isinstance(r, BaseException) and not isinstance(r, openai.RateLimitError)]
    assert not others, others[:3]
    assert answered and refused and len(answered) + len(refused) == CALLS
    return answered, refused


async def ledger_rows(path: Path, key_id: str) -> list[dict[str, Any]]:
    ledger = SQLiteLedger(path)
    try:
        return [row for row in await ledger.rows(limit=10 * CALLS) if row["key_id"] == key_id]
    finally:
        await ledger.close()


@pytest.mark.parametrize("replicas", [1, 2], ids=["one-replica", "two-replicas-redis"])
def test_concurrent_calls_never_overspend_a_key_budget(
    upstream: MockServer, tmp_path: Path, uid, request: pytest.FixtureRequest, replicas: int
) -> None:
    """300 concurrent calls against a key budget: settled spend ≤ the budget and equal to the ledger's
    sum, every refusal a 429 naming the budget with Retry-After, never a 5xx."""
    model = uid("ok:tokens=5,ttft_ms=50")
    database = f"sqlite:///{tmp_path / 'keel.db'}"
    extra: dict[str, Any] = {"state": request.getfixturevalue("redis_url")} if replicas == 2 else {}
    config = mock_config(
        upstream,
        {"smart": [f"mock/{model}"]},
        server={"master_key": MASTER},
        database=database,
        pricing=PRICES,
        timeouts={"total": 30, "attempt": 10},
        **extra,
    )
    key_id, secret = issue_key(database)
    servers = [start_keel(config) for _ in range(replicas)]
    try:
        results = asyncio.run(race(servers, secret))
        settled = asyncio.run(settled_spend(servers[0], extra.get("state"), key_id))
    finally:
        for server in servers:
            server.stop()  # closes each gateway, flushing its ledger

    answered, refused = outcomes(results)
    for raw in answered:
        assert raw.http_response.status_code == 200
        assert raw.parse().choices[0].message.content == "token0 token1 token2 token3 token4"
        assert 0 <= Decimal(raw.headers["x-keel-budget-remaining"]) <= BUDGET
    for error in refused:
        assert error.status_code == 429 and error.code == "budget_exceeded"
        assert f"budget 'key {key_id} day' ($75)" in error.message and "resets in" in error.message
        assert int(error.response.headers["retry-after"]) > 0

    rows = asyncio.run(ledger_rows(tmp_path / "keel.db", key_id))
    assert len(rows) == CALLS  # one record per call: the SDK retried none of the refusals
    ok_ids = {raw.headers["x-request-id"] for raw in answered}
    assert {row["request_id"] for row in rows if row["status"] == "ok"} == ok_ids
    assert {row["status"] for row in rows} == {"ok", "budget_exceeded"}
    ledger_sum = sum((row["cost_usd"] for row in rows), Decimal(0))
    assert settled <= BUDGET
    assert ledger_sum.quantize(Decimal("0.01")) == settled.quantize(Decimal("0.01"))
    assert ledger_sum == settled  # in fact to the nano-dollar
    assert len(upstream.attempts(model=model)) == len(answered)
    print(
        f"\n{replicas} replica(s): {len(answered)} answered, {len(refused)} refused (429); "
        f"settled ${settled} of ${BUDGET}; ledger ${ledger_sum} over {len(rows)} records"
    )


async def settled_spend(running: RunningKeel, state: str | None, key_id: str) -> Decimal:
    """The key budget's counter, read as the budget policy keeps it: the server's own in memory, or
    through a Redis client of our own (the servers' pools belong to their event loops)."""
    if state is None:
        return await spent(running.app.gateway.counters, "key", key_id, "day")
    from keel.stores.redis import RedisCounters  # the redis extra; only this case needs it

    counters = RedisCounters.from_url(state)
    try:
        return await spent(counters, "key", key_id, "day")
    finally:
        await counters.aclose()
