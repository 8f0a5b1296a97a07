"""The streaming (SSE) answer, healthy or with a stream fault (cut, stall, malformed chunk, no [DONE])."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .answer import Answer
from .exchange import Exchange
from .wire import DONE, chunk, sse

__all__ = ["MALFORMED_FRAME", "send_frames", "stream_reply"]

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
    """Stream ``answer`` as Chat Completions chunks: a role chunk, one content delta per token, the
    finish chunk, the usage chunk when asked for, and ``[DONE]`` (which ``no_done`` leaves out)."""

    def frame(**fields: Any) -> bytes:
        base: dict[str, Any] = {"id": ex.completion_id, "created": ex.created, "model": ex.spec.model}
        return sse(chunk(**base, **fields, include_usage=ex.include_usage))

    head = [frame(delta={"role": "assistant", "content": "", "refusal": None})]
    body = [(frame(delta=delta), True) for delta in answer.deltas()]
    tail = [frame(delta={}, finish_reason=answer.finish_reason)]
    if ex.include_usage:
        tail.append(frame(delta=None, usage=answer.usage))
    if fault != "no_done":
        tail.append(DONE)
    return await send_frames(
        ex, head, body, tail, fault=fault, after=after, early_headers=early_headers, malformed=MALFORMED_FRAME
    )


async def send_frames(
    ex: Exchange,
    head: Sequence[bytes],
    body: Sequence[tuple[bytes, bool]],
    tail: Sequence[bytes],
    *,
    fault: str | None,
    after: int,
    early_headers: bool,
    malformed: bytes,
) -> web.StreamResponse:
    """Send SSE frames: ``head``, then ``body`` (``(frame, is_content)``), then ``tail`` (at least one
    frame; the attempt is recorded as finished just before the last), in any wire format.

    Content frames are ``token_ms`` apart. The ``ttft_ms`` wait comes before the headers, or with
    ``early_headers`` after the headers and ``head`` (a server that commits the response, then is
    slow to produce tokens). ``fault`` strikes before content frame number ``after``: ``cut`` drops
    the connection, ``stall`` goes silent, ``malformed`` sends the ``malformed`` frame and goes on;
    ``no_done`` is the caller's to apply to ``tail``.
    """
    if not early_headers:
        await ex.pause(ex.ttft_ms)
    response = web.StreamResponse(headers=ex.headers(**_SSE_HEADERS))
    await response.prepare(ex.request)

    async def write(frame: bytes) -> None:
        await response.write(frame)  # returns once the transport took it (and drained, when full)
        ex.state.log.sent(ex.entry)

    for frame in head:
        await write(frame)
    if early_headers:
        await ex.pause(ex.ttft_ms)
    sent, after = 0, min(after, sum(1 for _, is_content in body if is_content))
    for frame, is_content in (*body, (b"", True)):  # the sentinel lets a fault strike after the last
        if is_content and sent == after:
            if fault == "cut":
                ex.finish("cut")
                return ex.abort()
            if fault == "stall":
                return await ex.hold(ex.ms("stall_ms", ex.state.timings.stall_ms), "stall", on_close="stall")
            if fault == "malformed":
                await write(malformed)
        if not frame:
            break
        if is_content:
            if sent > 0:
                await ex.pause(ex.token_ms)
            sent += 1
        await write(frame)
    linger = ex.ms("linger_ms", 0)
    if linger:
        tail = [b"".join(tail)]  # the last events in one write, then the body stays open
    *rest, last = tail
    for frame in rest:
        await write(frame)
    # The record is final before the last frame leaves: a client that has read it and looks at once
    # (from another thread, or over /_mock/attempts) must not find the attempt still pending.
    ex.finish(_OUTCOMES[fault])
    await write(last)
    await ex.pause(linger)  # a server slow to end the body after its last event
    await response.write_eof()
    return response
