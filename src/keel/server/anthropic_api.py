"""``POST /v1/messages``: Anthropic's Messages API in front of any route, streamed or not.

The request is read in Anthropic's format (``anthropic_wire``) and called like any other; an
Anthropic route receives the client's body unchanged and its answer comes back as its own bytes,
any other route's answer is translated. A stream sends its headers only once the gateway returns
it — after the commit point (DESIGN §1) — so every failure before the first content is an ordinary
error response in Anthropic's shape; after it, a failure ends the stream with an ``error`` event.
"""

from __future__ import annotations

import asyncio
import time

from .._replay import chunks_of
from ..errors import KeelError
from ..reply import ChunkStream
from ..telemetry.logs import get_logger
from ..types import ChatResponse, Chunk
from .anthropic_sse import SSE_HEADERS, AnthropicEvents, error_event
from .anthropic_wire import encode_message, messages_request
from .caller import may_use
from .context import ApiContext
from .disconnect import cancel_on_disconnect
from .errors import ApiError
from .exchange import Exchange
from .openai_wire import json_object
from .options import keel_options

__all__ = ["messages", "messages_elsewhere"]

log = get_logger("keel.server")


async def messages(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/messages``."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    request, stream = messages_request(body, ex.headers)
    if not may_use(ex.principal, request.model):
        raise ApiError(403, f"this key may not use model {request.model!r}", param="model")
    if ex.principal is not None:
        options["principal"] = ex.principal
    call = ctx.gateway.new_call(request, stream=stream, **options)
    call.request_id = ex.request_id
    ex.call = call
    if stream:
        await _stream(ctx, ex)
    else:
        await _complete(ctx, ex)


async def _complete(ctx: ApiContext, ex: Exchange) -> None:
    assert ex.call is not None
    async with cancel_on_disconnect(ex.receive) as watch:
        try:
            reply = await ctx.gateway.run(ex.call)
        finally:
            ex.upstream_done = time.perf_counter()
            ex.note_call(ex.call)
        response = await reply.collect() if isinstance(reply, ChunkStream) else reply
    if watch.disconnected:
        ex.status, ex.outcome = 499, "client_closed"
        return
    ex.note_call(ex.call)
    ex.upstream_request_id = response.upstream_request_id or ex.upstream_request_id
    ex.outcome = "completed"
    await ex.respond(200, encode_message(response))


async def _stream(ctx: ApiContext, ex: Exchange) -> None:
    assert ex.call is not None
    stream: ChunkStream | None = None
    async with cancel_on_disconnect(ex.receive) as watch:
        try:
            try:
                reply = await ctx.gateway.run(ex.call)
            finally:
                ex.upstream_done = time.perf_counter()
                ex.note_call(ex.call)
            stream = reply if isinstance(reply, ChunkStream) else _replayed(reply)
            first = await anext(stream, None)  # held back until the commit point: already here
            if first is not None and first.upstream_request_id:
                ex.upstream_request_id = first.upstream_request_id
            ex.status = 200
            await ex.send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *ex.keel_headers()]}
            )
            await _pump(ex, stream, first)
        finally:
            if stream is not None and stream.end is None:
                await stream.aclose()  # cancelled between chunks: close the upstream now
    if watch.disconnected:
        ex.status, ex.outcome = ex.status or 499, "client_closed"
    ex.note_call(ex.call)


async def _pump(ex: Exchange, stream: ChunkStream, first: Chunk | None) -> None:
    """Forward events one chunk at a time: the next is read only when ``send`` took the last."""
    send = ex.send
    assert ex.call is not None
    events = AnthropicEvents(model=first.model if first is not None else ex.call.request.model)
    try:
        if first is not None:
            await send({"type": "http.response.body", "body": events.frame(first), "more_body": True})
        async for chunk in stream:
            body = events.frame(chunk)
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
    except asyncio.CancelledError:
        raise
    except Exception as error:
        if not isinstance(error, KeelError):
            log.error("internal error in a stream", request_id=ex.request_id, error=repr(error))
        ex.outcome = "failed"
        await send({"type": "http.response.body", "body": error_event(error), "more_body": False})
        return
    ex.outcome = "completed"
    await send({"type": "http.response.body", "body": events.end(), "more_body": False})


async def messages_elsewhere(ctx: ApiContext, ex: Exchange) -> None:
    """``/v1/messages/...`` (token counting, batches): not served, said in Anthropic's shape."""
    raise ApiError(404, f"Keel does not serve {ex.method} {ex.path}; only POST /v1/messages")


def _replayed(response: ChatResponse) -> ChunkStream:
    return ChunkStream(chunks_of(response), model=response.model)
