"""One provider stream read as batches: each network read's complete events, decoded into chunks.

Both wire formats share the loop; a decoder per format turns events into chunks and says when the
stream is complete (``done``) and whether an early end is acceptable (``close``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import aiohttp

from ..errors import MalformedResponseError
from ..types import Chunk
from ._finishes import closed_early
from ._http import transport_errors
from ._sse import SSEDecoder

__all__ = ["EventDecoder", "read_batches"]


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


async def read_batches(
    respond: Callable[[], Awaitable[aiohttp.ClientResponse]],
    decoder_for: Callable[[str | None], EventDecoder],
    request_id_header: str,
) -> AsyncIterator[list[Chunk]]:
    """The chunks of the response ``respond`` sends for, as many at a time as each read brings
    (never none); the first carries the upstream's request id. A bad event ends its batch: the
    chunks before it are delivered, then its error is raised."""
    response = await respond()
    request_id = response.headers.get(request_id_header)
    decoder = decoder_for(request_id)
    try:
        cut: MalformedResponseError | None = None
        try:
            with transport_errors(decoder.route, headers_received=True):
                first = True
                events_of = SSEDecoder()
                read = response.content.readany
                while True:
                    block = await read()
                    events = events_of.feed(block) if block else events_of.close()
                    batch, failure = _decoded(events, decoder)
                    if batch:
                        if first:
                            batch[0].upstream_request_id, first = request_id, False
                        yield batch
                    if failure is not None:
                        raise failure
                    if decoder.done:
                        return
                    if not block:
                        break
        except MalformedResponseError as error:
            if not closed_early(error):
                raise
            cut = error
        decoder.close(cut)
    finally:
        response.close()  # an unfinished body must not go back to the pool


def _decoded(events: list[tuple[str, bytes]], decoder: EventDecoder) -> tuple[list[Chunk], Exception | None]:
    """The chunks of one read's events up to the stream's end, and the error of a bad event."""
    batch: list[Chunk] = []
    for event, data in events:
        try:
            chunk = decoder.feed(event, data)
        except Exception as error:
            return batch, error
        if chunk is not None:
            batch.append(chunk)
        if decoder.done:
            break
    return batch, None
