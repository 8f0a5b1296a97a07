"""The OpenAI-compatible endpoints: chat completions (streamed or not), embeddings and models.

Each handler reads its request through an ``Exchange`` and raises what goes wrong; the app turns an
exception into OpenAI's error shape when nothing has been sent yet. A stream sends its headers only
once the gateway returns it — after the commit point (DESIGN §1) — so every failure before the first
content is still an ordinary JSON error with its status.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from .._replay import chunks_of
from ..errors import KeelError
from ..reply import ChunkStream
from ..telemetry.logs import get_logger
from ..types import ChatResponse, Chunk
from .caller import may_use
from .context import ApiContext
from .disconnect import cancel_on_disconnect
from .embeddings import embed
from .errors import ApiError, error_parts
from .exchange import Exchange
from .openai_wire import chat_request, encode_response, json_object
from .options import keel_options
from .sse import DONE, SSE_HEADERS, error_event, frame, keeps_chunk

__all__ = ["chat_completions", "embeddings", "list_models", "retrieve_model"]

log = get_logger("keel.server")


async def chat_completions(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/chat/completions``."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    request, stream, include_usage = chat_request(body)
    _check_model(ex, request.model)
    if ex.principal is not None:
        options["principal"] = ex.principal
    call = ctx.gateway.new_call(request, stream=stream, **options)
    call.request_id = ex.request_id
    ex.call = call
    if stream:
        await _stream(ctx, ex, include_usage)
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
    await ex.respond(200, encode_response(response))


async def _stream(ctx: ApiContext, ex: Exchange, include_usage: bool) -> None:
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
            await _pump(ex, stream, first, include_usage)
        finally:
            if stream is not None and stream.end is None:
                await stream.aclose()  # cancelled between chunks: close the upstream now
    if watch.disconnected:
        ex.status, ex.outcome = ex.status or 499, "client_closed"
    ex.note_call(ex.call)


async def _pump(ex: Exchange, stream: ChunkStream, first: Chunk | None, include_usage: bool) -> None:
    """Forward chunks one at a time: the next is read only when ``send`` took the last."""
    send = ex.send
    try:
        if first is not None and keeps_chunk(first, include_usage):
            await send({"type": "http.response.body", "body": frame(first), "more_body": True})
        async for chunk in stream:
            if keeps_chunk(chunk, include_usage):
                await send({"type": "http.response.body", "body": frame(chunk), "more_body": True})
    except asyncio.CancelledError:
        raise
    except Exception as error:
        if not isinstance(error, KeelError):
            log.error("internal error in a stream", request_id=ex.request_id, error=repr(error))
        _, _, detail = error_parts(error)
        ex.outcome = "failed"
        await send({"type": "http.response.body", "body": error_event(detail), "more_body": False})
        return
    ex.outcome = "completed"
    await send({"type": "http.response.body", "body": DONE, "more_body": False})


def _replayed(response: ChatResponse) -> ChunkStream:
    return ChunkStream(chunks_of(response), model=response.model)


async def embeddings(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/embeddings``: passed to the first route of the model's cascade that serves it."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required and must be a non-empty string", param="model")
    given = body.get("input")
    if given is None or given == "" or given == []:
        raise ApiError(400, "'input' is required: a string or an array of strings or tokens", param="input")
    _check_model(ex, model)
    timeout = options.get("timeout", ctx.gateway.config.timeouts.total)
    async with cancel_on_disconnect(ex.receive) as watch:
        try:
            answer = await embed(ctx.gateway, model, body, timeout)
        finally:
            ex.upstream_done = time.perf_counter()
    if watch.disconnected:
        ex.status, ex.outcome = 499, "client_closed"
        return
    ex.route, ex.attempts, ex.upstream_request_id = answer.route, answer.attempts, answer.upstream_request_id
    ex.outcome = "completed"
    await ex.respond(200, answer.body)


async def list_models(ctx: ApiContext, ex: Exchange) -> None:
    """``GET /v1/models``: the configured model names this caller may use."""
    names = [name for name in ctx.gateway.config.models if may_use(ex.principal, name)]
    await ex.respond(200, orjson.dumps({"object": "list", "data": [_model(ctx, name) for name in names]}))


async def retrieve_model(ctx: ApiContext, ex: Exchange) -> None:
    """``GET /v1/models/{model}``."""
    name = ex.path.removeprefix("/v1/models/")
    if name not in ctx.gateway.config.models or not may_use(ex.principal, name):
        raise ApiError(404, f"model {name!r} is not configured", code="model_not_found", param="model")
    await ex.respond(200, orjson.dumps(_model(ctx, name)))


def _model(ctx: ApiContext, name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": ctx.started, "owned_by": "keel"}


def _check_model(ex: Exchange, model: str) -> None:
    if not may_use(ex.principal, model):
        raise ApiError(
            403,
            f"this key may not use model {model!r}",
            type="permission_error",
            code="model_not_allowed",
            param="model",
        )
