"""The non-streaming answer, healthy or with a body fault (cut, stall, malformed)."""

from __future__ import annotations

import orjson
from aiohttp import web

from .answer import Answer
from .exchange import Exchange
from .wire import completion

__all__ = ["json_reply", "send_body"]


async def json_reply(ex: Exchange, answer: Answer, *, fault: str | None = None) -> web.StreamResponse:
    """Wait ``ttft_ms``, then send the ``chat.completion`` — or break it as ``fault`` says."""
    await ex.pause(ex.ttft_ms)
    payload = orjson.dumps(
        completion(
            id=ex.completion_id,
            created=ex.created,
            model=ex.spec.model,
            message=answer.message(),
            finish_reason=answer.finish_reason,
            usage=answer.usage,
        )
    )
    return await send_body(ex, payload, fault=fault)


async def send_body(ex: Exchange, payload: bytes, *, fault: str | None = None) -> web.StreamResponse:
    """Send a JSON body whole, or break it as ``fault`` says (in any wire format).

    ``cut`` sends the headers (with the full Content-Length) and half the body, then drops the
    connection; ``stall`` sends the headers and nothing more; ``malformed`` sends a 200 whose body
    is not JSON.
    """
    if fault == "malformed":
        ex.finish("malformed")
        return web.Response(
            body=payload[: len(payload) // 2], content_type="application/json", headers=ex.headers()
        )
    if fault is None:
        ex.finish("ok")
        return web.Response(body=payload, content_type="application/json", headers=ex.headers())
    response = web.StreamResponse(headers=ex.headers())
    response.content_type = "application/json"
    response.content_length = len(payload)
    await response.prepare(ex.request)
    if fault == "stall":
        return await ex.hold(ex.ms("stall_ms", ex.state.timings.stall_ms), "stall", on_close="stall")
    await response.write(payload[: len(payload) // 2])
    ex.finish("cut")
    return ex.abort()
