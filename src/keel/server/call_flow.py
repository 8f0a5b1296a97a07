"""One gateway call for an endpoint: prepared, run while watching for a disconnect, answered whole or
streamed chunk by chunk; the endpoints differ only in how they encode.

A stream sends its headers only once the gateway returns it — after the commit point (DESIGN §1) —
so a failure before the first content is an ordinary error response with its status; after it, a
failure ends the stream with the endpoint's error event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .._replay import replayed
from ..errors import KeelError
from ..reply import ChunkStream
from ..telemetry.logs import get_logger
from ..telemetry.propagation import send_upstream, trace_context
from ..types import ChatRequest, ChatResponse, Chunk
from .context import ApiContext
from .direct_body import DirectBody
from .disconnect import cancel_on_disconnect
from .exchange import Exchange
from .one_shot import RouteAnswer

__all__ = ["StreamFrames", "answer_one_shot", "answer_stream", "answer_whole", "start_call"]

log = get_logger("keel.server")


class StreamFrames(Protocol):
    """How one API frames a stream: a chunk (``b""`` to send nothing), the end, a failure."""

    def chunk(self, chunk: Chunk) -> bytes: ...

    def end(self) -> bytes: ...

    def error(self, error: BaseException) -> bytes: ...


def start_call(
    ctx: ApiContext, ex: Exchange, request: ChatRequest, *, stream: bool, options: dict[str, Any]
) -> None:
    """The exchange's call, carrying the caller's identity, the exchange's request id and the
    client's W3C trace context (the upstream gets it too, unless an attempt's span replaces it)."""
    if ex.principal is not None:
        options["principal"] = ex.principal
    if "traceparent" in ex.headers:
        found = trace_context(ex.headers)
        if found:
            options["trace_context"] = found
            send_upstream(found)
    call = ctx.gateway.new_call(request, stream=stream, **options)
    call.request_id = ex.request_id
    ex.call = call


async def answer_whole(ctx: ApiContext, ex: Exchange, encode: Callable[[ChatResponse], bytes]) -> None:
    """Run the call and send the complete answer, unless the client has gone."""
    assert ex.call is not None
    async with cancel_on_disconnect(ex.receive, ex.scope) as watch:
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
    await ex.respond(200, encode(response))


async def answer_one_shot(ex: Exchange, asking: Awaitable[RouteAnswer]) -> None:
    """Await a one-shot answer (embeddings, a token count) and send its bytes, unless the client has gone."""
    async with cancel_on_disconnect(ex.receive, ex.scope) as watch:
        try:
            answer = await asking
        finally:
            ex.upstream_done = time.perf_counter()
    if watch.disconnected:
        ex.status, ex.outcome = 499, "client_closed"
        return
    ex.route, ex.attempts, ex.upstream_request_id = answer.route, answer.attempts, answer.upstream_request_id
    ex.outcome = "completed"
    headers = [(b"x-keel-cache", answer.cache.encode())] if answer.cache else None
    await ex.respond(200, answer.body, headers)


async def answer_stream(
    ctx: ApiContext,
    ex: Exchange,
    headers: list[tuple[bytes, bytes]],
    frames_for: Callable[[Chunk | None], StreamFrames],
) -> None:
    """Run the call and forward its chunks; ``frames_for(first_chunk)`` picks the framing."""
    assert ex.call is not None
    stream: ChunkStream | None = None
    async with cancel_on_disconnect(ex.receive, ex.scope) as watch:
        try:
            try:
                reply = await ctx.gateway.run(ex.call)
            finally:
                ex.upstream_done = time.perf_counter()
                ex.note_call(ex.call)
            stream = reply if isinstance(reply, ChunkStream) else replayed(reply)
            try:
                first = await stream.next_batch()  # held back until the commit point: already here
            except StopAsyncIteration:
                first = []
            if first and first[0].upstream_request_id:
                ex.upstream_request_id = first[0].upstream_request_id
            ex.status = 200
            await ex.send(
                {"type": "http.response.start", "status": 200, "headers": [*headers, *ex.keel_headers()]}
            )
            await _pump(ex, stream, first, frames_for(first[0] if first else None))
        finally:
            if stream is not None and stream.end is None:
                await stream.aclose()  # cancelled between chunks: close the upstream now
    if watch.disconnected:
        ex.status, ex.outcome = ex.status or 499, "client_closed"
    ex.note_call(ex.call)


async def _pump(ex: Exchange, stream: ChunkStream, first: list[Chunk], frames: StreamFrames) -> None:
    """Forward chunks as they arrive: what one upstream read brought goes in one write, and the next
    read waits until ``send`` took the last."""
    send = ex.send
    encode = frames.chunk
    direct = DirectBody.of(send)

    def write(batch: list[Chunk]) -> bool:
        assert direct is not None
        return direct.write(
            encode(batch[0]) if len(batch) == 1 else b"".join([encode(chunk) for chunk in batch])
        )

    batch = first
    try:
        while True:
            body = encode(batch[0]) if len(batch) == 1 else b"".join([encode(chunk) for chunk in batch])
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if direct is not None and direct.ready():
                await stream.relay(write)  # the chunks that come while the client keeps up
            try:
                batch = await stream.next_batch()
            except StopAsyncIteration:
                break
    except asyncio.CancelledError:
        raise
    except Exception as error:
        if not isinstance(error, KeelError):
            from ..safety.pii import redact  # an exception may quote a request's content

            log.error("internal error in a stream", request_id=ex.request_id, error=redact(repr(error)))
        ex.outcome = "failed"
        await send({"type": "http.response.body", "body": frames.error(error), "more_body": False})
        return
    ex.outcome = "completed"
    await send({"type": "http.response.body", "body": frames.end(), "more_body": False})
