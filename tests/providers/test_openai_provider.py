"""``OpenAIProvider``'s stream against a scripted Chat Completions server on loopback: where it ends.

A stream is complete at ``data: [DONE]``, or — for servers that close without it — once every choice
has delivered its ``finish_reason``; a choice left without one is a cut, however the body ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from keel.errors import MalformedResponseError
from keel.providers.base import AttemptLimits
from keel.providers.openai import OpenAIProvider
from keel.route import Route
from keel.types import ChatRequest, Chunk

LIMITS = AttemptLimits(connect=1.0, total=5.0)


def frame(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices}
    return b"data: " + orjson.dumps({**chunk, "usage": usage}) + b"\n\n"


def text(content: str, index: int = 0) -> bytes:
    return frame([{"index": index, "delta": {"content": content}, "finish_reason": None}])


def finish(index: int = 0) -> bytes:
    return frame([{"index": index, "delta": {}, "finish_reason": "stop"}])


USAGE = frame([], {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})


class Upstream:
    """Streams the frames the test scripts, then ends the body or drops the connection."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.drop = False
        self.read_up_to_here = asyncio.Event()  # set by the test once it has read every frame

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "x-request-id": "req_1"})
        await response.prepare(request)
        for item in self.frames:
            await response.write(item)
        if self.drop:
            await self.read_up_to_here.wait()
            assert request.transport is not None
            request.transport.abort()
            return response
        await response.write_eof()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    script = Upstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", script.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield script, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    await runner.cleanup()


async def read(script: Upstream, base: str, *, n: int | None = None) -> list[Chunk]:
    """Every chunk of one stream; the script may drop the connection once all its frames are read."""
    provider = OpenAIProvider("up", base_url=base, profile="generic")
    route = Route(name="up/m", provider=provider, upstream_model="m")
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], n=n)
    chunks: list[Chunk] = []
    try:
        async for chunk in provider.stream(request, route, LIMITS):
            chunks.append(chunk)
            if len(chunks) == len(script.frames):
                script.read_up_to_here.set()
    finally:
        await provider.aclose()
    return chunks


def missing_done(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "keel.providers" and "[DONE]" in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("tail", "drop", "usage_logged"),
    [([USAGE], False, False), ([], False, True), ([USAGE], True, False), ([], True, True)],
    ids=["usage-then-end", "end-before-usage", "usage-then-drop", "drop-before-usage"],
)
async def test_a_finished_stream_without_done_is_complete(
    upstream: tuple[Upstream, str],
    caplog: pytest.LogCaptureFixture,
    tail: list[bytes],
    drop: bool,
    usage_logged: bool,
) -> None:
    """Every choice finished, then the body ends or the connection drops without [DONE] (before or
    after the usage chunk): the stream ends normally with every chunk, and one line says so."""
    script, base = upstream
    script.frames, script.drop = [text("Hel"), text("lo"), finish(), *tail], drop
    with caplog.at_level(logging.INFO, logger="keel.providers"):
        chunks = await read(script, base)
    assert "".join(chunk.text for chunk in chunks) == "Hello"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert [c.usage.output_tokens for c in chunks if c.usage] == ([2] if tail else [])
    [line] = missing_done(caplog)
    assert "route='up/m'" in line and "upstream_request_id='req_1'" in line
    assert ("billed from Keel's estimate" in line) is usage_logged


@pytest.mark.parametrize("drop", [False, True], ids=["end", "drop"])
async def test_a_choice_without_its_finish_is_a_cut(upstream: tuple[Upstream, str], drop: bool) -> None:
    """Asked for two choices, only one finishes before the body ends: that is a cut, not a completion."""
    script, base = upstream
    script.frames, script.drop = [text("a", 0), text("b", 1), finish(0), USAGE], drop
    with pytest.raises(MalformedResponseError):
        await read(script, base, n=2)


async def test_every_choice_finished_is_complete(upstream: tuple[Upstream, str]) -> None:
    """Asked for two choices, both finish, then the body ends without [DONE]: complete."""
    script, base = upstream
    script.frames = [text("a", 0), text("b", 1), finish(1), finish(0)]
    chunks = await read(script, base, n=2)
    assert len(chunks) == 4


@pytest.mark.parametrize("drop", [False, True], ids=["end", "drop"])
async def test_an_unfinished_stream_is_still_a_cut(upstream: tuple[Upstream, str], drop: bool) -> None:
    """Text but no finish reason, then the body ends or the connection drops: MalformedResponseError."""
    script, base = upstream
    script.frames, script.drop = [text("Hel"), text("lo")], drop
    with pytest.raises(MalformedResponseError):
        await read(script, base)


async def test_done_ends_the_stream_without_a_log_line(
    upstream: tuple[Upstream, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The ordinary end, [DONE] after usage, is complete and logs nothing about it."""
    script, base = upstream
    script.frames = [text("Hi"), finish(), USAGE, b"data: [DONE]\n\n"]
    with caplog.at_level(logging.INFO, logger="keel.providers"):
        chunks = await read(script, base)
    assert len(chunks) == 3 and missing_done(caplog) == []
