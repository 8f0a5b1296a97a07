"""The policy contract's return value: a complete response, or a stream that reports how it ended.

A policy that wants to act when a stream finishes — settle a budget, store a cache entry, write the
ledger, count a breaker failure — registers a callback with ``ChunkStream.on_end``. Every stream ends
exactly once, as ``completed``, ``failed`` or ``cancelled``, and every callback sees that end, whether
the caller read to the last chunk, the upstream broke, or the caller walked away.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from ._assemble import ChunkAssembler
from .errors import StreamInterruptedError, UpstreamError
from .types import ChatResponse, Chunk, Usage

__all__ = ["ChunkStream", "EndCallback", "Inspector", "Reply", "StreamEnd", "StreamStatus"]

StreamStatus = Literal["completed", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How a stream ended, with everything it delivered up to then."""

    status: StreamStatus
    response: ChatResponse
    error: BaseException | None = None

    @property
    def usage(self) -> Usage | None:
        return self.response.usage


EndCallback: TypeAlias = Callable[[StreamEnd], Awaitable[None] | None]


class Inspector(Protocol):
    """Looks at each batch before it is delivered (an output guard): ``check`` returns the index of
    the first chunk that must not go out, or None; then ``error`` is what ends the stream."""

    error: BaseException | None

    def check(self, batch: list[Chunk]) -> int | None: ...


class ChunkStream:
    """An async iterator of chunks that assembles what it delivers and reports its end once.

    Its source yields chunks one by one (``source``) or in lists that arrived together
    (``batches``: one upstream read each). ``next_batch()`` hands on such a list whole, for a relay
    that writes it to its client at once; iterating yields the same chunks one at a time.

    An upstream failure after the first chunk was delivered is raised as ``StreamInterruptedError``
    carrying the partial answer, never as a quiet end that would pass for a complete one.
    """

    def __init__(
        self,
        source: AsyncIterator[Chunk] | None = None,
        *,
        model: str = "",
        batches: AsyncIterator[list[Chunk]] | None = None,
    ) -> None:
        if (source is None) == (batches is None):
            raise TypeError("ChunkStream takes a source of chunks or of batches, not both")
        given: AsyncIterator[Chunk] | AsyncIterator[list[Chunk]] = source or batches  # type: ignore[assignment]
        self._lanes = getattr(given, "open_lane", None)  # a source that can relay from the connection
        self._source = given.__aiter__()  # a generator behind a source object: resumed directly
        self._batched = batches is not None
        self._assembler = ChunkAssembler(model=model)
        self._callbacks: list[EndCallback] = []
        self._delivered = 0
        self._queued: list[Chunk] = []  # the rest of a batch read one chunk at a time
        self._at = 0
        self._inspectors: list[Inspector] = []
        self._stopped_by: Inspector | None = None  # the inspector that ended the stream: its error next
        self.end: StreamEnd | None = None

    def inspect(self, inspector: Inspector) -> None:
        """Have ``inspector`` see every batch before it is delivered, and cut the stream where it
        says: the chunks before go out, then the stream fails with its error and the source is
        closed (for an unshared upstream, the connection at once). Inspectors see a batch in the
        order they were added, each only the part the ones before let through."""
        self._inspectors.append(inspector)

    def on_end(self, callback: EndCallback) -> None:
        """Call ``callback(StreamEnd)`` when the stream ends (at once if it already has)."""
        if self.end is not None:
            raise RuntimeError("stream already ended")
        self._callbacks.append(callback)

    @property
    def partial(self) -> ChatResponse:
        """What the stream has delivered so far, as one response."""
        return self._assembler.response()

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> Chunk:
        if self._at < len(self._queued) and self.end is None:
            chunk = self._queued[self._at]
            self._at += 1
        else:
            batch = await self._pull()
            chunk = batch[0]
            self._queued, self._at = batch, 1
        self._assembler.add(chunk)
        self._delivered += 1
        return chunk

    async def next_batch(self) -> list[Chunk]:
        """The chunks that arrived together (at least one), all delivered at once.

        Raises:
            StopAsyncIteration: the stream has ended.
        """
        if self._at < len(self._queued) and self.end is None:
            batch = self._queued[self._at :]
            self._queued, self._at = [], 0
        else:
            batch = await self._pull()
        add = self._assembler.add
        for chunk in batch:
            add(chunk)
        self._delivered += len(batch)
        return batch

    async def _pull(self) -> list[Chunk]:
        """The source's next non-empty batch; the stream's end reported when there is none."""
        if self.end is not None:
            raise StopAsyncIteration
        if self._stopped_by is not None:
            await self._stop()
        source = self._source
        try:
            if self._batched:
                batch: list[Chunk] = await source.__anext__()  # type: ignore[assignment]
                while not batch:
                    batch = await source.__anext__()  # type: ignore[assignment]
            else:
                batch = [await source.__anext__()]  # type: ignore[list-item]
        except StopAsyncIteration:
            await self._finish("completed")
            raise
        except Exception as exc:
            error: BaseException = exc
            if self._delivered and not isinstance(exc, StreamInterruptedError):
                error = self._interrupted(exc)
            await self._finish("failed", error)
            if error is exc:
                raise
            raise error from exc
        except BaseException as exc:  # cancellation: the caller went away mid-read
            await self._finish("cancelled", exc)
            raise
        if self._inspectors:
            batch = self._inspected(batch)
            if not batch:
                await self._stop()
        return batch

    def _inspected(self, batch: list[Chunk]) -> list[Chunk]:
        """``batch`` as far as the inspectors let it through (``_stopped_by`` set if they cut it)."""
        for inspector in self._inspectors:
            cut = inspector.check(batch)
            if cut is not None:
                self._stopped_by = inspector
                return batch[:cut]
        return batch

    async def relay(self, write: Callable[[list[Chunk]], bool]) -> None:
        """Deliver batches to ``write`` straight from the upstream connection's callback, as they
        arrive, for as long as ``write`` returns True (its client can take more) and the source can
        give them without waiting; return when it cannot, at once if the source has no such lane.

        The caller then reads on with ``next_batch()``, which delivers whatever made the lane stop
        (the stream's end, an error, an inspector's cut, a read that ran out of time). A paced stream
        so costs no task wake-up per chunk. ``write`` must not raise; it is called only while this
        coroutine waits, so a cancellation (the client went away) stops the lane as well.
        """
        if self.end is not None or self._stopped_by is not None or self._at < len(self._queued):
            return
        open_lane = self._lanes
        if open_lane is None:
            return
        handed_over: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        inspected = self._inspected if self._inspectors else None
        add = self._assembler.add

        busy = again = False  # on_data called again while it runs (reading can resume the connection)

        def on_data() -> None:
            nonlocal busy, again
            if handed_over.done():
                return
            if busy:
                again = True  # what this call brought is taken before the running one returns
                return
            busy = True
            try:
                while True:
                    again = False
                    batch = lane.take()
                    if not batch:
                        if batch is None:
                            break
                        if again:
                            continue
                        return  # nothing complete yet: wait for more bytes
                    if inspected is not None:
                        batch = inspected(batch)
                        if not batch:
                            break
                    for chunk in batch:
                        add(chunk)
                    self._delivered += len(batch)
                    if not write(batch) or self._stopped_by is not None or lane.ending:
                        break
                    if not again:
                        return  # one read brings what arrived: the buffer is empty until the next
            except Exception as error:
                lane.close_lane(on_data)
                handed_over.set_exception(error)
                return
            finally:
                busy = False
            lane.close_lane(on_data)
            handed_over.set_result(None)

        lane = open_lane(on_data)
        if lane is None:
            return
        try:
            on_data()  # what arrived while the last batch was being written
            if not handed_over.done():
                await lane.wait(handed_over)
            elif handed_over.exception() is not None:
                await handed_over
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a fault of Keel's own in the lane: the stream fails as a read would
            lane.close_lane(on_data)
            close = getattr(self._source, "aclose", None)
            if close is not None:
                await close()
            error = self._interrupted(exc) if self._delivered else exc
            await self._finish("failed", error)
            if error is exc:
                raise
            raise error from exc
        finally:
            lane.close_lane(on_data)

    async def _stop(self) -> None:
        """End the stream as its inspector said: close the source, fail with the inspector's error."""
        assert self._stopped_by is not None and self._stopped_by.error is not None
        exc = self._stopped_by.error
        try:
            close = getattr(self._source, "aclose", None)
            if close is not None:
                await close()
        finally:
            error = self._interrupted(exc) if self._delivered else exc
            await self._finish("failed", error)
        raise error

    async def aclose(self) -> None:
        """Stop reading; closes the upstream and reports ``cancelled`` unless already ended."""
        if self.end is not None:
            return
        try:
            close = getattr(self._source, "aclose", None)
            if close is not None:
                await close()
        finally:
            await self._finish("cancelled")

    async def collect(self) -> ChatResponse:
        """Read the stream to its end and return the whole answer."""
        try:
            while True:
                await self.next_batch()
        except StopAsyncIteration:
            pass
        return self.partial

    def _interrupted(self, exc: BaseException) -> StreamInterruptedError:
        reason = exc.describe() if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {exc}"
        error = StreamInterruptedError(
            f"stream interrupted after {self._delivered} chunks: {reason}",
            partial=self.partial,
            cause=exc if isinstance(exc, UpstreamError) else None,
        )
        error.__cause__ = exc  # the end callbacks see it before it is raised (e.g. the call's deadline)
        return error

    async def _finish(self, status: StreamStatus, error: BaseException | None = None) -> None:
        if self.end is not None:
            return
        self.end = StreamEnd(status=status, response=self.partial, error=error)
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            result = callback(self.end)
            if inspect.isawaitable(result):
                await result


Reply: TypeAlias = ChatResponse | ChunkStream
