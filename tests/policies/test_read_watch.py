"""One timer per stream bounds each read: a slow read times out on time, time between reads is not
counted, and a cancellation from elsewhere stays a cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from keel.policies._read_watch import ReadWatch


async def paced(*gaps: float) -> AsyncIterator[int]:
    """Yields 0, 1, ... each after its gap in seconds."""
    for index, gap in enumerate(gaps):
        await asyncio.sleep(gap)
        yield index


async def test_reads_within_the_wait_go_on_and_pauses_between_reads_do_not_count() -> None:
    """Each read takes 20 ms of a 100 ms wait; the reader pauses 150 ms between reads: no timeout."""
    watch = ReadWatch()
    source = paced(0.02, 0.02, 0.02)
    try:
        got = []
        for _ in range(3):
            got.append(await watch.read(source, 0.1))
            await asyncio.sleep(0.15)  # the client is slow: not the upstream's idle time
        assert got == [0, 1, 2]
        with pytest.raises(StopAsyncIteration):
            await watch.read(source, 0.1)
    finally:
        watch.close()


async def test_a_read_past_its_wait_times_out_on_time() -> None:
    """Quick reads re-arm nothing; a silent read fails after its wait, not earlier or much later."""
    watch = ReadWatch()
    source = paced(0.0, 0.0, 10.0)
    try:
        await watch.read(source, 0.2)
        await watch.read(source, 0.2)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await watch.read(source, 0.2)
        assert 0.19 <= time.monotonic() - started < 0.6
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    finally:
        watch.close()


async def test_a_shorter_wait_than_the_armed_timer_is_kept() -> None:
    """A read with less time left (the attempt's end) fires at its own end, before the earlier timer's."""
    watch = ReadWatch()
    source = paced(0.0, 10.0)
    try:
        await watch.read(source, 5.0)  # arms the timer 5 s out
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await watch.read(source, 0.1)
        assert time.monotonic() - started < 0.5
    finally:
        watch.close()


async def test_a_cancellation_from_elsewhere_is_not_a_timeout() -> None:
    """The reader's task cancelled while it waits (the client went away): CancelledError, not TimeoutError."""
    watch = ReadWatch()
    source = paced(10.0)

    async def reader() -> None:
        await watch.read(source, 5.0)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    watch.close()
