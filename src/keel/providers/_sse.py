"""Server-sent events: the ``(event, data)`` pairs of an event stream, as many as each read brings.

A provider that streams fast sends many events per network read; they are handed on together, so the
gateway reads, checks and relays them as one batch (one write to its client) instead of one by one.
An event of the usual form (one ``data:`` line) is cut out of the buffer without a per-line scan.
"""

from __future__ import annotations

__all__ = ["SSEDecoder"]

Event = tuple[str, bytes]


class SSEDecoder:
    """Cuts complete events out of a body fed to it in blocks, as the reads bring them."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, block: bytes) -> list[Event]:
        """The events ``block`` completes (often none, or many); the rest waits for the next block."""
        buffer = self._buffer + block if self._buffer else block
        if b"\r" in block:
            buffer = _lf_only(buffer)
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self._buffer = buffer
            return []
        self._buffer = buffer[end + 2 :]
        return _events(buffer[:end])

    def close(self) -> list[Event]:
        """The body has ended: an event it ended without a blank line after still counts."""
        rest, self._buffer = self._buffer, b""
        return _events(rest) if rest.strip() else []


def _lf_only(buffer: bytes) -> bytes:
    """CRLF line ends as LF; a CR at the very end waits for the byte after it."""
    if buffer.endswith(b"\r"):
        return buffer[:-1].replace(b"\r\n", b"\n") + b"\r"
    return buffer.replace(b"\r\n", b"\n")


def _events(text: bytes) -> list[Event]:
    """The events in ``text``: whole events, each ending at a blank line (or the end)."""
    events: list[Event] = []
    for block in text.split(b"\n\n"):
        if block.startswith(b"data: ") and b"\n" not in block:
            events.append(("", block[6:]))  # the usual form
        elif (
            block.startswith(b"event: ") and (line := block.find(b"\ndata: ")) > 0 and block.count(b"\n") == 1
        ):
            events.append((block[7:line].decode("utf-8", "replace"), block[line + 7 :]))  # Anthropic's form
        elif block:
            event = _parse(block)
            if event is not None:
                events.append(event)
    return events


def _parse(block: bytes) -> Event | None:
    """One event of any form: several ``data`` lines joined by LF, an ``event`` name, comments."""
    name = ""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    return (name, b"\n".join(data)) if data else None
