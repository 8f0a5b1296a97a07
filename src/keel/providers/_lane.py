"""``LaneHandler``: aiohttp's connection protocol, telling a stream's relay each time bytes arrive.

A relayed stream is read by a task that waits for each network read: every chunk of a paced stream
(one event per read, like a real provider) then costs a future, a task wake-up and the generators
between the socket and the client. With a lane attached (``BatchReader.attach``), the connection
calls the relay straight after aiohttp has parsed what arrived, and the relay writes it to its client
from there (``ChunkStream.relay``). aiohttp stays in charge of the HTTP exchange (chunked framing,
the end of the body, errors, keep-alive and the pool); the lane only drains the response's buffer.

It relies on aiohttp's ``ResponseHandler`` and on ``BaseConnector._factory``, which Keel's exact pin
of aiohttp fixes; tests/providers/test_lane.py fails if either stops working as assumed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = ["LaneHandler", "lane_connector"]


class LaneHandler(ResponseHandler):
    """A ``ResponseHandler`` that calls ``lane()``, when one is attached, after each receipt."""

    __slots__ = ("lane",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.lane: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        lane = self.lane
        if lane is not None:
            lane()

    def resume_reading(self, resume_parser: bool = True) -> None:
        """Resume only what was paused: aiohttp calls this after every read of the response's buffer,
        and when nothing was paused it would feed the parser nothing and resume the transport for
        nothing (two calls through the lane per chunk)."""
        if self._reading_paused or self._buffer_paused:
            super().resume_reading(resume_parser)

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        lane = self.lane
        if lane is not None:
            lane()  # the response now holds the end or the error: the relay hands over


def lane_connector(**options: object) -> aiohttp.TCPConnector:
    """A ``TCPConnector`` whose connections are ``LaneHandler``s."""
    connector = aiohttp.TCPConnector(**options)  # type: ignore[arg-type]
    connector._factory = functools.partial(LaneHandler, loop=connector._loop)  # type: ignore[assignment]
    return connector
