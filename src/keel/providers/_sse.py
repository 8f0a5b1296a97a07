"""Server-sent events: the ``data`` payloads of an event stream, one per event."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["sse_events"]


async def sse_events(lines: AsyncIterable[bytes]) -> AsyncIterator[tuple[str, bytes]]:
    """Yield ``(event, data)`` per event; comments and ``id``/``retry`` fields are skipped."""
    event = ""
    data: list[bytes] = []
    async for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield event, b"\n".join(data)
            event, data = "", []
            continue
        if line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            event = value.decode("utf-8", "replace")
    if data:
        yield event, b"\n".join(data)
