"""The streaming (SSE) answer, healthy or with a stream fault (cut, stall, malformed chunk, no [DONE])."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .answer import Answer
from .exchange import Exchange
from .wire import DONE, chunk, sse

__all__ = ["MALFORMED_FRAME", "stream_reply"]

MALFORMED_FRAME = b"data: {not json\n\n"
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_OUTCOMES = {None: "ok", "cut": "cut", "stall": "stall", "malformed": "malformed", "no_done": "no_done"}


async def stream_reply(
    ex: Exchange,
    answer: Answer,
    *,
    fault: str | None = None,
    after: int = 0,
    early_headers: bool = False,
) -> web.StreamResponse:
    """Stream ``answer`` as SSE chunks, one content delta per token, ``token_ms`` apart.

    The ``ttft_ms`` wait comes before the headers, or with ``early_headers`` after the headers and
    the role-only first chunk (a server that commits the response, then is slow to produce tokens).
    ``fault`` strikes after ``after`` content chunks: ``cut`` drops the connection, ``stall`` goes
    silent, ``malformed`` sends a frame that is not JSON and goes on, ``no_done`` omits ``[DONE]``.
    """
    if not early_headers:
        await ex.pause(ex.ttft_ms)
    response = web.StreamResponse(headers=ex.headers(**_SSE_HEADERS))
    await response.prepare(ex.request)

    def frame(**fields: Any) -> bytes:
        base: dict[str, Any] = {"id": ex.completion_id, "created": ex.created, "model": ex.spec.model}
        return sse(chunk(**base, **fields, include_usage=ex.include_usage))

    await response.write(frame(delta={"role": "assistant", "content": "", "refusal": None}))
    if early_headers:
        await ex.pause(ex.ttft_ms)
    deltas = answer.deltas()
    after = min(after, len(deltas))
    for index in range(len(deltas) + 1):
        if index == after and fault == "cut":
            ex.finish("cut")
            return ex.abort()
        if index == after and fault == "stall":
            return await ex.hold(ex.ms("stall_ms", ex.state.timings.stall_ms), "stall", on_close="stall")
        if index == after and fault == "malformed":
            await response.write(MALFORMED_FRAME)
        if index == len(deltas):
            break
        if index > 0:
            await ex.pause(ex.token_ms)
        await response.write(frame(delta=deltas[index]))
    await response.write(frame(delta={}, finish_reason=answer.finish_reason))
    if ex.include_usage:
        await response.write(frame(delta=None, usage=answer.usage))
    if fault != "no_done":
        await response.write(DONE)
    await response.write_eof()
    ex.finish(_OUTCOMES[fault])
    return response
