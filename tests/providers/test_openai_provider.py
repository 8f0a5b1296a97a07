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
from keel.types import ChatRequest, Chunk, ChunkChoice

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


async def batches(base: str) -> list[list[Chunk]]:
    """Every batch of one stream (the chunks each network read brought), up to a failure."""
    provider = OpenAIProvider("up", base_url=base, profile="generic")
    route = Route(name="up/m", provider=provider, upstream_model="m")
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
    found: list[list[Chunk]] = []
    try:
        async for batch in provider.stream_batches(request, route, LIMITS):
            found.append(batch)
    finally:
        await provider.aclose()
    return found


async def test_the_events_of_one_read_are_one_batch(upstream: tuple[Upstream, str]) -> None:
    """Events the upstream wrote at once arrive as one batch, in order; the request id rides on the first."""
    script, base = upstream
    script.frames = [text("a") + text("b") + text("c") + finish() + USAGE + b"data: [DONE]\n\n"]
    [batch] = await batches(base)
    assert [chunk.text for chunk in batch] == ["a", "b", "c", "", ""]
    assert batch[0].upstream_request_id == "req_1"
    assert batch[-1].usage is not None and batch[-1].usage.output_tokens == 2


async def test_the_chunks_before_a_malformed_event_are_delivered_first(
    upstream: tuple[Upstream, str],
) -> None:
    """A malformed event in the middle of a read: the chunks before it go on, then the stream fails."""
    script, base = upstream
    script.frames = [text("a") + text("b") + b"data: {not json\n\n" + text("c") + finish()]
    provider = OpenAIProvider("up", base_url=base, profile="generic")
    route = Route(name="up/m", provider=provider, upstream_model="m")
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
    source = provider.stream_batches(request, route, LIMITS)
    try:
        first = await anext(source)
        assert [chunk.text for chunk in first] == ["a", "b"]
        with pytest.raises(MalformedResponseError):
            await anext(source)
    finally:
        await source.aclose()
        await provider.aclose()


@pytest.mark.parametrize(
    "choice",
    [
        {"index": 0, "delta": {"content": 5}},
        {"index": 0, "delta": ["x"]},
        {"index": "0", "delta": {"content": "x"}},
        {"index": 0, "delta": {}, "finish_reason": 1},
        {"index": 0, "delta": {"role": {"r": 1}}},
        {"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t"}]}},
        {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 3}}]}},
        {"index": 0, "delta": {"tool_calls": {"index": 0}}},
        "text",
    ],
)
async def test_a_chunk_of_the_wrong_shape_is_malformed(upstream: tuple[Upstream, str], choice: Any) -> None:
    """What the gateway reads of a chunk is checked as it arrives: a wrong type is a malformed stream."""
    script, base = upstream
    script.frames = [b"data: " + orjson.dumps({"id": "c1", "model": "m", "choices": [choice]}) + b"\n\n"]
    with pytest.raises(MalformedResponseError, match="malformed stream event"):
        await batches(base)


async def test_a_light_chunk_reads_as_the_validated_one(upstream: tuple[Upstream, str]) -> None:
    """The choices built on demand equal the validated models of the same JSON, extras included, and
    the chunk re-encodes to what the upstream sent (without its nulls)."""
    script, base = upstream
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a"'}}
    choice = {
        "index": 0,
        "delta": {"role": "assistant", "content": None, "tool_calls": [call], "reasoning_content": "hm"},
        "finish_reason": None,
        "logprobs": None,
    }
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m", "choices": [choice]}
    script.frames = [b"data: " + orjson.dumps({**body, "system_fingerprint": "fp"}) + b"\n\n", finish()]
    [[chunk, _]] = await batches(base)
    assert chunk.bears_content() and chunk.text == ""
    assert chunk.tool_argument_deltas() == [(0, 0, '{"a"')]
    expected = ChunkChoice.model_validate(choice)
    wire = chunk.to_openai()  # from the light form
    assert wire["system_fingerprint"] == "fp" and wire["created"] == 7
    assert wire["choices"] == [expected.wire()]
    assert chunk.choices == [expected]
    assert chunk.choices[0].delta.model_extra == {"reasoning_content": "hm"}
    assert chunk.to_openai() == wire  # and from the models
