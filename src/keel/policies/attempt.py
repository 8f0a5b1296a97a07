"""``AttemptPolicy``: one record per attempt on the call, and the attempt listeners run around it.

An attempt on a route that cannot call tools, of a request whose tools are optional, is sent without
them (``AttemptRunner``); its record says ``tools_dropped``, ``call.options["tools_dropped"]`` says
whether the latest attempt was, and a log line names the route.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias

from ..errors import KeelError, OutputGuardError, StreamInterruptedError, UpstreamError
from ..reply import ChunkStream, StreamEnd
from ..telemetry.logs import get_logger
from ..types import Attempt, ChatRequest, ChatResponse
from ._token_bound import InputBound
from ._tools import drops_tools

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from .base import RouteHandler

__all__ = ["AttemptPolicy", "Coster", "stopped_by_keel"]

Coster: TypeAlias = Callable[["Route", ChatRequest, Attempt], Decimal | None]

log = get_logger("keel.attempt")


class AttemptPolicy:
    """Appends an ``Attempt`` to ``call.attempts`` and fills in how it ended.

    A stream's attempt ends when the stream does, so a cut stream's partial usage is recorded too;
    when the provider never reported it, ``delivered_bytes`` says how much output got through.
    ``coster`` prices each attempt as it ends, before the listeners see it; a stream that ends before
    its usage is billed by its bound, so its attempt records ``delivered_bytes`` and, from
    ``input_bound``, the input bound it is billed for.
    """

    def __init__(self, coster: Coster | None = None, input_bound: InputBound | None = None) -> None:
        self.coster = coster
        self.input_bound = input_bound

    async def __call__(self, call: Call, route: Route, call_next: RouteHandler) -> Reply:
        attempt = Attempt(
            route=route.name, model=route.upstream_model, reason=call.attempt_reason, started_at=time.time()
        )
        call.attempts.append(attempt)
        if call.request.tools:
            _note_tools(call, route, attempt)
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
            await self._ended(call, route, attempt)
            raise
        if isinstance(reply, ChunkStream):
            attempt.outcome = "streaming"

            async def stream_ended(end: StreamEnd) -> None:
                attempt.duration_s = time.monotonic() - started
                attempt.usage = end.usage
                if end.usage is None:  # billed by its bound: the input's, and a token per delivered byte
                    attempt.delivered_bytes = _output_bytes(end.response)
                    if attempt.delivered_bytes and self.input_bound is not None:
                        attempt.input_bound = self.input_bound(route, call.request)
                attempt.upstream_request_id = attempt.upstream_request_id or end.response.upstream_request_id
                if end.status == "completed":
                    attempt.outcome = "ok"
                elif end.status == "cancelled":
                    attempt.outcome = "cancelled"
                elif (stopped := stopped_by_keel(end.error)) is not None:
                    # An output guard ended the stream: the route did nothing wrong.
                    attempt.outcome, attempt.error = "cancelled", f"{stopped.code}: {stopped.message}"
                else:
                    _fail(attempt, end.error)
                await self._ended(call, route, attempt)

            reply.on_end(stream_ended)
            return reply
        attempt.outcome = "ok"
        attempt.usage = reply.usage
        attempt.upstream_request_id = reply.upstream_request_id
        attempt.duration_s = time.monotonic() - started
        await self._ended(call, route, attempt)
        return reply

    async def _ended(self, call: Call, route: Route, attempt: Attempt) -> None:
        if self.coster is not None:
            attempt.cost = self.coster(route, call.request, attempt)
        for listener in call.listeners:
            await listener.attempt_ended(call, route, attempt)


def _note_tools(call: Call, route: Route, attempt: Attempt) -> None:
    dropped = drops_tools(route, call.request)
    call.options["tools_dropped"] = dropped
    if dropped:
        attempt.tools_dropped = True
        log.warning(
            "tools dropped: the route cannot call tools", route=route.name, request_id=call.request_id
        )


def stopped_by_keel(error: BaseException | None) -> KeelError | None:
    """Keel's own refusal that ended a stream (an output guard), itself or as the cause of the
    interruption it became after content went out; None for anything else."""
    if isinstance(error, StreamInterruptedError):
        error = error.__cause__
    if isinstance(error, OutputGuardError):
        return error
    return None


def _fail(attempt: Attempt, error: BaseException | None) -> None:
    if isinstance(error, StreamInterruptedError):
        attempt.usage = error.partial.usage
        # Why the stream stopped, when Keel knows: an upstream error, or the call's own deadline.
        cause = error.cause or error.__cause__
        if isinstance(cause, UpstreamError):
            _fail(attempt, cause)  # ``error`` starts with its outcome or status: ``timeout: …``
        else:
            cause = cause if isinstance(cause, KeelError) else error
            attempt.error = f"{cause.code or 'error'}: {cause.message}"
        attempt.outcome = "cut"  # failed after its commit point (DESIGN's word); ``error`` says why
        return
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


def _output_bytes(response: ChatResponse) -> int:
    """UTF-8 bytes of what a stream delivered: an upper bound on its output tokens."""
    total = 0
    for choice in response.choices:
        total += len(choice.message.text().encode())
        for call in choice.message.tool_calls or ():
            total += len((call.function.name or "").encode()) + len((call.function.arguments or "").encode())
    return total
