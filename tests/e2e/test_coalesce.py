"""Coalescing through ``keel serve``: many identical calls at once cost one upstream call, on one replica
or on two sharing Redis; and a Redis that dies leaves every request answered, as a miss."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .._requires import require_binary
from .conftest import KeelFactory, RunningKeel, user


def body(model: str, stream: bool = False) -> dict[str, Any]:
    return {"model": model, "messages": user("Tell me a story"), "temperature": 0, "stream": stream}


async def complete_all(servers: list[RunningKeel], model: str, count: int) -> list[httpx.Response]:
    """``count`` identical requests at once, spread over ``servers``."""
    async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=200)) as client:
        return await asyncio.gather(
            *(
                client.post(f"{servers[i % len(servers)].v1}/chat/completions", json=body(model))
                for i in range(count)
            )
        )


def answer_text(sse: str) -> str:
    """The text of an SSE answer; asserts it ended with ``[DONE]``."""
    import orjson

    assert sse.endswith("data: [DONE]\n\n"), sse[-200:]
    text = ""
    for line in sse.splitlines():
        if line.startswith("data: {"):
            for choice in orjson.loads(line[6:]).get("choices", ()):
                text += choice["delta"].get("content") or ""
    return text


def test_fifty_identical_requests_make_one_upstream_call(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """50 concurrent identical requests: the mock sees one call and every client the whole answer."""
    model = uid("ok:tokens=12,ttft_ms=1500")  # time for all 50 to arrive on a busy machine
    running = keel_for()
    responses = asyncio.run(complete_all([running], f"mock/{model}", 50))
    assert len(upstream.attempts(model=model)) == 1
    texts = {r.json()["choices"][0]["message"]["content"] for r in responses}
    assert len(texts) == 1 and len(next(iter(texts)).split()) == 12
    assert sum(r.headers.get("x-keel-coalesced") == "true" for r in responses) == 49


def test_streaming_joiners_get_the_whole_answer(keel_for: KeelFactory, upstream: MockServer, uid) -> None:
    """50 streaming clients arriving while the answer streams: one upstream call, 50 complete answers."""
    model = uid("ok:tokens=40,token_ms=40")  # a 1.6 s answer, so even a slow last arrival joins it
    running = keel_for()

    async def one(client: httpx.AsyncClient, delay: float) -> str:
        await asyncio.sleep(delay)
        url = f"{running.v1}/chat/completions"
        async with client.stream("POST", url, json=body(f"mock/{model}", stream=True)) as response:
            return answer_text((await response.aread()).decode())

    async def run() -> list[str]:
        async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=100)) as client:
            return await asyncio.gather(*(one(client, i * 0.008) for i in range(50)))  # over ~400 of 1600 ms

    texts = asyncio.run(run())
    assert len(upstream.attempts(model=model)) == 1
    assert len(set(texts)) == 1 and len(texts[0].split()) == 40


def test_two_replicas_sharing_redis_make_one_call(
    keel_for: KeelFactory, upstream: MockServer, redis_url: str, uid
) -> None:
    """Two servers on one Redis: 50 requests split between them still reach the upstream once (the other
    replica waits on the leader's lease, then answers from the cache)."""
    model = uid("ok:tokens=8,ttft_ms=1500")  # time for all 50 to reach the two replicas
    a, b = keel_for(state=redis_url), keel_for(state=redis_url)
    responses = asyncio.run(complete_all([a, b], f"mock/{model}", 50))
    assert len(upstream.attempts(model=model)) == 1
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["choices"][0]["message"]["content"] for r in responses}) == 1


def test_replica_waiting_on_another_reports_only_keel_overhead(
    keel_for: KeelFactory, upstream: MockServer, redis_url: str, uid
) -> None:
    """Two replicas on one Redis: the one that waits for the other's 1.5 s call reports a small
    x-keel-overhead-ms too, as its wait is for the upstream."""
    model = uid("ok:tokens=5,ttft_ms=1500")
    timeouts = {"first_token": 3, "attempt": 5}
    a, b = keel_for(state=redis_url, timeouts=timeouts), keel_for(state=redis_url, timeouts=timeouts)
    responses = asyncio.run(complete_all([a, b], f"mock/{model}", 10))
    assert len(upstream.attempts(model=model)) == 1
    assert {r.status_code for r in responses} == {200}
    overheads = sorted(float(r.headers["x-keel-overhead-ms"]) for r in responses)
    assert overheads[-1] < 500, overheads


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def doomed_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private ``redis-server`` this test may kill."""
    binary = require_binary("redis-server")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait(10)


def test_requests_succeed_as_misses_when_redis_dies(
    keel_for: KeelFactory, upstream: MockServer, doomed_redis: tuple[str, Any], uid
) -> None:
    """With the cache on Redis, killing Redis mid-test turns hits into misses, never into errors."""
    url, process = doomed_redis
    model = uid("ok:tokens=3")
    running = keel_for(cache={"backend": url, "timeout": 0.3})
    send = {"json": body(f"mock/{model}"), "timeout": 10}
    assert httpx.post(f"{running.v1}/chat/completions", **send).headers["x-keel-cache"] == "miss"
    assert httpx.post(f"{running.v1}/chat/completions", **send).headers["x-keel-cache"] == "hit"
    process.kill()
    process.wait(10)
    for stream in (False, True):
        response = httpx.post(
            f"{running.v1}/chat/completions", **{**send, "json": body(f"mock/{model}", stream)}
        )
        assert response.status_code == 200 and response.headers["x-keel-cache"] == "miss"
    assert len(upstream.attempts(model=model)) == 3


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_coalesced_callers_report_only_keel_overhead(
    keel_for: KeelFactory, upstream: MockServer, uid, stream: bool
) -> None:
    """Every caller of a coalesced 1.5 s call, the leader and the joiners alike, reports an
    x-keel-overhead-ms far below the upstream's latency: waiting for the shared call is not Keel's time."""
    model = uid("ok:tokens=5,ttft_ms=1500")
    running = keel_for(timeouts={"first_token": 3, "attempt": 5})

    async def one(client: httpx.AsyncClient) -> httpx.Response:
        url = f"{running.v1}/chat/completions"
        async with client.stream("POST", url, json=body(f"mock/{model}", stream)) as response:
            await response.aread()
            return response

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=20)) as client:
            return await asyncio.gather(*(one(client) for _ in range(10)))

    responses = asyncio.run(run())
    assert len(upstream.attempts(model=model)) == 1
    assert {r.status_code for r in responses} == {200}
    assert sum(r.headers.get("x-keel-coalesced") == "true" for r in responses) == 9
    overheads = sorted(float(r.headers["x-keel-overhead-ms"]) for r in responses)
    assert overheads[-1] < 500, overheads
