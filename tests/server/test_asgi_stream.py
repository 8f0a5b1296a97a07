"""The app driven in-process through ASGI: backpressure, disconnects and the overhead clock."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from keel import Gateway
from keel.server import create_app
from keel.server.exchange import RECEIVED_AT, Exchange
from keel.types import ChatRequest, ChatResponse, Chunk, ChunkChoice, Delta


class CountingProvider:
    """Streams ``total`` one-word chunks, counting how many were pulled and whether it was closed."""

    name = "fake"

    def __init__(self, total: int = 1000) -> None:
        self.total = total
        self.pulled = 0
        self.closed = False

    async def chat(self, request: ChatRequest, route: Any, limits: Any) -> ChatResponse:
        raise NotImplementedError

    async def stream(self, request: ChatRequest, route: Any, limits: Any) -> AsyncIterator[Chunk]:
        try:
            for index in range(self.total):
                self.pulled += 1
                yield Chunk(id="c", model="fake-1", choices=[ChunkChoice(delta=Delta(content=f"w{index} "))])
        finally:
            self.closed = True

    async def aclose(self) -> None:
        pass


class BatchingProvider(CountingProvider):
    """Streams ``total`` one-word chunks in batches of ``size``, as if each batch came in one read."""

    def __init__(self, total: int, size: int) -> None:
        super().__init__(total)
        self.size = size
        self.batches = 0

    async def stream_batches(
        self, request: ChatRequest, route: Any, limits: Any
    ) -> AsyncIterator[list[Chunk]]:
        try:
            for start in range(0, self.total, self.size):
                count = min(self.size, self.total - start)
                self.pulled += count
                self.batches += 1
                yield [
                    Chunk(
                        id="c", model="fake-1", choices=[ChunkChoice(delta=Delta(content=f"w{start + i} "))]
                    )
                    for i in range(count)
                ]
        finally:
            self.closed = True


def app_with(provider: CountingProvider) -> Any:
    config = {
        "providers": {"fake": {"profile": "generic", "base_url": "http://127.0.0.1:9"}},
        "models": {"m": ["fake/fake-1"]},
        "pricing": {"unknown": {"input": 0, "output": 0}},
        "database": f"sqlite:///{tempfile.mkdtemp(prefix='keel-asgi-')}/keel.db",
    }
    gateway = Gateway(Gateway.from_config(config).config, providers={"fake": provider})  # type: ignore[dict-item]
    return create_app(gateway)


def scope(path: str = "/v1/chat/completions", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "headers": [], **extra}


BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True})


async def test_the_next_chunk_is_read_only_after_the_client_took_the_last() -> None:
    """Backpressure: while ``send`` blocks, the upstream is not read ahead."""
    provider = CountingProvider()
    app = app_with(provider)
    sent: list[dict[str, Any]] = []
    gate = asyncio.Event()
    disconnect = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent:
            return {"type": "http.request", "body": BODY, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) >= 3:
            await gate.wait()  # the client stops reading

    task = asyncio.create_task(app(scope(), receive, send))
    await asyncio.sleep(0.2)
    assert provider.pulled <= 3  # the held role/first chunks and the one being sent
    disconnect.set()
    await asyncio.wait_for(task, 2)
    assert provider.closed


async def test_disconnect_closes_the_upstream_stream() -> None:
    """A client disconnect mid-stream closes the provider's stream promptly."""
    provider = CountingProvider(total=10**9)
    app = app_with(provider)
    started = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await started.wait()
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0)

    await asyncio.wait_for(app(scope(), receive, send), 2)
    assert provider.closed


def test_overhead_includes_time_queued_before_the_handler() -> None:
    """The overhead clock starts when the server parsed the request, not when the handler ran."""
    received = time.perf_counter() - 0.05  # the request waited 50 ms for the event loop
    ex = Exchange(scope(**{RECEIVED_AT: received}), None, None)
    headers = dict(ex.keel_headers())
    assert float(headers[b"x-keel-overhead-ms"]) >= 50


async def test_what_arrives_together_goes_out_in_one_write() -> None:
    """Chunks that came in one upstream read reach the client in one body message, in order, and the
    next read waits until that write was taken; the stream still ends with [DONE]."""
    provider = BatchingProvider(total=12, size=5)
    app = app_with(provider)
    bodies: list[bytes] = []
    pulled_at_write: list[int] = []

    async def receive() -> dict[str, Any]:
        if not bodies:
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Event().wait()  # the client stays
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            pulled_at_write.append(provider.pulled)

    await asyncio.wait_for(app(scope(), receive, send), 5)
    assert bodies[-1] == b"data: [DONE]\n\n"
    frames = [body.count(b"data: ") for body in bodies[:-1]]
    assert frames == [5, 5, 2]  # one write per upstream read
    assert pulled_at_write == [5, 10, 12, 12]  # nothing was read ahead of a write
    text = "".join(
        orjson.loads(line[6:])["choices"][0]["delta"]["content"]
        for body in bodies[:-1]
        for line in body.split(b"\n\n")
        if line
    )
    assert text == "".join(f"w{i} " for i in range(12))
