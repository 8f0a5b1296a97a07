"""The SSE decoder yields the complete events of each read, whatever the line endings and wherever a
read cuts an event."""

from keel.providers._sse import SSEDecoder


def decode(*reads: bytes) -> list[list[tuple[str, bytes]]]:
    """The events of each read (empty lists left out), then those the body's end completes."""
    decoder = SSEDecoder()
    batches = [decoder.feed(block) for block in reads] + [decoder.close()]
    return [batch for batch in batches if batch]


def events(*reads: bytes) -> list[tuple[str, bytes]]:
    return [event for batch in decode(*reads) for event in batch]


def test_events_comments_and_multiline_data() -> None:
    """Comments are skipped, multi-line data is joined, CRLF is accepted, a last unterminated event counts."""
    found = events(
        b": keepalive\n",
        b'data: {"a":1}\r\n',
        b"\r\n",
        b"event: error\n",
        b"data: x\n",
        b"data: y\n",
        b"\n",
        b"data: [DONE]\n",
    )
    assert found == [("", b'{"a":1}'), ("error", b"x\ny"), ("", b"[DONE]")]


def test_the_events_of_one_read_come_together() -> None:
    """Everything one read completes is one batch; an event cut by a read waits for its end."""
    batches = decode(
        b'data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":',
        b'3}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
    )
    assert batches == [
        [("", b'{"n":1}'), ("", b'{"n":2}')],
        [("", b'{"n":3}'), ("message_stop", b'{"type":"message_stop"}')],
    ]


def test_a_read_that_ends_between_cr_and_lf() -> None:
    """A CR at the end of a read is held until the LF after it: no event ends early."""
    assert events(b"data: a\r", b"\ndata: b\r\n\r", b"\ndata: c\r\n\r\n") == [("", b"a\nb"), ("", b"c")]


def test_the_usual_forms_read_as_the_general_parser_reads_them() -> None:
    """The short paths for ``data:`` and ``event:``+``data:`` events agree with the line parser."""
    usual = b'data: {"x":1}\n\nevent: ping\ndata: {"type":"ping"}\n\nevent: e\ndata: \n\n'
    general = b': c\ndata: {"x":1}\n\nevent: ping\nid: 7\ndata: {"type":"ping"}\n\nevent:e\ndata:\n\n'
    expected = [("", b'{"x":1}'), ("ping", b'{"type":"ping"}'), ("e", b"")]
    assert events(usual) == events(general) == expected
