"""The SSE reader yields one payload per event, whatever the line endings."""

from collections.abc import AsyncIterator

from keel.providers._sse import sse_events


async def lines(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


async def test_events_comments_and_multiline_data() -> None:
    """Comments are skipped, multi-line data is joined, CRLF is accepted, a last unterminated event counts."""
    source = lines(
        b": keepalive\n",
        b'data: {"a":1}\r\n',
        b"\r\n",
        b"event: error\n",
        b"data: x\n",
        b"data: y\n",
        b"\n",
        b"data: [DONE]\n",
    )
    events = [event async for event in sse_events(source)]
    assert events == [("", b'{"a":1}'), ("error", b"x\ny"), ("", b"[DONE]")]
