"""Log lines of one event-loop turn are written together; warnings and lines off the loop at once."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from keel.telemetry.turn_handler import LoopTurnHandler, use_loop_turn_handlers


class CountingStream(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, CountingStream]]:
    stream = CountingStream()
    handler = LoopTurnHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("keel.test.turns")
    log.propagate, log.level = False, logging.INFO
    log.addHandler(handler)
    yield log, stream
    log.removeHandler(handler)


async def test_one_turns_lines_are_written_once_within_the_turn(logger) -> None:
    log, stream = logger
    for index in range(50):
        log.info("line %d", index)
    assert stream.getvalue() == ""  # kept until the loop reaches the callback
    await asyncio.sleep(0)
    assert stream.writes == 1
    assert stream.getvalue().splitlines() == [f"INFO line {index}" for index in range(50)]


async def test_a_warning_is_written_at_once_after_the_lines_before_it(logger) -> None:
    log, stream = logger
    log.info("first")
    log.warning("trouble")
    assert stream.getvalue().splitlines() == ["INFO first", "WARNING trouble"]
    await asyncio.sleep(0)
    assert stream.getvalue().splitlines() == ["INFO first", "WARNING trouble"]


def test_lines_off_the_loop_are_written_at_once(logger) -> None:
    log, stream = logger
    log.info("no loop here")
    worker = threading.Thread(target=lambda: log.info("another thread"))
    worker.start()
    worker.join()
    assert stream.getvalue().splitlines() == ["INFO no loop here", "INFO another thread"]


async def test_flush_writes_what_is_kept(logger) -> None:
    log, stream = logger
    log.info("kept")
    for handler in log.handlers:
        handler.flush()
    assert stream.getvalue() == "INFO kept\n"


def test_plain_stream_handlers_are_swapped_keeping_their_settings() -> None:
    log = logging.getLogger("keel.test.swap")
    stream = io.StringIO()
    plain = logging.StreamHandler(stream)
    plain.setLevel(logging.INFO)
    plain.setFormatter(logging.Formatter("x %(message)s"))
    other = logging.NullHandler()
    log.handlers = [plain, other]
    try:
        use_loop_turn_handlers(log)
        swapped, kept = log.handlers
        assert isinstance(swapped, LoopTurnHandler) and kept is other
        assert swapped.stream is stream and swapped.level == logging.INFO
        assert swapped.formatter is plain.formatter
    finally:
        log.handlers = []
