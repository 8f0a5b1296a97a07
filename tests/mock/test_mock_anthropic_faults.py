"""The mock's Anthropic side breaking the connection or the stream: reset, hang, slow, cut, stall,
malformed event, no ``message_stop``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from keel.mock import MockServer

from .test_mock_faults import until

USER: Any = [{"role": "user", "content": "tell me a story"}]


def url(server: MockServer) -> str:
    return (server.base_url or "").removesuffix("/v1") + "/v1/messages"


def body(model: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "max_tokens": 100, "messages": USER, "stream": stream}


def names(raw: bytes) -> list[str]:
    """The event names of an SSE body, in order."""
    return [frame.split(b"\n")[0].removeprefix(b"event: ").decode() for frame in raw.split(b"\n\n") if frame]


def texts(raw: bytes) -> list[str]:
    """The text deltas of the well-formed frames of an SSE body."""
    out = []
    for frame in raw.split(b"\n\n"):
        try:
            data = orjson.loads(frame.split(b"\ndata: ", 1)[-1])
        except orjson.JSONDecodeError:
            continue
        if data.get("type") == "content_block_delta" and data["delta"].get("type") == "text_delta":
            out.append(data["delta"]["text"])
    return out


async def read_until_cut(session: aiohttp.ClientSession, server: MockServer, model: str) -> bytes:
    """The bytes of a stream the mock drops mid-way (the read error is expected)."""
    raw = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(url(server), json=body(model, True)) as response:
            async for piece in response.content.iter_any():
                raw += piece
    return raw


@pytest.mark.parametrize("stream", [False, True])
async def test_reset_is_a_connection_error(
    claude: anthropic.AsyncAnthropic, server: MockServer, stream: bool
) -> None:
    """``reset`` resets the connection before any header: the SDK's APIConnectionError."""
    with pytest.raises(anthropic.APIConnectionError):
        await claude.messages.create(model="reset", max_tokens=10, messages=USER, stream=stream)
    assert [(a["outcome"], a["format"]) for a in server.attempts()] == [("reset", "anthropic")]


async def test_cut_stream_stops_after_content_without_message_stop(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """``cut:after=2`` sends two text deltas, then drops the connection: no message_delta, no message_stop."""
    raw = await read_until_cut(session, server, "cut:after=2,tokens=6")
    assert texts(raw) == ["token0", " token1"]
    assert names(raw) == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
    ]
    assert server.attempts()[0]["outcome"] == "cut"


async def test_cut_body_is_short(server: MockServer, session: aiohttp.ClientSession) -> None:
    """Non-streamed, ``cut`` promises the whole body's length and sends half of it."""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(url(server), json=body("cut", False)) as response:
            await response.read()


async def test_malformed_event_then_the_rest(server: MockServer, session: aiohttp.ClientSession) -> None:
    """``malformed-chunk`` sends an event whose data is not JSON after ``after`` deltas, then carries on."""
    async with session.post(url(server), json=body("malformed-chunk:after=1,tokens=3", True)) as response:
        raw = await response.read()
    assert b"event: content_block_delta\ndata: {not json\n\n" in raw
    assert texts(raw) == ["token0", " token1", " token2"]
    assert names(raw)[-1] == "message_stop"
    assert server.attempts()[0]["outcome"] == "malformed"


async def test_no_done_leaves_out_message_stop(server: MockServer, session: aiohttp.ClientSession) -> None:
    """``no-done`` sends every event, message_delta included, but no message_stop."""
    async with session.post(url(server), json=body("no-done:tokens=2", True)) as response:
        raw = await response.read()
    assert names(raw)[-2:] == ["content_block_stop", "message_delta"]
    assert "message_stop" not in names(raw)
    assert server.attempts()[0]["outcome"] == "no_done"


async def test_slow_first_token_commits_then_waits(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """``slow-first-token`` sends headers and message_start at once, then waits before the content."""
    async with session.post(
        url(server), json=body("slow-first-token:ttft_ms=300,tokens=1", True)
    ) as response:
        started = time.monotonic()
        first = await response.content.readuntil(b"\n\n")
        assert time.monotonic() - started < 0.25
        rest = await response.read()
    assert first.startswith(b"event: message_start")
    assert time.monotonic() - started >= 0.29
    assert names(rest)[-1] == "message_stop"


async def test_stall_goes_silent_after_content(server: MockServer, session: aiohttp.ClientSession) -> None:
    """``stall:after=1`` sends one delta, then nothing; leaving records when the client gave up."""
    async with session.post(url(server), json=body("stall:after=1", True)) as response:
        raw = b""
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.3):
                async for piece in response.content.iter_any():
                    raw += piece
        response.close()
    assert texts(raw) == ["token0"]
    await until(lambda: server.attempts()[0]["closed_at"] is not None)
    assert server.attempts()[0]["outcome"] == "stall"


async def test_hang_is_client_closed_when_the_client_leaves(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """``hang`` sends nothing at all; a client that gives up is recorded as ``client_closed``."""
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            url(server), json=body("hang", False), timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    await until(lambda: server.attempts()[0]["outcome"] == "client_closed")


async def test_times_then_healthy(claude: anthropic.AsyncAnthropic) -> None:
    """``overloaded:times=1`` is a 529 once, then a healthy answer."""
    with pytest.raises(anthropic.OverloadedError):
        await claude.messages.create(model="overloaded:times=1", max_tokens=10, messages=USER)
    message = await claude.messages.create(model="overloaded:times=1", max_tokens=100, messages=USER)
    assert message.stop_reason == "end_turn"
