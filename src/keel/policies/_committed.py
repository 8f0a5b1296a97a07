"""``CommittedBatches``: a committed stream's batches, each read within the idle timeout and the
attempt's end, one ``ReadWatch`` timer for them all.

The chunks held back until the commit point come first, then the rest as they arrive. A relay may
also drain it from the connection's callback (``open_lane``, ``ChunkStream.relay``): each batch
delivered there starts the next read's clock, as handing a batch to the client does when it is read,
so the idle and attempt timeouts hold the same either way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .._generated import GeneratedBatches
from ..errors import DeadlineExceededError, UpstreamTimeoutError
from ..types import Chunk
from ._read_watch import ReadWatch

if TYPE_CHECKING:
    from ..call import Call
    from ..route import Route

__all__ = ["CommittedBatches", "timed_out"]


class CommittedBatches(GeneratedBatches):
    """The held-back chunks, then ``source``'s batches, each read within the route's idle timeout
    and the attempt's end (``ends_at``, ``budget`` seconds after it began)."""

    __slots__ = (
        "_began",
        "_budget",
        "_call",
        "_ends_at",
        "_handler",
        "_held",
        "_idle",
        "_reads",
        "_route",
        "_source",
        "_watch",
    )

    def __init__(
        self,
        call: Call,
        route: Route,
        held: list[Chunk],
        source: AsyncIterator[list[Chunk]],
        ends_at: float,
        budget: float,
    ) -> None:
        self._call, self._route, self._source = call, route, source
        self._held: list[Chunk] | None = held or None
        self._ends_at, self._budget, self._idle = ends_at, budget, route.timeouts.idle
        self._watch = ReadWatch()
        self._began: float | None = None  # when the read under way began, if not at the next __anext__
        self._handler: Any = None  # the connection a lane is attached to
        self._reads: AsyncGenerator[list[Chunk], None] | None = None

    async def aclose(self) -> None:
        if self._reads is not None:
            await self._reads.aclose()
        else:
            self._watch.close()
            await self._source.aclose()  # type: ignore[attr-defined]

    async def _read(self) -> AsyncGenerator[list[Chunk], None]:
        source = self._source.__aiter__()
        watch = self._watch
        try:
            held, self._held = self._held, None
            if held is not None:
                yield held
            while True:
                now = time.monotonic()
                began, self._began = self._began, None  # a read the lane began, or one that begins now
                due, phase, limit = self._due(now if began is None else began)
                wait = due - now
                if wait <= 0:
                    raise timed_out(self._call, self._route, phase, limit)
                cancelling = watch.start(wait)
                try:
                    batch = await source.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if not watch.expired(cancelling):
                        raise
                    raise timed_out(self._call, self._route, phase, limit) from None
                finally:
                    watch.stop()
                yield batch
        finally:
            watch.close()
            await self._source.aclose()  # type: ignore[attr-defined]

    # The lane: drained from the connection's callback.

    def open_lane(self, on_data: Callable[[], None]) -> CommittedBatches | None:
        """Have ``on_data()`` called as the connection receives bytes; None if the source cannot."""
        attach = getattr(self._source, "attach", None)
        if self._held is not None or attach is None:
            return None
        handler = attach(on_data)
        if handler is None:
            return None
        self._handler, self._began = handler, time.monotonic()
        return self

    def take(self) -> list[Chunk] | None:
        """A batch that has arrived (the next read's clock starts now), ``[]`` if none has yet, or None
        when only reading may go on."""
        batch = self._source.take()  # type: ignore[attr-defined]
        if batch:
            self._began = time.monotonic()  # the timer asks for the read's end when it fires
        return batch

    @property
    def ending(self) -> bool:
        """The batch just taken was the last the lane can give: hand over now, not at the next bytes."""
        return self._source.ending  # type: ignore[attr-defined]

    async def wait(self, handed_over: asyncio.Future[None]) -> None:
        """Until the lane hands over, or the read under way runs out (then the next ``__anext__``
        raises its timeout)."""
        assert self._began is not None
        due = self._due(self._began)[0]
        watch = self._watch
        cancelling = watch.start(due - time.monotonic(), self._left)
        try:
            await handed_over
        except asyncio.CancelledError:
            if not watch.expired(cancelling):
                raise
        finally:
            watch.stop()

    def _left(self) -> float:
        """Seconds the lane's read under way has left (it began at the last batch delivered)."""
        assert self._began is not None
        return self._due(self._began)[0] - time.monotonic()

    def close_lane(self, on_data: Callable[[], None]) -> None:
        """Detach ``on_data`` from the connection (if still attached)."""
        handler, self._handler = self._handler, None
        if handler is not None and handler.lane is on_data:
            handler.lane = None

    def _due(self, began: float) -> tuple[float, str, float]:
        """When a read begun at ``began`` must end, the phase that bounds it and that phase's limit."""
        idle_end = began + self._idle
        if idle_end <= self._ends_at:
            return idle_end, "idle", self._idle
        return self._ends_at, "attempt", self._budget


def timed_out(call: Call, route: Route, phase: str, seconds: float) -> Exception:
    """The call's deadline if that is what ran out, else the route's own (silent-route) timeout."""
    if call.deadline.remaining() <= 0.001:
        return DeadlineExceededError(f"the call's deadline ran out waiting for {route.name}")
    return UpstreamTimeoutError(
        f"no {phase.replace('_', ' ')} within {seconds:g}s", phase=phase, route=route.name
    )
