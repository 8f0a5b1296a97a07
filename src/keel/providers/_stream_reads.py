"""One provider stream read as batches: each network read's complete events, decoded into chunks.

Both wire formats share the reader; a decoder per format turns events into chunks and says when the
stream is complete (``done``) and whether an early end is acceptable (``close``). Besides being read
(``async for``), the reader can be drained from the connection's own callback (``take`` and
``attach``): the relay's lane (``ChunkStream.relay``), which costs no task wake-up per read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

import aiohttp

from .._generated import GeneratedBatches
from ..errors import MalformedResponseError
from ..types import Chunk
from ._finishes import closed_early
from ._http import transport_errors
from ._lane import LaneHandler
from ._sse import SSEDecoder

__all__ = ["BatchReader", "EventDecoder"]


class EventDecoder(Protocol):
    """Turns one stream's events into chunks."""

    route: str
    done: bool  # the protocol's end marker has come

    def feed(self, event: str, data: bytes) -> Chunk | None:
        """The chunk this event completes, or None; raises the taxonomy error of a bad event."""
        ...

    def close(self, cut: MalformedResponseError | None = None) -> None:
        """The body ended before ``done`` (``cut``: the connection closed mid-body): return if the
        stream is nevertheless complete, else raise."""
        ...


_END = "end"  # the decoder saw the protocol's end marker
_EOF = "eof"  # the body ended: the decoder says whether that is complete


class BatchReader(GeneratedBatches):
    """The chunks of the response ``respond`` sends for, as many at a time as each read brings
    (never none); the first carries the upstream's request id. A bad event ends its batch: the
    chunks before it are delivered, then its error is raised. The request is sent on the first
    read; the response is closed at the end, on an error and by ``aclose``."""

    __slots__ = (
        "_decoder",
        "_decoder_for",
        "_events",
        "_first",
        "_header",
        "_next",
        "_reads",
        "_respond",
        "_response",
    )

    def __init__(
        self,
        respond: Callable[[], Awaitable[aiohttp.ClientResponse]],
        decoder_for: Callable[[str | None], EventDecoder],
        request_id_header: str,
    ) -> None:
        self._respond = respond
        self._decoder_for = decoder_for
        self._header = request_id_header
        self._response: aiohttp.ClientResponse | None = None
        self._decoder: EventDecoder | None = None
        self._events = SSEDecoder()
        self._first = True
        self._next: str | Exception | None = None  # what follows the batch just handed on
        self._reads: AsyncGenerator[list[Chunk], None] | None = None

    async def aclose(self) -> None:
        if self._reads is not None:
            await self._reads.aclose()

    async def _read(self) -> AsyncGenerator[list[Chunk], None]:
        response = self._response = await self._respond()
        decoder = self._decoder = self._decoder_for(response.headers.get(self._header))
        try:
            try:
                with transport_errors(decoder.route, headers_received=True):
                    read = response.content.readany
                    decoded = self._decoded
                    while True:
                        after = self._next
                        if after is not None:  # what came after the last batch (read here or in ``take``)
                            break
                        batch = decoded(await read())
                        if batch:
                            yield batch
            except MalformedResponseError as error:
                if not closed_early(error):
                    raise
                decoder.close(error)
                return
            self._next = None
            if isinstance(after, Exception):
                raise after
            if after is _EOF:
                decoder.close()
        finally:
            response.close()  # an unfinished body must not go back to the pool

    def take(self) -> list[Chunk] | None:
        """What the connection has already brought, without waiting: a batch, ``[]`` when no event
        is complete yet, or None when only ``__anext__`` may go on (the stream's end, an error, a
        body not yet begun)."""
        response = self._response
        if response is None or self._next is not None:
            return None
        content = response.content
        if content.is_eof() or content.exception() is not None:
            return None
        block = content.read_nowait()
        if not block:
            return []
        batch = self._decoded(block)
        return batch if batch or self._next is None else None

    @property
    def ending(self) -> bool:
        """The batch just taken was the last one ``take`` can give (the end or an error follows)."""
        return self._next is not None

    def attach(self, on_data: Callable[[], None]) -> LaneHandler | None:
        """Have ``on_data()`` called each time the connection receives bytes, once the response has
        parsed them; the connection it was attached to (to detach it from), or None if it cannot be."""
        response = self._response
        connection = response.connection if response is not None else None
        handler = connection.protocol if connection is not None else None
        if not isinstance(handler, LaneHandler) or handler.lane is not None:
            return None
        handler.lane = on_data
        return handler

    def _decoded(self, block: bytes) -> list[Chunk]:
        """The chunks of one read's events up to the stream's end (``block`` empty: the body ended);
        what comes after them is noted in ``_next``."""
        decoder = self._decoder
        assert decoder is not None
        events = self._events.feed(block) if block else self._events.close()
        batch: list[Chunk] = []
        for event, data in events:
            try:
                chunk = decoder.feed(event, data)
            except Exception as error:
                self._next = error
                break
            if chunk is not None:
                batch.append(chunk)
            if decoder.done:
                self._next = _END
                break
        else:
            if not block:
                self._next = _EOF
        if batch and self._first:
            batch[0].upstream_request_id, self._first = self._response.headers.get(self._header), False  # type: ignore[union-attr]
        return batch
