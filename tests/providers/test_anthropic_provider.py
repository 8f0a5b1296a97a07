"""``AnthropicProvider`` against a scripted Messages server on loopback: what it sends, and what it keeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from keel.errors import MalformedResponseError, RateLimitError, RequestError, ServerError
from keel.providers.anthropic import AnthropicProvider
from keel.providers.base import AttemptLimits
from keel.route import Route
from keel.types import ChatRequest

LIMITS = AttemptLimits(connect=1.0, total=5.0)
# A stream as the API frames it, spacing and all: the replay must match it byte for byte.
STREAM = (
    b'event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1", "type": "message", '
    b'"role": "assistant", "model": "claude-x", "content": [], "stop_reason": null, "stop_sequence": null, '
    b'"usage": {"input_tokens": 5, "cache_creation_input_tokens": 3, "output_tokens": 1}}}\n\n'
    b'event: content_block_start\ndata: {"type": "content_block_start", "index": 0, "content_block": '
    b'{"type": "text", "text": ""}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": '
    b'{"type": "text_delta", "text": "Hello"}}\n\n'
    b'event: content_block_stop\ndata: {"type": "content_block_stop", "index": 0}\n\n'
    b'event: message_delta\ndata: {"type": "message_delta", "delta": {"stop_reason": "end_turn", '
    b'"stop_sequence": null}, "usage": {"output_tokens": 2}}\n\n'
    b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
)
MESSAGE = (
    b'{"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-x", '
    b'"content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": null, '
    b'"usage": {"input_tokens": 4, "output_tokens": 1}}'
)


class Upstream:
    """Serves whatever the test scripts next, and records each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Any = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {
                "path": request.path,
                "headers": {name.lower(): value for name, value in request.headers.items()},
                "body": orjson.loads(await request.read()),
            }
        )
        return await self.reply(request)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    script = Upstream()
    app = web.Application()
    app.router.add_post("/v1/messages", script.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield script, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def fixed(body: bytes, status: int = 200, **headers: str) -> Any:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json", headers=headers)

    return reply


def streamed(body: bytes, *, then_wait: float = 0.0) -> Any:
    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "request-id": "req_s"})
        await response.prepare(request)
        await response.write(body)
        await asyncio.sleep(then_wait)
        return response

    return reply


def route(provider: AnthropicProvider) -> Route:
    return Route(name="claude/x", provider=provider, upstream_model="claude-x")


def user(**params: Any) -> ChatRequest:
    return ChatRequest(model="smart", messages=[{"role": "user", "content": "hi"}], **params)


async def test_sends_the_messages_api_headers(upstream: tuple[Upstream, str]) -> None:
    """POST /v1/messages with x-api-key, anthropic-version and anthropic-beta; a /v1 base URL works too."""
    script, base = upstream
    script.reply = fixed(MESSAGE)
    provider = AnthropicProvider("claude", base_url=f"{base}/v1", api_key="sk-ant-test", beta=["a-1", "b-2"])
    try:
        await provider.chat(user(), route(provider), LIMITS)
    finally:
        await provider.aclose()
    sent = script.requests[0]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-test"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["headers"]["anthropic-beta"] == "a-1,b-2"
    assert "authorization" not in sent["headers"]
    assert sent["body"] == {
        "model": "claude-x",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
    }


async def test_a_complete_answer_keeps_the_upstream_bytes(upstream: tuple[Upstream, str]) -> None:
    """The response is canonical, names the upstream request id, and keeps the exact body as native."""
    script, base = upstream
    script.reply = fixed(MESSAGE, **{"request-id": "req_42"})
    provider = AnthropicProvider("claude", base_url=base)
    try:
        response = await provider.chat(user(), route(provider), LIMITS)
    finally:
        await provider.aclose()
    assert response.text == "Hi" and response.upstream_request_id == "req_42"
    assert response.native is not None and (response.native.format, response.native.data) == (
        "anthropic",
        MESSAGE,
    )


async def test_a_native_request_is_sent_as_written(upstream: tuple[Upstream, str]) -> None:
    """An Anthropic-format request goes out unchanged but for the route's model, Keel's field and stream."""
    script, base = upstream
    script.reply = fixed(MESSAGE)
    native = {
        "model": "smart",
        "max_tokens": 2000,
        "system": [{"type": "text", "text": "Policy.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            }
        ],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "top_k": 4,
        "keel": {"cache": "no"},
        "stream": True,
    }
    request = user()
    request.native, request.native_format = native, "anthropic"
    provider = AnthropicProvider("claude", base_url=base)
    try:
        await provider.chat(request, route(provider), LIMITS)
    finally:
        await provider.aclose()
    expected = {key: value for key, value in native.items() if key not in ("keel", "stream")}
    assert script.requests[0]["body"] == {**expected, "model": "claude-x"}


async def test_a_stream_replays_byte_for_byte_and_ends_at_message_stop(
    upstream: tuple[Upstream, str],
) -> None:
    """Every event rides on a chunk, so the stream replays exactly; reading stops at message_stop."""
    script, base = upstream
    script.reply = streamed(STREAM, then_wait=5.0)  # the connection stays open after message_stop
    provider = AnthropicProvider("claude", base_url=base)
    started = time.monotonic()
    try:
        chunks = [chunk async for chunk in provider.stream(user(), route(provider), LIMITS)]
    finally:
        await provider.aclose()
    assert time.monotonic() - started < 2.0
    replay = b"".join(
        b"event: %s\ndata: %s\n\n" % ((n.event or "").encode(), n.data) for c in chunks for n in c.native
    )
    assert replay == STREAM
    assert chunks[0].upstream_request_id == "req_s"
    assert "".join(chunk.text for chunk in chunks) == "Hello"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and (
        chunks[-1].usage.input_tokens,
        chunks[-1].usage.output_tokens,
    ) == (8, 2)
    assert script.requests[0]["body"]["stream"] is True
    assert script.requests[0]["headers"]["accept"] == "text/event-stream"


async def test_a_stream_without_message_stop_is_malformed(upstream: tuple[Upstream, str]) -> None:
    """A stream whose body ends before message_stop raises MalformedResponseError."""
    script, base = upstream
    script.reply = streamed(STREAM.rsplit(b"event: message_stop", 1)[0])
    provider = AnthropicProvider("claude", base_url=base)
    try:
        with pytest.raises(MalformedResponseError, match="message_stop"):
            async for _ in provider.stream(user(), route(provider), LIMITS):
                pass
    finally:
        await provider.aclose()


async def test_an_error_event_in_the_stream_raises(upstream: tuple[Upstream, str]) -> None:
    """An ``overloaded_error`` event mid-stream is a ServerError (529) carrying the request id."""
    script, base = upstream
    event = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
    script.reply = streamed(STREAM.split(b"event: content_block_delta")[0] + error)
    provider = AnthropicProvider("claude", base_url=base)
    try:
        with pytest.raises(ServerError) as info:
            async for _ in provider.stream(user(), route(provider), LIMITS):
                pass
    finally:
        await provider.aclose()
    assert info.value.upstream_status == 529 and info.value.upstream_request_id == "req_s"


async def test_http_errors_and_bad_bodies(upstream: tuple[Upstream, str]) -> None:
    """A 429 keeps its retry-after; a 200 that is not a message is malformed."""
    script, base = upstream
    provider = AnthropicProvider("claude", base_url=base)
    try:
        script.reply = fixed(
            b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}',
            status=429,
            **{"retry-after": "3", "request-id": "req_429"},
        )
        with pytest.raises(RateLimitError) as info:
            await provider.chat(user(), route(provider), LIMITS)
        assert (info.value.retry_after, info.value.upstream_request_id) == (3.0, "req_429")
        script.reply = fixed(b'{"id": "msg_1", "type": "message", "content": ')
        with pytest.raises(MalformedResponseError):
            await provider.chat(user(), route(provider), LIMITS)
    finally:
        await provider.aclose()


async def test_what_anthropic_cannot_do_is_refused_before_sending(upstream: tuple[Upstream, str]) -> None:
    """``n`` > 1 is a RequestError raised before any request reaches the upstream."""
    script, base = upstream
    provider = AnthropicProvider("claude", base_url=base)
    try:
        with pytest.raises(RequestError, match="n=2"):
            await provider.chat(user(n=2), route(provider), LIMITS)
    finally:
        await provider.aclose()
    assert script.requests == []
