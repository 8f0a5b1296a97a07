"""``AttemptPolicy``: one record per attempt on the call, and the attempt listeners run around it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ..errors import KeelError, StreamInterruptedError, UpstreamError
from ..reply import ChunkStream, StreamEnd
from ..types import Attempt

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from .base import RouteHandler

__all__ = ["AttemptPolicy"]


class AttemptPolicy:
    """Appends an ``Attempt`` to ``call.attempts`` and fills in how it ended.

    A stream's attempt ends when the stream does, so a cut stream's partial usage is recorded too.
    """

    async def __call__(self, call: Call, route: Route, call_next: RouteHandler) -> Reply:
        attempt = Attempt(route=route.name, model=route.upstream_model, started_at=time.time())
        call.attempts.append(attempt)
        started = time.monotonic()
        try:
            for listener in call.listeners:
                await listener.attempt_started(call, route, attempt)
        except BaseException as refusal:  # e.g. a budget that cannot cover this attempt
            attempt.outcome, attempt.error = "refused", str(refusal)
            raise
        try:
            reply = await call_next(call, route)
        except BaseException as error:
            _fail(attempt, error)
            attempt.duration_s = time.monotonic() - started
            await _ended(call, route, attempt)
            raise
        if isinstance(reply, ChunkStream):
            attempt.outcome = "streaming"

            async def stream_ended(end: StreamEnd) -> None:
                attempt.duration_s = time.monotonic() - started
                attempt.usage = end.usage
                attempt.upstream_request_id = attempt.upstream_request_id or end.response.upstream_request_id
                if end.status == "completed":
                    attempt.outcome = "ok"
                elif end.status == "cancelled":
                    attempt.outcome = "cancelled"
                else:
                    _fail(attempt, end.error)
                await _ended(call, route, attempt)

            reply.on_end(stream_ended)
            return reply
        attempt.outcome = "ok"
        attempt.usage = reply.usage
        attempt.upstream_request_id = reply.upstream_request_id
        attempt.duration_s = time.monotonic() - started
        await _ended(call, route, attempt)
        return reply


def _fail(attempt: Attempt, error: BaseException | None) -> None:
    if isinstance(error, StreamInterruptedError):
        attempt.usage = error.partial.usage
        error = error.cause or error
    if isinstance(error, UpstreamError):
        attempt.outcome = error.outcome
        attempt.status = error.upstream_status
        attempt.error = error.describe()
        attempt.upstream_request_id = error.upstream_request_id
    elif isinstance(error, KeelError):
        attempt.outcome, attempt.error = error.code or "error", error.message
    elif isinstance(error, asyncio.CancelledError | GeneratorExit):
        attempt.outcome = "cancelled"
    else:
        attempt.outcome, attempt.error = "error", type(error).__name__


async def _ended(call: Call, route: Route, attempt: Attempt) -> None:
    for listener in call.listeners:
        await listener.attempt_ended(call, route, attempt)
