"""The SSE reader yields the complete events of each read, whatever the line endings and wherever a
read cuts an event."""

from keel.providers._sse import sse_batches, sse_events


class Reads:
    """A body that arrives as the given blocks, one per read, then ends."""

    def __init__(self, *blocks: bytes) -> None:
        self.blocks = list(blocks)

    async def readany(self) -> bytes:
        return self.blocks.pop(0) if self.blocks else b""


async def test_events_comments_and_multiline_data() -> None:
    """Comments are skipped, multi-line data is joined, CRLF is accepted, a last unterminated event counts."""
    source = Reads(
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


async def test_the_events_of_one_read_come_together() -> None:
    """Everything one read brings is one batch; an event cut by a read waits for its end."""
    source = Reads(
        b'data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":',
        b'3}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
    )
    batches = [batch async for batch in sse_batches(source)]
    assert batches == [
        [("", b'{"n":1}'), ("", b'{"n":2}')],
        [("", b'{"n":3}'), ("message_stop", b'{"type":"message_stop"}')],
    ]


async def test_a_read_that_ends_between_cr_and_lf() -> None:
    """A CR at the end of a read is held until the LF after it: no event ends early."""
    source = Reads(b"data: a\r", b"\ndata: b\r\n\r", b"\ndata: c\r\n\r\n")
    assert [event async for event in sse_events(source)] == [("", b"a\nb"), ("", b"c")]


async def test_the_usual_forms_read_as_the_general_parser_reads_them() -> None:
    """The short paths for ``data:`` and ``event:``+``data:`` events agree with the line parser."""
    usual = b'data: {"x":1}\n\nevent: ping\ndata: {"type":"ping"}\n\nevent: e\ndata: \n\n'
    general = b': c\ndata: {"x":1}\n\nevent: ping\nid: 7\ndata: {"type":"ping"}\n\nevent:e\ndata:\n\n'
    read_usual = [event async for event in sse_events(Reads(usual))]
    read_general = [event async for event in sse_events(Reads(general))]
    assert read_usual == read_general == [("", b'{"x":1}'), ("ping", b'{"type":"ping"}'), ("e", b"")]
