"""``GET /metrics`` after a scripted mix of calls through ``keel serve`` in front of ``keel mock``:
every count equals what the script did and what the ledger recorded, and no label carries a
secret, a prompt or an unbounded id."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer
from keel.stores.sqlite_ledger import sqlite_path

from ..scrape import Samples, by, changed, label_values, parse, total
from .conftest import RunningKeel, issue_key, mock_config, start_keel
from .sdk_stream import ledger_rows

MASTER = "sk-master-canary-5d1e0c7a9b"
PROMPT = "canary-prompt-93ab: write to jane.doe@example.com"


def scrape(running: RunningKeel, **headers: str) -> httpx.Response:
    return httpx.get(f"{running.base_url}/metrics", headers=headers, timeout=10)


def samples(running: RunningKeel) -> Samples:
    response = scrape(running, authorization=f"Bearer {MASTER}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def wait_for_rows(running: RunningKeel, count: int) -> list[dict[str, Any]]:
    """The ledger's rows once ``count`` are stored (the batched writer flushes within 0.2 s)."""
    path = sqlite_path(running.app.gateway.config.database)
    deadline = time.monotonic() + 10
    while True:
        rows = ledger_rows(path) if path.exists() else []
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.fixture
def mix(upstream: MockServer) -> tuple[RunningKeel, dict[str, str]]:
    """A server whose models each play one part of the script, named uniquely for this test."""
    t = uuid.uuid4().hex[:8]
    r = {
        "ok": f"mock/ok:tokens=20,id={t}",
        "cached": f"mock/ok:tokens=5,id={t}c",
        "limited": f"mock/rate-limit:retry_after=0.1,times=1,tokens=5,id={t}",
        "down": f"mock/error-503:id={t}",
        "backup": f"mock/ok:tokens=4,id={t}b",
        "cut": f"mock/cut:after=3,tokens=10,id={t}",
        "priced": f"mock/ok:id={t}p",
    }
    models = {
        f"ok-{t}": [r["ok"]],
        f"cached-{t}": [r["cached"]],
        f"retry-{t}": [r["limited"]],
        f"fallback-{t}": [r["down"], r["backup"]],
        f"cut-{t}": [r["cut"]],
        f"budget-{t}": [r["priced"]],
    }
    config = mock_config(
        upstream,
        models,
        server={"master_key": MASTER},
        retry={"max_attempts": 2},
        breaker={"failure_threshold": 2, "open_for": 60},
        budgets=[{"scope": "model", "match": f"budget-{t}", "limit_usd": "0.000001", "window": "day"}],
        # A ceiling above every model and route the suite's other tests showed this process.
        metrics={"require_key": True, "labels": ["key", "team"], "max_label_values": 1_000_000},
    )
    running = start_keel(config)
    yield running, {**r, "t": t}
    running.stop()


def run_script(running: RunningKeel, secret: str, t: str) -> None:
    """Successes, a cache hit, a 429 retried, a fallback, a circuit open, a stream cut, a budget refusal."""
    messages = [{"role": "user", "content": PROMPT}]
    with openai.OpenAI(base_url=running.v1, api_key=secret, max_retries=0, timeout=20) as sdk:
        for _ in range(2):
            sdk.chat.completions.create(model=f"ok-{t}", messages=messages)
        for _ in sdk.chat.completions.create(model=f"ok-{t}", messages=messages, stream=True):
            pass
        for _ in range(2):  # the second is the first's answer, from the cache
            sdk.chat.completions.create(model=f"cached-{t}", messages=messages, temperature=0)
        sdk.chat.completions.create(model=f"retry-{t}", messages=messages)
        sdk.chat.completions.create(model=f"fallback-{t}", messages=messages)  # opens the circuit
        passed_over = sdk.chat.completions.with_raw_response.create(model=f"fallback-{t}", messages=messages)
        assert passed_over.headers["x-keel-attempts"] == "1"  # the open circuit's route was not asked
        with pytest.raises(openai.APIError):
            for _ in sdk.chat.completions.create(model=f"cut-{t}", messages=messages, stream=True):
                pass
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(model=f"budget-{t}", messages=messages, max_tokens=100)


def test_a_scrape_counts_what_the_script_did_and_the_ledger_recorded(
    mix: tuple[RunningKeel, dict[str, str]],
) -> None:
    """Each counter and histogram count after the mix equals the script's calls and the ledger's
    records; labels hold route names, outcomes and bounded ids, never a secret or the prompt."""
    running, r = mix
    t = r["t"]
    key, secret = issue_key(running, "metrics-test", team="team-metrics")
    assert scrape(running).status_code == 401  # metrics.require_key
    before = samples(running)
    run_script(running, secret, t)
    rows = wait_for_rows(running, 10)
    after = samples(running)
    delta = changed(before, after)
    assert len(rows) == 10

    # Attempts: by route, outcome and reason, as the script made them and the ledger holds them.
    expected_attempts = Counter(
        {
            (r["ok"], "ok", "first"): 3,
            (r["cached"], "ok", "first"): 1,
            (r["limited"], "rate_limited", "first"): 1,
            (r["limited"], "ok", "retry"): 1,
            (r["down"], "server_error", "first"): 1,
            (r["down"], "server_error", "retry"): 1,
            (r["backup"], "ok", "fallback"): 2,
            (r["down"], "circuit_open", "first"): 1,
            (r["cut"], "cut", "first"): 1,
            (r["priced"], "refused", "first"): 1,
        }
    )
    recorded = Counter((a["route"], a["outcome"], a["reason"]) for row in rows for a in row["attempts"])
    scraped = by(delta, "keel_attempts_total", "route", "outcome", "reason")
    assert recorded == expected_attempts
    assert {k: int(v) for k, v in scraped.items()} == dict(expected_attempts)

    # Calls: one duration observation per ledger record, by model, status and streaming.
    calls = Counter(
        (row["requested_model"], row["status"], "true" if row["stream"] else "false") for row in rows
    )
    observed = by(delta, "keel_request_duration_seconds_count", "model", "status", "stream")
    assert {k: int(v) for k, v in observed.items()} == dict(calls)
    assert calls[(f"cut-{t}", "stream_interrupted", "true")] == 1
    assert calls[(f"budget-{t}", "budget_exceeded", "false")] == 1
    assert total(delta, "keel_request_duration_seconds_count", route="cache") == 1
    streamed = sum(1 for row in rows if row["ttft_ms"] is not None)
    assert streamed == 2 and total(delta, "keel_time_to_first_token_seconds_count") == streamed

    # Tokens by type and cost, summed as the ledger sums them, labelled with the key id and team.
    for kind in ("input", "cached_input", "cache_write", "output", "reasoning"):
        want = sum(row[f"{kind}_tokens"] for row in rows)
        assert total(delta, "keel_tokens_total", type=kind) == want, kind
    assert total(delta, "keel_tokens_total", type="output") > 0
    assert total(delta, "keel_tokens_total", key=key.id, team="team-metrics", type="input") > 0
    cost = sum((Decimal(str(row["cost_usd"])) for row in rows), Decimal(0))
    assert total(delta, "keel_cost_usd_total") == pytest.approx(float(cost), rel=1e-9) and cost > 0

    # Fallbacks, the circuit, the cache, the budget; nothing left in flight.
    assert by(delta, "keel_fallbacks_total", "from_route", "to_route") == {(r["down"], r["backup"]): 2}
    assert by(delta, "keel_breaker_transitions_total", "route", "to") == {(r["down"], "open"): 1}
    assert total(after, "keel_breaker_state", route=r["down"]) == 2
    assert total(after, "keel_breaker_state", route=r["ok"]) == 0
    assert total(delta, "keel_cache_lookups_total", result="hit") == 1
    assert by(delta, "keel_budget_refusals_total", "budget") == {(f"model:budget-{t} day",): 1}
    assert total(delta, "keel_in_flight_calls") == total(delta, "keel_in_flight_streams") == 0
    assert total(delta, "keel_ledger_records_total", result="written") >= 10
    assert total(delta, "keel_ledger_write_lag_seconds_count") >= 1

    # No label value is a secret, the prompt, an e-mail address or a request id.
    values = set(label_values(after))
    request_ids = {row["request_id"] for row in rows}
    for value in values:
        # (the prompt's own marker: "canary" alone is also the canary guard's name, a label of
        # keel_guards_total once any test in this process has seen a leak)
        assert MASTER not in value and secret not in value and "canary-prompt" not in value, value
        assert "@" not in value and value not in request_ids, value
        assert not re.fullmatch(r"[0-9a-f]{32}", value), value


def test_metrics_need_no_key_by_default(upstream: MockServer) -> None:
    """Without metrics.require_key, /metrics answers anyone; with metrics.enabled: false it is a 404."""
    running = start_keel(mock_config(upstream, {"m": ["mock/ok"]}, server={"master_key": MASTER}))
    try:
        response = scrape(running)
        assert response.status_code == 200 and "keel_request_duration_seconds" in response.text
    finally:
        running.stop()
    off = start_keel(mock_config(upstream, {"m": ["mock/ok"]}, metrics={"enabled": False}))
    try:
        assert scrape(off).status_code == 404
    finally:
        off.stop()
