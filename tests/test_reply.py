"""ChunkStream reports its end exactly once, and never passes a broken stream off as complete."""

from collections.abc import AsyncIterator

import pytest

from keel.errors import ServerError, StreamInterruptedError
from keel.reply import ChunkStream, StreamEnd
from keel.types import Chunk, ChunkChoice, Delta, Usage


def chunk(text: str = "", finish: str | None = None, usage: Usage | None = None) -> Chunk:
    c = Chunk(id="c1", model="m", choices=[ChunkChoice(delta=Delta(content=text), finish_reason=finish)])
    c.usage = usage
    return c


async def source(*chunks: Chunk, fail: Exception | None = None) -> AsyncIterator[Chunk]:
    for c in chunks:
        yield c
    if fail:
        raise fail


async def test_completed_stream_assembles_and_reports_once() -> None:
    """Reading to the end reports ``completed`` with the assembled text and usage."""
    ends: list[StreamEnd] = []
    stream = ChunkStream(source(chunk("Hel"), chunk("lo", "stop", Usage(input_tokens=3, output_tokens=2))))
    stream.on_end(ends.append)
    assert [c.text async for c in stream] == ["Hel", "lo"]
    assert len(ends) == 1
    assert ends[0].status == "completed"
    assert ends[0].response.text == "Hello"
    assert ends[0].response.choices[0].finish_reason == "stop"
    assert ends[0].usage == Usage(input_tokens=3, output_tokens=2)


async def test_failure_after_content_is_an_interruption_with_partial() -> None:
    """An upstream error after delivered chunks raises StreamInterruptedError carrying the partial text."""
    ends: list[StreamEnd] = []
    stream = ChunkStream(source(chunk("par"), chunk("tial"), fail=ServerError("boom", route="r")))
    stream.on_end(ends.append)
    received = []
    with pytest.raises(StreamInterruptedError) as info:
        async for c in stream:
            received.append(c.text)
    assert received == ["par", "tial"]
    assert info.value.partial.text == "partial"
    assert isinstance(info.value.cause, ServerError)
    assert ends[0].status == "failed"


async def test_aclose_reports_cancelled() -> None:
    """A caller that stops reading ends the stream as ``cancelled``, once."""
    ends: list[StreamEnd] = []
    stream = ChunkStream(source(chunk("a"), chunk("b")))
    stream.on_end(ends.append)
    await anext(stream)
    await stream.aclose()
    await stream.aclose()
    assert [end.status for end in ends] == ["cancelled"]
    assert ends[0].response.text == "a"


async def batched(*batches: list[Chunk], fail: Exception | None = None) -> AsyncIterator[list[Chunk]]:
    for batch in batches:
        yield batch
    if fail:
        raise fail


async def test_a_batch_is_delivered_whole_or_one_chunk_at_a_time() -> None:
    """``next_batch`` hands on what arrived together; iterating yields the same chunks one by one, and
    either way the partial answer holds exactly what was handed on."""
    stream = ChunkStream(batches=batched([chunk("a"), chunk("b")], [], [chunk("c"), chunk("d", "stop")]))
    assert [c.text for c in await stream.next_batch()] == ["a", "b"]
    assert (await anext(stream)).text == "c"
    assert stream.partial.text == "abc"
    assert [c.text for c in await stream.next_batch()] == ["d"]  # the rest of the batch begun
    with pytest.raises(StopAsyncIteration):
        await stream.next_batch()
    assert stream.end is not None and stream.end.status == "completed"
    assert stream.end.response.text == "abcd"


async def test_closing_in_the_middle_of_a_batch_records_only_what_was_read() -> None:
    """A reader that stops after one chunk of a batch: the end reports that chunk, not the batch."""
    stream = ChunkStream(batches=batched([chunk("a"), chunk("b"), chunk("c")]))
    assert (await anext(stream)).text == "a"
    await stream.aclose()
    assert stream.end is not None and stream.end.status == "cancelled"
    assert stream.end.response.text == "a"
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_failure_after_a_batch_is_an_interruption() -> None:
    """The batched source fails after delivering content: StreamInterruptedError with the partial text."""
    stream = ChunkStream(batches=batched([chunk("He"), chunk("l")], fail=ServerError("boom", route="r")))
    await stream.next_batch()
    with pytest.raises(StreamInterruptedError) as caught:
        await stream.next_batch()
    assert caught.value.partial.text == "Hel"
    assert stream.end is not None and stream.end.status == "failed"
