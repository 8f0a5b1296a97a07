"""Server-sent events as Anthropic sends them: ``event: <type>`` and ``data: {json}`` per event.

A stream from an Anthropic route is passed through as the upstream's own events (``Native``), in
their order, ``ping`` and ``signature_delta`` included. Any other stream is encoded from its chunks
(``AnthropicStreamEncoder``). A stream that began as pass-through and goes on with chunks that have
no native events — a continuation from another route — is encoded from there on, inside the same
message. A failure after the stream began ends it with an ``error`` event in Anthropic's shape and
no ``message_stop``, so no client can take a cut answer for a complete one (DESIGN §1).
"""

from __future__ import annotations

from ..formats import AnthropicStreamEncoder, sse_frame
from ..types import Chunk, Native
from .anthropic_wire import anthropic_error

__all__ = ["SSE_HEADERS", "AnthropicEvents", "error_event"]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # a buffering reverse proxy would hold events back
]


class AnthropicEvents:
    """Stateful stream framing (``call_flow.StreamFrames``): each chunk in order, then ``end`` once
    the stream has completed, or ``error`` when it failed."""

    __slots__ = ("_encoder", "_passing")

    def __init__(self, model: str = "") -> None:
        self._encoder = AnthropicStreamEncoder(model=model)
        self._passing: bool | None = None  # decided by the first chunk

    def chunk(self, chunk: Chunk) -> bytes:
        """The bytes for one chunk: its upstream events when passing through, else encoded ones."""
        native = chunk.native
        anthropic = bool(native) and all(item.format == "anthropic" for item in native)
        if self._passing is None:
            self._passing = anthropic
        if self._passing and anthropic:
            for item in native:
                self._encoder.follow(item)
            return b"".join(_event(item) for item in native)
        self._passing = False
        return b"".join(sse_frame(event) for event in self._encoder.encode(chunk))

    def end(self) -> bytes:
        """The closing events of an encoded stream (a passed-through one has sent its own)."""
        if self._passing:
            return b""
        return b"".join(sse_frame(event) for event in self._encoder.finish())

    def error(self, error: BaseException) -> bytes:
        return error_event(error)


def error_event(error: BaseException) -> bytes:
    """``event: error`` with Anthropic's error body: the ``anthropic`` SDK raises on it."""
    _, _, body = anthropic_error(error)
    return b"event: error\ndata: " + body + b"\n\n"


def _event(item: Native) -> bytes:
    data = item.data
    if b"\n" in data:  # SSE carries a multi-line payload as one data line per line
        data = data.replace(b"\n", b"\ndata: ")
    return b"event: " + (item.event or "message").encode() + b"\ndata: " + data + b"\n\n"
