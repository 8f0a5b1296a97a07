"""Keel's response headers and access logs: request ids, the route, attempts and Keel's own overhead."""

from __future__ import annotations

import logging
from decimal import Decimal

import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, RunningKeel, user


def chat(keel: RunningKeel, model: str, stream: bool = False, **headers: str) -> httpx.Response:
    body = {"model": model, "messages": user(), "stream": stream}
    return httpx.post(f"{keel.v1}/chat/completions", json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_request_ids(keel: RunningKeel, upstream: MockServer, uid, stream: bool) -> None:
    """The client's x-request-id comes back; the upstream's own id is named beside it."""
    model = uid("ok")
    response = chat(keel, f"mock/{model}", stream, **{"x-request-id": "client-id-42"})
    assert response.headers["x-request-id"] == "client-id-42"
    assert response.headers["x-keel-upstream-request-id"] == upstream.attempts(model=model)[0]["request_id"]


def test_request_id_is_made_when_missing_or_unsafe(keel: RunningKeel, uid) -> None:
    """Without a usable x-request-id (absent, or with odd characters) Keel makes one."""
    made = chat(keel, f"mock/{uid('ok')}").headers["x-request-id"]
    odd = chat(keel, f"mock/{uid('ok')}", **{"x-request-id": "a b\tc"}).headers["x-request-id"]
    assert len(made) == 32 and len(odd) == 32 and made != odd


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_route_and_attempts_name_the_fallback(keel_for: KeelFactory, uid, stream: bool) -> None:
    """After a fallback, x-keel-route names the route that answered and x-keel-attempts counts all."""
    down, backup = uid("error-503"), uid("ok")
    running = keel_for({"m": [f"mock/{down}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    response = chat(running, "m", stream)
    assert response.status_code == 200
    assert response.headers["x-keel-route"] == f"mock/{backup}"
    assert response.headers["x-keel-attempts"] == "3"
    if not stream:
        assert response.json()["model"] == backup  # the model that answered, not the alias


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_overhead_excludes_upstream_time(keel: RunningKeel, uid, stream: bool) -> None:
    """x-keel-overhead-ms is Keel's own time: a 300 ms upstream does not count in it."""
    response = chat(keel, f"mock/{uid('ok:ttft_ms=300')}", stream)
    overhead = float(response.headers["x-keel-overhead-ms"])
    assert response.elapsed.total_seconds() >= 0.3
    assert 0 < overhead < 100


def test_access_log_line(keel: RunningKeel, uid, caplog: pytest.LogCaptureFixture) -> None:
    """One structured line per request: status, route, attempts, ids — and no key or body."""
    model = uid("ok")
    with caplog.at_level(logging.INFO, logger="keel.access"):
        chat(
            keel, f"mock/{model}", **{"x-request-id": "log-me", "authorization": "Bearer sk-secret-123456789"}
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "keel.access" and "log-me" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0]
    for part in (
        "status=200",
        f"route='mock/{model}'",
        "attempts=1",
        "upstream_request_id='req_mock_",
        "overhead_ms=",
    ):
        assert part in line
    assert "sk-secret" not in line and "Say hello" not in line


def test_budget_remaining_names_the_tightest_budget(keel_for: KeelFactory, keel: RunningKeel, uid) -> None:
    """x-keel-budget-remaining is the tightest budget's room in USD: after settling on a response,
    net of the running attempt's reservation on a stream's headers, absent when no budget applies."""
    model = uid("ok:tokens=5")
    running = keel_for(
        {"m": [f"mock/{model}"], "free": [f"mock/{uid('ok')}"]},
        pricing={"models": {"mock/*": {"input": 10_000, "output": 100_000}}},  # 1¢ in, 10¢ out a token
        budgets=[
            {"scope": "global", "window": "day", "limit_usd": 100},
            {"scope": "model", "match": "m", "window": "day", "limit_usd": 10},
        ],
    )
    body = {"model": "m", "messages": user(), "max_tokens": 8}
    first = httpx.post(f"{running.v1}/chat/completions", json=body, timeout=10)
    second = httpx.post(f"{running.v1}/chat/completions", json=body, timeout=10)
    usage = first.json()["usage"]
    cost = Decimal(usage["prompt_tokens"]) / 100 + Decimal(usage["completion_tokens"]) / 10
    assert Decimal(first.headers["x-keel-budget-remaining"]) == 10 - cost
    assert Decimal(second.headers["x-keel-budget-remaining"]) == 10 - 2 * cost
    streamed = httpx.post(f"{running.v1}/chat/completions", json={**body, "stream": True}, timeout=10)
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert 0 < Decimal(streamed.headers["x-keel-budget-remaining"]) < 10 - 3 * cost  # its hold still out
    other = httpx.post(f"{running.v1}/chat/completions", json={**body, "model": "free"}, timeout=10)
    assert Decimal(other.headers["x-keel-budget-remaining"]) > 10  # only the global budget applies
    assert "x-keel-budget-remaining" not in chat(keel, f"mock/{uid('ok')}").headers  # no budget at all
