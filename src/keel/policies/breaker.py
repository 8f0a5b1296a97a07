"""``BreakerPolicy``: skip a route whose circuit is open; count the failures the taxonomy says count."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import CircuitOpenError, RateLimitError, UpstreamError
from ..reply import ChunkStream, StreamEnd
from ..telemetry import breakers
from ..types import Attempt

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route
    from ..stores.base import BreakerStore
    from .base import RouteHandler

__all__ = ["BreakerPolicy"]


class BreakerPolicy:
    """Consults the route's circuit before every attempt and records its verdict after.

    A 429 cools the route down until its Retry-After instead of counting as a failure. A stream's
    verdict is its commit (success) and, if it later breaks, the failure that broke it.
    """

    def __init__(self, store: BreakerStore) -> None:
        self.store = store

    async def __call__(self, call: Call, route: Route, call_next: RouteHandler) -> Reply:
        breakers.note_route(route.name)
        wait = await self.store.acquire(route.name)
        if wait is None and breakers.known_state(route.name) == "open":
            breakers.note_state(route.name, "half_open")  # its open time is over: this is the probe
        if wait is not None:
            # Recorded as an attempt that never left (DESIGN's outcome ``circuit_open``): the ledger
            # and the metrics see the route passed over, at no cost and with no budget reserved.
            call.attempts.append(
                Attempt(
                    route=route.name,
                    model=route.upstream_model,
                    outcome="circuit_open",
                    reason=call.attempt_reason,
                    started_at=time.time(),
                )
            )
            raise CircuitOpenError(
                f"{route.name}: circuit open or cooling down",
                route=route.name,
                retry_after=wait,
            )
        try:
            reply = await call_next(call, route)
        except UpstreamError as error:
            await self._record(route.name, error)
            raise
        except BaseException:
            await self.store.release(route.name)
            raise
        await self.store.record_success(route.name)
        breakers.note_state(route.name, "closed")
        if isinstance(reply, ChunkStream):
            reply.on_end(lambda end: self._stream_ended(route.name, end))
        return reply

    async def _record(self, route: str, error: BaseException) -> None:
        if isinstance(error, RateLimitError):
            if error.retry_after:  # without a hint, each caller backs off on its own
                await self.store.cool_down(route, error.retry_after)
            await self.store.release(route)
        elif isinstance(error, UpstreamError) and error.counts_for_breaker:
            await self.store.record_failure(route)
            breakers.note_state(route, (await self.store.snapshot(route)).state)
        else:
            await self.store.release(route)

    async def _stream_ended(self, route: str, end: StreamEnd) -> None:
        cause = getattr(end.error, "cause", None) or end.error
        if end.status == "failed" and isinstance(cause, UpstreamError):
            await self._record(route, cause)
