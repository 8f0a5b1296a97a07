"""The response cache through ``keel serve`` in front of ``keel mock``: hits, bypasses, tenants, TTLs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import KeelFactory, RunningKeel, issue_key, mock_config, start_keel, user

MASTER = "mk-e2e-cache-master"


def ask(
    server: RunningKeel, model: str, *, stream: bool = False, key: str = "any", **extra: Any
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}", **extra.pop("headers", {})}
    body = {
        "model": model,
        "messages": user("What is a gateway?"),
        "temperature": 0,
        "stream": stream,
        **extra,
    }
    return httpx.post(f"{server.v1}/chat/completions", json=body, headers=headers, timeout=10)


def ledger_rows(keel: RunningKeel) -> list[dict[str, Any]]:
    """The server's ledger, oldest first (the tests run it with ``durability: strict``)."""
    path = Path(keel.app.gateway.config.database.removeprefix("sqlite:///"))

    async def read() -> list[dict[str, Any]]:
        ledger = SQLiteLedger(path)
        try:
            return list(reversed(await ledger.rows()))
        finally:
            await ledger.close()

    return asyncio.run(read())


@pytest.fixture
def cached(keel_for: KeelFactory) -> RunningKeel:
    return keel_for(ledger={"durability": "strict"})


def test_repeated_deterministic_request_is_a_hit(cached: RunningKeel, upstream: MockServer, uid) -> None:
    """The second identical temperature-0 request is answered from the cache: one upstream call, a hit
    header with its age, the same answer, and a ledger row that costs nothing."""
    model = uid("ok:tokens=5")
    first, second = ask(cached, f"mock/{model}"), ask(cached, f"mock/{model}")
    assert len(upstream.attempts(model=model)) == 1
    assert first.headers["x-keel-cache"] == "miss" and second.headers["x-keel-cache"] == "hit"
    assert int(second.headers["x-keel-cache-age"]) >= 0
    assert second.json()["choices"] == first.json()["choices"]
    miss, hit = ledger_rows(cached)[-2:]
    assert miss["cost_usd"] > 0 and not miss["cache_hit"]
    assert hit["cache_hit"] and hit["cost_usd"] == Decimal(0) and hit["attempts"] == []


def test_a_hit_streams_in_the_usual_chunk_shape(cached: RunningKeel, upstream: MockServer, uid) -> None:
    """A streaming request for a cached answer gets SSE chunks and [DONE], with the same text."""
    model = f"mock/{uid('ok:tokens=5')}"
    text = ask(cached, model).json()["choices"][0]["message"]["content"]
    with openai.OpenAI(base_url=cached.v1, api_key="any") as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model=model, messages=user("What is a gateway?"), temperature=0, stream=True
        )
        chunks = list(raw.parse())
    assert raw.headers["x-keel-cache"] == "hit"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(upstream.attempts(model=model.removeprefix("mock/"))) == 1


def test_a_streamed_miss_is_stored_when_it_completes(cached: RunningKeel, upstream: MockServer, uid) -> None:
    """A streamed answer is kept once its stream completes; the next complete request hits it."""
    model = uid("ok:tokens=6")
    streamed = ask(cached, f"mock/{model}", stream=True)
    assert streamed.headers["x-keel-cache"] == "miss" and streamed.text.endswith("data: [DONE]\n\n")
    assert ask(cached, f"mock/{model}").headers["x-keel-cache"] == "hit"
    assert len(upstream.attempts(model=model)) == 1


def test_non_deterministic_requests_are_not_cached(cached: RunningKeel, upstream: MockServer, uid) -> None:
    """Temperature above 0 without a seed is not cached (no header); opting in caches it."""
    model = uid("ok")
    for _ in range(2):
        assert "x-keel-cache" not in ask(cached, f"mock/{model}", temperature=0.7).headers
    assert len(upstream.attempts(model=model)) == 2
    opted = [
        ask(cached, f"mock/{model}", temperature=0.7, headers={"x-keel-cache": "true"}) for _ in range(2)
    ]
    assert [r.headers["x-keel-cache"] for r in opted] == ["miss", "hit"]
    assert ask(cached, f"mock/{model}", temperature=0.7, seed=3).headers["x-keel-cache"] == "miss"


def test_no_cache_bypasses_and_no_store_keeps_out(cached: RunningKeel, upstream: MockServer, uid) -> None:
    """``Cache-Control: no-cache`` fetches afresh (and stores it); ``no-store`` neither reads nor writes."""
    model = uid("ok")
    ask(cached, f"mock/{model}")
    fresh = ask(cached, f"mock/{model}", headers={"cache-control": "no-cache"})
    assert fresh.headers["x-keel-cache"] == "refresh"
    assert len(upstream.attempts(model=model)) == 2
    assert "x-keel-cache" not in ask(cached, f"mock/{model}", headers={"cache-control": "no-store"}).headers
    assert len(upstream.attempts(model=model)) == 3
    other = uid("ok:tokens=2")
    ask(cached, f"mock/{other}", keel={"cache": False})
    assert ask(cached, f"mock/{other}").headers["x-keel-cache"] == "miss"


def test_entries_expire_after_their_ttl(cached: RunningKeel, upstream: MockServer, uid) -> None:
    """An entry stored with ``x-keel-cache-ttl: 1`` is a hit at once and a miss after a second."""
    model = uid("ok")
    ttl = {"x-keel-cache-ttl": "1"}
    assert ask(cached, f"mock/{model}", headers=ttl).headers["x-keel-cache"] == "miss"
    assert ask(cached, f"mock/{model}", headers=ttl).headers["x-keel-cache"] == "hit"
    time.sleep(1.2)
    assert ask(cached, f"mock/{model}").headers["x-keel-cache"] == "miss"
    assert len(upstream.attempts(model=model)) == 2


@pytest.fixture
def tenants(upstream: MockServer, tmp_path: Path, uid) -> Iterator[tuple[RunningKeel, str, str, str, str]]:
    """A server with auth on, and two virtual keys of different teams."""
    model = uid("ok:tokens=3")
    running = start_keel(
        mock_config(
            upstream,
            {"m": [f"mock/{model}"]},
            server={"master_key": MASTER},
            database=f"sqlite:///{tmp_path / 'keel.db'}",
        )
    )

    (red, red_secret), (_, blue_secret) = (issue_key(running, name, team=name) for name in ("red", "blue"))
    yield running, model, red_secret, blue_secret, red.id
    running.stop()


def test_two_tenants_never_share_an_entry(tenants: tuple[Any, ...], upstream: MockServer) -> None:
    """The same request from two keys is two upstream calls; each key then hits its own entry."""
    running, model, red, blue, _ = tenants
    assert ask(running, "m", key=red).headers["x-keel-cache"] == "miss"
    assert ask(running, "m", key=blue).headers["x-keel-cache"] == "miss"
    assert ask(running, "m", key=red).headers["x-keel-cache"] == "hit"
    assert ask(running, "m", key=blue).headers["x-keel-cache"] == "hit"
    assert len(upstream.attempts(model=model)) == 2


def test_admin_reports_and_clears_the_cache(tenants: tuple[Any, ...]) -> None:
    """``GET /admin/cache`` counts entries and hits; ``DELETE`` by model or key clears them."""
    running, _, red, blue, red_id = tenants
    for key in (red, blue, red):
        ask(running, "m", key=key)
    admin = {"authorization": f"Bearer {MASTER}"}
    assert httpx.get(f"{running.base_url}/admin/cache").status_code in (401, 403)
    stats = httpx.get(f"{running.base_url}/admin/cache", headers=admin).json()
    assert stats["entries"] == 2 and stats["bytes"] > 0 and stats["process"]["hit"] >= 1
    clear = f"{running.base_url}/admin/cache"
    assert httpx.delete(clear, params={"model": "other"}, headers=admin).json() == {"deleted": 0}
    assert httpx.delete(clear, params={"key": red_id}, headers=admin).json() == {"deleted": 1}
    assert ask(running, "m", key=red).headers["x-keel-cache"] == "miss"
    assert ask(running, "m", key=blue).headers["x-keel-cache"] == "hit"
    assert httpx.delete(clear, params={"model": "m"}, headers=admin).json() == {"deleted": 2}
