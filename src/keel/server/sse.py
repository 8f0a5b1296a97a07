"""Server-sent events as OpenAI sends them: ``data: {json}\\n\\n`` per chunk, then ``data: [DONE]\\n\\n``.

A chunk that came from an OpenAI-format upstream is forwarded as the bytes it arrived as; others are
encoded once. A failure after the stream began ends it with an error event in OpenAI's error shape
and no ``[DONE]``, so no client can take a cut answer for a complete one (DESIGN §1).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..types import Chunk

__all__ = ["DONE", "SSE_HEADERS", "OpenAIFrames", "error_event", "frame", "keeps_chunk"]

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # a buffering reverse proxy would hold chunks back
]


def frame(chunk: Chunk) -> bytes:
    """One chunk as SSE bytes: its upstream encoding when it has one, else Keel's."""
    native = chunk.native
    if len(native) == 1 and native[0].format == "openai":
        return _data(native[0].data)
    if native and all(item.format == "openai" for item in native):
        return b"".join(_data(item.data) for item in native)
    return _data(orjson.dumps(_chunk_wire(chunk)))


def keeps_chunk(chunk: Chunk, include_usage: bool) -> bool:
    """False for the usage-only last chunk when the client did not ask for it (OpenAI sends none).

    Keel always asks the upstream for usage, for its own accounting; the client gets it only with
    ``stream_options.include_usage``.
    """
    return include_usage or chunk.has_choices or chunk.usage is None


def error_event(detail: dict[str, Any]) -> bytes:
    """``data: {"error": {...}}`` — the OpenAI SDKs raise ``APIError`` on it."""
    return _data(orjson.dumps({"error": detail}))


def _data(payload: bytes) -> bytes:
    if b"\n" not in payload:
        return b"data: " + payload + b"\n\n"
    # SSE carries a multi-line payload as one data line per line.
    return b"".join(b"data: " + line + b"\n" for line in payload.split(b"\n")) + b"\n"


def _chunk_wire(chunk: Chunk) -> dict[str, Any]:
    body = chunk.to_openai()
    for choice in body.get("choices", ()):
        choice.setdefault("finish_reason", None)
        choice.setdefault("delta", {})
    return body


class OpenAIFrames:
    """OpenAI's stream framing (``call_flow.StreamFrames``): ``data:`` frames, ``[DONE]``, an error."""

    __slots__ = ("include_usage",)

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage

    def chunk(self, chunk: Chunk) -> bytes:
        native = chunk.native
        if len(native) == 1 and chunk.usage is None and native[0].format == "openai":
            return _data(native[0].data)  # the usual chunk, relayed as it came (``frame``, inlined)
        return frame(chunk) if keeps_chunk(chunk, self.include_usage) else b""

    def end(self) -> bytes:
        return DONE

    def error(self, error: BaseException) -> bytes:
        from .errors import error_parts

        return error_event(error_parts(error)[2])
