"""Behaviours that break the connection or the body: reset, hang, slow, cut, stall, malformed, no [DONE]."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from keel.mock import MockServer

USER: Any = [{"role": "user", "content": "tell me a story"}]


def body(model: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "messages": USER, "stream": stream}


async def until(check: Callable[[], bool]) -> None:
    """Wait (up to 2 s) for the server side to record what the client just did."""
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the mock did not record it in time")


def contents(raw: bytes) -> list[str]:
    """Content deltas of the well-formed frames of an SSE body."""
    out = []
    for block in raw.split(b"\n\n"):
        try:
            item = orjson.loads(block.removeprefix(b"data: "))
        except orjson.JSONDecodeError:
            continue
        for choice in item.get("choices") or []:
            if choice["delta"].get("content"):
                out.append(choice["delta"]["content"])
    return out


@pytest.mark.parametrize("stream", [False, True])
async def test_reset_drops_the_connection_before_headers(
    client: openai.AsyncOpenAI, server: MockServer, stream: bool
) -> None:
    """``reset`` accepts the request and resets the TCP connection before any header: a connection error."""
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="reset", messages=USER, stream=stream)
    assert [(a["outcome"], a["stream"]) for a in server.attempts()] == [("reset", stream)]


async def test_reset_is_seen_by_aiohttp_as_a_disconnect(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """A raw client sees the reset as the server going away without a response."""
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        async with session.post(f"{server.base_url}/chat/completions", json=body("reset", False)):
            pass


async def test_reset_times_then_healthy(client: openai.AsyncOpenAI) -> None:
    """``reset:times=1`` resets once, then answers."""
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="reset:times=1", messages=USER)
    completion = await client.chat.completions.create(model="reset:times=1", messages=USER)
    assert completion.choices[0].message.content


@pytest.mark.parametrize("stream", [False, True])
async def test_hang_holds_until_the_client_leaves_and_records_when(
    server: MockServer, session: aiohttp.ClientSession, stream: bool
) -> None:
    """``hang`` sends nothing; when the client gives up, the record says ``client_closed`` and when."""
    timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            f"{server.base_url}/chat/completions", json=body("hang", stream), timeout=timeout
        ):
            pass
    gave_up = time.monotonic()
    await until(lambda: server.attempts()[0]["closed_at"] is not None)
    attempt = server.attempts()[0]
    assert attempt["outcome"] == "client_closed"
    assert attempt["closed_at"] - attempt["monotonic"] >= 0.25
    assert attempt["closed_at"] - gave_up < 1.0


async def test_hang_is_bounded_by_hang_ms(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """After ``hang_ms`` the mock drops the connection itself and records ``hang``."""
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="hang:hang_ms=100", messages=USER)
    assert server.attempts()[0]["outcome"] == "hang"
    assert server.attempts()[0]["closed_at"] is None


async def test_slow_first_token_streams_headers_and_role_promptly(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Streaming ``slow-first-token`` commits 200 and the role chunk at once, then waits ``ttft_ms``."""
    start = time.monotonic()
    url = f"{server.base_url}/chat/completions"
    async with session.post(url, json=body("slow-first-token:ttft_ms=400,tokens=2", True)) as response:
        assert response.status == 200
        first = await response.content.readuntil(b"\n\n")
        committed = time.monotonic() - start
        assert orjson.loads(first.removeprefix(b"data: "))["choices"][0]["delta"]["role"] == "assistant"
        second = await response.content.readuntil(b"\n\n")
        first_token = time.monotonic() - start
        rest = await response.read()
    assert committed < 0.3
    assert first_token >= 0.38
    assert orjson.loads(second.removeprefix(b"data: "))["choices"][0]["delta"]["content"] == "token0"
    assert rest.endswith(b"data: [DONE]\n\n")
    assert server.attempts()[0]["outcome"] == "ok"


async def test_slow_first_token_delays_a_whole_non_stream_reply(client: openai.AsyncOpenAI) -> None:
    """Non-streaming ``slow-first-token`` answers in full after ``ttft_ms``."""
    start = time.monotonic()
    completion = await client.chat.completions.create(model="slow-first-token:ttft_ms=300", messages=USER)
    assert time.monotonic() - start >= 0.29
    assert completion.choices[0].message.content


async def test_slow_first_token_defaults_to_five_seconds(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Without ``ttft_ms`` the first token takes 5 s: a client with a 0.5 s first-token timeout gives up."""
    async with session.post(
        f"{server.base_url}/chat/completions", json=body("slow-first-token", True)
    ) as response:
        await response.content.readuntil(b"\n\n")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(response.content.readuntil(b"\n\n"), 0.5)
    await until(lambda: server.attempts()[0]["outcome"] == "client_closed")


async def test_ok_ttft_delays_the_headers(server: MockServer, session: aiohttp.ClientSession) -> None:
    """``ok:ttft_ms`` waits before the response headers (time to first byte), unlike slow-first-token."""
    start = time.monotonic()
    async with session.post(
        f"{server.base_url}/chat/completions", json=body("ok:ttft_ms=300", True)
    ) as response:
        assert time.monotonic() - start >= 0.29
        await response.read()


async def test_token_ms_spaces_the_chunks(server: MockServer, session: aiohttp.ClientSession) -> None:
    """``token_ms`` is the gap between content chunks."""
    start = time.monotonic()
    async with session.post(
        f"{server.base_url}/chat/completions", json=body("ok:tokens=4,token_ms=80", True)
    ) as r:
        await r.read()
    assert time.monotonic() - start >= 0.23


async def test_cut_stream_ends_after_n_tokens_without_finish_or_done(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Streaming ``cut:after=3`` sends three tokens, then drops the connection: no finish chunk, no [DONE]."""
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(
            f"{server.base_url}/chat/completions", json=body("cut:after=3", True)
        ) as response:
            assert response.status == 200
            async for piece in response.content.iter_any():
                received += piece
    assert contents(received) == ["token0", " token1", " token2"]
    assert b'finish_reason":"stop' not in received
    assert b"[DONE]" not in received
    assert server.attempts()[0]["outcome"] == "cut"


async def test_cut_stream_defaults_to_five_tokens_and_sdk_raises(client: openai.AsyncOpenAI) -> None:
    """``cut`` sends five tokens by default; the openai SDK raises a connection error mid-stream."""
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        stream = await client.chat.completions.create(model="cut", messages=USER, stream=True)
        async for item in stream:
            seen.append(item.choices[0].delta.content or "")
    assert "".join(seen) == "token0 token1 token2 token3 token4"


async def test_cut_non_stream_sends_half_a_body_then_drops(
    client: openai.AsyncOpenAI, server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Non-streaming ``cut`` sends 200 with a Content-Length, part of the body, then drops the connection."""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.post(f"{server.base_url}/chat/completions", json=body("cut", False)) as response:
            assert response.status == 200
            assert response.content_length
            await response.read()
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="cut", messages=USER)
    assert [a["outcome"] for a in server.attempts()] == ["cut", "cut"]


async def test_stall_stream_goes_silent_after_n_tokens(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Streaming ``stall:after=2`` sends two tokens, then nothing; the record keeps ``stall`` and when."""
    url = f"{server.base_url}/chat/completions"
    received = b""
    async with session.post(url, json=body("stall:after=2", True)) as response:
        with pytest.raises(asyncio.TimeoutError):
            while True:
                received += await asyncio.wait_for(response.content.readany(), 0.3)
    left = time.monotonic()
    assert contents(received) == ["token0", " token1"]
    await until(lambda: server.attempts()[0]["closed_at"] is not None)
    attempt = server.attempts()[0]
    assert attempt["outcome"] == "stall"
    assert attempt["closed_at"] - left < 1.0


async def test_stall_non_stream_sends_headers_then_nothing(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Non-streaming ``stall`` commits a 200 and never sends the body (until ``stall_ms``)."""
    async with session.post(f"{server.base_url}/chat/completions", json=body("stall", False)) as response:
        assert response.status == 200
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(response.read(), 0.3)
    await until(lambda: server.attempts()[0]["closed_at"] is not None)
    assert server.attempts()[0]["outcome"] == "stall"


async def test_stall_ms_bounds_the_silence(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """After ``stall_ms`` the mock drops the connection itself."""
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="stall:stall_ms=100", messages=USER)
    assert server.attempts()[0]["outcome"] == "stall"


async def test_malformed_chunk_sends_a_frame_that_is_not_json(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Streaming ``malformed-chunk`` sends 2 good tokens, a ``data: {not json`` frame, the rest, [DONE]."""
    async with session.post(
        f"{server.base_url}/chat/completions", json=body("malformed-chunk:tokens=4", True)
    ) as r:
        raw = await r.read()
    frames = [block for block in raw.split(b"\n\n") if block]
    assert frames[3] == b"data: {not json"
    assert contents(raw) == ["token0", " token1", " token2", " token3"]
    assert frames[-1] == b"data: [DONE]"
    assert server.attempts()[0]["outcome"] == "malformed"


async def test_malformed_chunk_after_param_moves_the_bad_frame(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """``after=0`` puts the malformed frame before the first content token."""
    async with session.post(
        f"{server.base_url}/chat/completions", json=body("malformed-chunk:after=0", True)
    ) as r:
        frames = [block for block in (await r.read()).split(b"\n\n") if block]
    assert frames[1] == b"data: {not json"


async def test_malformed_non_stream_body_is_not_json(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """Non-streaming ``malformed-chunk`` is a complete 200 whose JSON body does not parse."""
    async with session.post(f"{server.base_url}/chat/completions", json=body("malformed-chunk", False)) as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        raw = await r.read()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert server.attempts()[0]["outcome"] == "malformed"


async def test_no_done_ends_the_stream_without_done(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """``no-done`` sends every token and the finish chunk, then ends the response without [DONE]."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/chat/completions", json=body("no-done:tokens=3", True)) as r,
    ):
        raw = await r.read()
    assert contents(raw) == ["token0", " token1", " token2"]
    assert b'"finish_reason":"stop"' in raw
    assert b"[DONE]" not in raw
    # The SDK does not notice: exactly why a gateway must check for [DONE] itself.
    stream = await client.chat.completions.create(model="no-done:tokens=3", messages=USER, stream=True)
    assert [item.choices[0].finish_reason async for item in stream][-1] == "stop"
    assert [a["outcome"] for a in server.attempts()] == ["no_done", "no_done"]


@pytest.mark.parametrize("usage", [True, False], ids=["usage-then-end", "end-before-usage"])
async def test_no_done_with_usage_asked_for(
    server: MockServer, session: aiohttp.ClientSession, usage: bool
) -> None:
    """Asked for usage, ``no-done`` sends the usage chunk after the finish chunk; with ``usage=0`` the
    body ends right after the finish chunk: no usage chunk, no [DONE]."""
    model = "no-done:tokens=2" + ("" if usage else ",usage=0")
    request = {**body(model, True), "stream_options": {"include_usage": True}}
    async with session.post(f"{server.base_url}/chat/completions", json=request) as response:
        raw = await response.read()
    frames = [orjson.loads(block.removeprefix(b"data: ")) for block in raw.split(b"\n\n") if block]
    assert [frame["choices"][0]["finish_reason"] for frame in frames if frame["choices"]][-1] == "stop"
    usages = [frame["usage"]["completion_tokens"] for frame in frames if frame.get("usage")]
    assert usages == ([2] if usage else [])
    assert bool(frames[-1]["choices"]) is not usage  # the last frame: usage, or else the finish
    assert b"[DONE]" not in raw
    assert server.attempts()[0]["outcome"] == "no_done"


async def test_no_done_non_stream_is_healthy(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """Without streaming there is no [DONE] to omit, so ``no-done`` answers normally."""
    completion = await client.chat.completions.create(model="no-done", messages=USER)
    assert completion.choices[0].message.content
    assert server.attempts()[0]["outcome"] == "ok"


async def test_client_cancel_mid_stream_is_recorded_within_a_second(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """A client that closes a healthy stream midway is recorded as ``client_closed`` with ``closed_at``."""
    url = f"{server.base_url}/chat/completions"
    async with session.post(url, json=body("ok:tokens=100,token_ms=50", True)) as response:
        await response.content.readuntil(b"\n\n")
        await response.content.readuntil(b"\n\n")
        response.close()
    cancelled = time.monotonic()
    await until(lambda: server.attempts()[0]["closed_at"] is not None)
    attempt = server.attempts()[0]
    assert attempt["outcome"] == "client_closed"
    assert attempt["closed_at"] - cancelled < 1.0
