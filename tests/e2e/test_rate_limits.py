"""Rate limits through the real server: a key's requests per minute refused with Retry-After, and a
route's outbound limit held under load — the rest served by the fallback, or refused cleanly."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import openai
import pytest

from keel.mock import MockServer

from .._support.windows import fresh_minute
from .conftest import KeelFactory, RunningKeel, issue_key, mock_config, start_keel, user

MASTER = "mk-rate-master-key"


async def flood(running: RunningKeel, model: str, calls: int) -> list[Any]:
    """``calls`` concurrent chat calls; each a raw response or the SDK's error."""
    async with openai.AsyncOpenAI(base_url=running.v1, api_key="any", timeout=30) as sdk:

        async def one() -> Any:
            try:
                return await sdk.chat.completions.with_raw_response.create(
                    model=model, messages=user(), max_tokens=8
                )
            except openai.APIError as error:
                return error

        return await asyncio.gather(*(one() for _ in range(calls)))


def test_key_rpm_refuses_with_retry_after(upstream: MockServer, tmp_path: Path, uid) -> None:
    """Past its requests per minute a key gets 429, Retry-After and the SDK's RateLimitError; the
    upstream never sees the refused call."""
    model = uid("ok:tokens=2")
    config = mock_config(
        upstream,
        {"m": [f"mock/{model}"]},
        server={"master_key": MASTER},
        database=f"sqlite:///{tmp_path / 'keel.db'}",
        rate_limits=[{"scope": "key", "rpm": 3}],
    )
    running = start_keel(config)
    try:
        record, secret = issue_key(running, "limited")
        key_id = record.id
        fresh_minute()
        with openai.OpenAI(base_url=running.v1, api_key=secret, max_retries=0) as sdk:
            for _ in range(3):
                sdk.chat.completions.create(model="m", messages=user())
            with pytest.raises(openai.RateLimitError) as info:
                sdk.chat.completions.create(model="m", messages=user())
    finally:
        running.stop()
    error = info.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert f"3 requests per minute for key:{key_id}" in error.message
    assert 1 <= int(error.response.headers["retry-after"]) <= 60
    assert "x-should-retry" not in error.response.headers  # a client may wait it out and retry
    assert len(upstream.attempts(model=model)) == 3


def test_route_limit_holds_under_load_with_a_fallback(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """100 concurrent calls on a route limited to 20 a minute: it sees 20, the fallback serves the rest."""
    limited, spare = uid("ok:tokens=2,ttft_ms=20,x=limited"), uid("ok:tokens=2,x=spare")
    running = keel_for(
        {"m": [f"mock/{limited}", f"mock/{spare}"]},
        rate_limits=[{"scope": "route", "match": f"mock/{limited}", "rpm": 20}],
    )
    fresh_minute()
    results = asyncio.run(flood(running, "m", 100))
    assert all(not isinstance(r, BaseException) for r in results), [
        r for r in results if isinstance(r, Exception)
    ][:3]
    routes = Counter(r.headers["x-keel-route"] for r in results)
    assert routes == {f"mock/{limited}": 20, f"mock/{spare}": 80}
    seen = upstream.attempts(model=limited)
    assert len(seen) == 20 and len({int(a["time"] // 60) for a in seen}) == 1
    assert len(upstream.attempts(model=spare)) == 80


def test_route_limit_without_a_fallback_refuses_cleanly(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """With no route to fall back to, the calls past a route's limit get 429 with Retry-After, never a 5xx."""
    limited = uid("ok:tokens=2,ttft_ms=20")
    running = keel_for({"m": [f"mock/{limited}"]}, rate_limits=[{"scope": "route", "rpm": 20}])
    fresh_minute()
    results = asyncio.run(flood(running, "m", 100))
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(answered) == 20 and len(refused) == 80
    for error in refused:
        assert "Keel's own limit for this route: 20 requests per minute" in error.message
        assert 1 <= int(error.response.headers["retry-after"]) <= 60
        assert error.response.headers["x-should-retry"] == "false"  # the SDK must not multiply them
    assert len(upstream.attempts(model=limited)) == 20
