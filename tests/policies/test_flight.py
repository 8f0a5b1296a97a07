"""The shared call's buffer: late joiners get everything, and a big answer never buffers past the bound."""

from __future__ import annotations

import asyncio

from keel.policies._flight import Flight
from keel.types import ChatResponse, Chunk, ChunkChoice, Delta


def chunk(text: str) -> Chunk:
    return Chunk(choices=[ChunkChoice(delta=Delta(content=text))])


async def test_a_late_joiner_reads_from_the_start() -> None:
    """A reader that joins after chunks were produced gets those first, then the rest."""
    flight = Flight("k", limit=10_000)
    flight.join("early", reads_chunks=True)
    await flight.push(chunk("a"))
    await flight.push(chunk("b"))
    flight.join("late", reads_chunks=True)
    await flight.push(chunk("c"))
    flight.finish(ChatResponse())
    assert [c.text async for batch in flight.read("late") for c in batch] == ["a", "b", "c"]
    assert [c.text async for batch in flight.read("early") for c in batch] == ["a", "b", "c"]


async def test_the_buffer_is_bounded_by_the_slowest_reader() -> None:
    """Past its bound the flight closes to newcomers and waits for a slow reader instead of buffering."""
    flight = Flight("k", limit=1_000)  # each chunk counts about 100 bytes: ten fit
    flight.join("slow", reads_chunks=True)
    producer = asyncio.create_task(_produce(flight, 50))
    await asyncio.sleep(0.05)
    assert not producer.done() and not flight.joinable
    assert flight.buffered <= flight.limit
    seen = []
    async for batch in flight.read("slow"):
        seen += [c.text for c in batch]
        assert flight.buffered <= flight.limit + 200
    await producer
    assert seen == [str(i) for i in range(50)]


async def test_the_last_reader_leaving_cancels_the_shared_call() -> None:
    """While one reader remains the shared call runs on; when the last leaves it is cancelled."""
    flight = Flight("k", limit=10_000)
    flight.task = asyncio.create_task(asyncio.sleep(10))
    flight.join("a", reads_chunks=True)
    flight.join("b", reads_chunks=False)
    flight.leave("a")
    await asyncio.sleep(0)
    assert not flight.task.cancelled()
    flight.leave("b")
    await asyncio.sleep(0)
    assert flight.task.cancelled()


async def _produce(flight: Flight, count: int) -> None:
    for i in range(count):
        await flight.push(chunk(str(i)))
    flight.finish(ChatResponse())
