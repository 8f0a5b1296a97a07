"""``AttemptRunner``: the end of the route chain — one provider request inside the call's deadline.

It enforces the split timeouts (connect, first token, idle between chunks, the attempt's total) and
a stream's commit point: no chunk leaves here until the first content-bearing one has arrived, so a
failure or a silent route before that point is still an attempt the retry layer and the router may
repeat elsewhere, invisibly to the caller. A route that cannot call tools is sent the request without
its (optional) tools; a JSON-schema request goes as ``structured.strategy`` says the route takes it,
and a schema the route cannot compile into a grammar is sent again at once in JSON mode, or with a
weaker grammar where the route takes one (the refused request used nothing; the attempt is the one
that answers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError
from ..guards.markers import CanaryScanner, Markers
from ..providers.base import AttemptLimits, in_batches
from ..reply import ChunkStream
from ..structured.strategy import SchemaGrammars
from ..telemetry.logs import get_logger
from ..types import ChatRequest, Chunk
from ._committed import CommittedBatches, timed_out
from ._tools import drops_tools, without_tools
from .output_guard import GuardWatch

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route

__all__ = ["AttemptRunner"]

log = get_logger("keel.attempt")


class AttemptRunner:
    """Calls the route's provider with ``min(attempt timeout, time left)`` and the phase timeouts."""

    def __init__(self, grammars: SchemaGrammars | None = None, markers: Markers | None = None) -> None:
        self.grammars = grammars or SchemaGrammars()
        self.markers = markers

    async def __call__(self, call: Call, route: Route) -> Reply:
        request = call.request
        if self.markers is not None:
            marked = self.markers.apply(call, request)
            request = marked.request
            if marked.canary is not None:
                # The answer is watched for this attempt's canary, complete or as it streams.
                scanner = CanaryScanner(marked.canary, self.markers.canary.mode)
                return GuardWatch(call, [scanner]).watch(await self._attempt(call, route, request))
        return await self._attempt(call, route, request)

    async def _attempt(self, call: Call, route: Route, request: ChatRequest) -> Reply:
        if drops_tools(route, request):
            request = without_tools(request)
        try:
            sent = self.grammars.prepare(route, request, tight=call.attempt_reason == "reask")
            return await self._send(call, route, sent)
        except InvalidRequestError as error:
            if not self.grammars.refused(route, request, error):
                raise
            log.info(
                "schema asked for in JSON mode or with a weaker grammar: the route cannot compile it",
                route=route.name,
                request_id=call.request_id,
                error=error.message[:200],
            )
            return await self._send(call, route, self.grammars.prepare(route, request))

    async def _send(self, call: Call, route: Route, request: ChatRequest) -> Reply:
        left = call.deadline.check()
        timeouts = route.timeouts
        budget = min(timeouts.attempt, left)
        limits = AttemptLimits(connect=min(timeouts.connect, budget), total=budget)
        if not call.stream:
            try:
                async with asyncio.timeout(budget):
                    return await route.provider.chat(request, route, limits)
            except TimeoutError:
                raise timed_out(call, route, "attempt", budget) from None
        return await self._stream(call, route, request, limits, budget)

    async def _stream(
        self, call: Call, route: Route, request: ChatRequest, limits: AttemptLimits, budget: float
    ) -> ChunkStream:
        source = _batches(route, request, limits)
        ends_at = time.monotonic() + budget
        first_token = min(route.timeouts.first_token, budget)
        held: list[Chunk] = []
        try:
            async with asyncio.timeout(first_token):
                async for batch in source:
                    held += batch
                    if any(chunk.bears_content() for chunk in batch):
                        call.first_token_at = time.monotonic()
                        break
        except TimeoutError:
            await source.aclose()  # type: ignore[attr-defined]
            raise timed_out(call, route, "first_token", first_token) from None
        except BaseException:
            await source.aclose()  # type: ignore[attr-defined]
            raise
        model = held[0].model if held else route.upstream_model
        return ChunkStream(batches=CommittedBatches(call, route, held, source, ends_at, budget), model=model)


def _batches(route: Route, request: ChatRequest, limits: AttemptLimits) -> AsyncIterator[list[Chunk]]:
    """The provider's chunks as they arrive together, one list per read (one each if it cannot say)."""
    provider = route.provider
    batches = getattr(provider, "stream_batches", None)
    if batches is not None:
        return batches(request, route, limits)
    return in_batches(provider.stream(request, route, limits))
