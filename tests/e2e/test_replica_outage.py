"""Two ``keel serve`` replicas sharing a private ``redis-server`` and a PostgreSQL ledger, under a
steady mix of plain calls, streams and budgeted calls, while Redis stops for 5 s and comes
back empty: no 5xx for unbudgeted traffic, budgeted calls answered or refused cleanly with Keel's
code, both replicas sharing state again soon after, and a spent budget not spent again."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .._support.postgres_cluster import PostgresCluster
from .._support.redis_process import RedisProcess
from .conftest import free_port, mock_config, user
from .test_reload_processes import MASTER, Served


@pytest.fixture
def redis_process(tmp_path: Path) -> Any:
    redis = RedisProcess(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def replica(
    upstream: MockServer,
    tmp_path: Path,
    redis: RedisProcess,
    database: str,
    name: str,
    models: dict[str, Any],
    budget: dict[str, Any],
    outage: dict[str, Any],
) -> Served:
    workdir = tmp_path / name
    workdir.mkdir()
    raw = mock_config(
        upstream,
        models,
        state=redis.url,
        database=database,
        server={"port": free_port(), "master_key": MASTER},
        budgets=[{"scope": "model", "match": "budgeted", "window": "day", **budget}],
        state_outage=outage,
        pricing={"models": {"mock/*": {"input": 1_000_000, "output": 1_000_000}}},
        ledger={"durability": "strict", "spill_dir": str(workdir / "spill")},
    )
    return Served(workdir, raw)


def ledger_spend(url: str, model: str) -> float:
    async def fetch() -> float:
        connection = await asyncpg.connect(url)
        try:
            query = "SELECT coalesce(sum(cost_usd), 0) FROM ledger WHERE requested_model = $1"
            return float(await connection.fetchval(query, model))
        finally:
            await connection.close()

    return asyncio.run(fetch())


# Each budgeted call costs $7 (2 input and 5 output tokens at $1 each).
CALL_USD = 7
POLICIES = {
    # $1,200 is not reached in the test: every refusal is the outage's, and none comes after it.
    "fail_closed": ({"limit_usd": 1200}, {"budgets": "fail_closed"}),
    # $140 is spent before Redis stops; each replica may then hold $100 of its own (a call holds its
    # worst case, about $30, and spends $7).
    "local_allowance": ({"limit_usd": 140}, {"budgets": "local_allowance", "allowance_usd": 100}),
}


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_two_replicas_ride_out_a_redis_outage(
    upstream: MockServer, redis_process: RedisProcess, cluster: PostgresCluster, tmp_path: Path, policy: str
) -> None:
    budget, outage = POLICIES[policy]
    token = uuid.uuid4().hex[:8]
    models = {
        "plain": [f"mock/ok:tokens=3,id={token}"],
        "streamed": [f"mock/ok:tokens=8,token_ms=10,id={token}"],
        "budgeted": [f"mock/ok:tokens=5,id={token}"],
    }
    replicas = [
        replica(upstream, tmp_path, redis_process, cluster.url, name, models, budget, outage)
        for name in ("a", "b")
    ]
    try:
        for served in replicas:
            served.wait_ready()
        results: list[tuple[str, int, str]] = []
        stop = threading.Event()

        def load(kind: str, index: int) -> None:
            headers = {"authorization": f"Bearer {MASTER}"}
            with httpx.Client(timeout=20) as client:
                n = 0
                while not stop.is_set():
                    base = replicas[(index + n) % 2].base_url
                    n += 1
                    body: dict[str, Any] = {"model": kind, "messages": user(), "max_tokens": 10}
                    if kind == "streamed":
                        body["stream"] = True
                    try:
                        answer = client.post(f"{base}/v1/chat/completions", json=body, headers=headers)
                        code = answer.headers.get("x-keel-error-code", "")
                        ok_stream = kind != "streamed" or answer.status_code != 200 or "[DONE]" in answer.text
                        results.append((kind, answer.status_code if ok_stream else 599, code))
                    except httpx.HTTPError as error:
                        results.append((kind, 0, type(error).__name__))
                    time.sleep(0.02)

        threads = [
            threading.Thread(target=load, args=(kind, i))
            for i, kind in enumerate(["plain", "streamed", "budgeted", "plain"])
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        if policy == "local_allowance":  # the budget is spent before the outage begins
            deadline = time.monotonic() + 20
            while not any(r[:2] == ("budgeted", 429) for r in results):
                assert time.monotonic() < deadline, Counter(results)
                time.sleep(0.05)
        before = len(results)
        redis_process.stop()
        time.sleep(5.0)
        redis_process.start()  # empty: no persistence
        recovered = time.monotonic()
        during = results[before : len(results)]
        # Both replicas share state again within 5 s: their /readyz says so.
        for served in replicas:
            while True:
                state = httpx.get(f"{served.base_url}/readyz", timeout=5).json()["checks"]["state"]
                if state == "ok":
                    break
                assert time.monotonic() - recovered < 5, state
                time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(30)
    finally:
        for served in replicas:
            served.stop()

    statuses = Counter((kind, status, code) for kind, status, code in results)
    unbudgeted = [r for r in results if r[0] != "budgeted"]
    assert unbudgeted and all(status == 200 for _, status, _ in unbudgeted), statuses
    budgeted = [r for r in results if r[0] == "budgeted"]
    clean = {(200, ""), (503, "budget_state_unavailable"), (429, "budget_exceeded")}
    assert all((status, code) in clean for _, status, code in budgeted), statuses
    assert any(r[:2] == ("budgeted", 503) for r in during), "the outage refused no budgeted call"
    answered = sum(status == 200 for _, status, _ in budgeted)
    spent = ledger_spend(cluster.url, "budgeted")
    assert spent == pytest.approx(CALL_USD * answered)  # the ledger holds every answered call
    if policy == "fail_closed":
        assert all(status != 503 for _, status, _ in budgeted[-5:]), "budgets never came back"
        # Across the outage and Redis coming back empty the counters were rebuilt from the shared
        # ledger, so the budget was not spent again.
        assert spent <= budget["limit_usd"]
    else:
        # Each replica spent its allowance during the outage, no more; the worst overspend is the
        # allowance times the replicas, and the spend was reported when Redis came back.
        assert any(r[:2] == ("budgeted", 200) for r in during), "no replica spent its allowance"
        assert spent <= budget["limit_usd"] + 2 * outage["allowance_usd"]
        assert all(status == 429 for _, status, _ in budgeted[-5:]), "the spent budget was spent again"
        logs = "".join(served.text() for served in replicas)
        reported = re.findall(r"applied to the budgets' tokens=0 usd=([0-9.]+)", logs)
        assert reported and sum(map(float, reported)) > 0, reported
    for served in replicas:
        text = served.text()
        assert text.count("state store unreachable") == 1 and "Traceback" not in text
