"""``DirectBody``: a streamed response's body written straight to uvicorn's connection.

``ChunkStream.relay`` hands each batch over from the upstream connection's callback, where no task
is running to ``await send(...)``. Under ``keel serve`` (uvicorn's httptools protocol) the body of a
chunked response is the HTTP chunk framing around the bytes, written to the connection's transport,
which is what uvicorn's ``send`` does; ``DirectBody`` does that and reports whether the client can
take more (uvicorn's flow control: a paused transport stops the lane, and the next ``send`` waits
for it to drain). Under any other ASGI server there is none, and streams are relayed by ``send``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

__all__ = ["DirectBody"]


class DirectBody:
    """Writes body bytes to the connection of the response that ``send`` belongs to."""

    __slots__ = ("_cycle", "_flow", "_transport")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._cycle = cycle
        self._transport = cycle.transport
        self._flow = cycle.flow

    @classmethod
    def of(cls, send: Callable[..., Any]) -> DirectBody | None:
        """For a response begun under uvicorn's httptools protocol with chunked framing, else None."""
        cycle = getattr(send, "__self__", None)
        if type(cycle) is not RequestResponseCycle or not cycle.response_started:
            return None
        if not cycle.chunked_encoding or cycle.response_complete or cycle.scope["method"] == "HEAD":
            return None
        return cls(cycle)

    def ready(self) -> bool:
        """Whether the client can take more now."""
        return not (self._flow.write_paused or self._cycle.disconnected)

    def write(self, body: bytes) -> bool:
        """Send ``body`` as one HTTP chunk; whether the client can take more after it."""
        if self._cycle.disconnected:
            return False
        if body:
            self._transport.write(b"%x\r\n%b\r\n" % (len(body), body))
        return not self._flow.write_paused
