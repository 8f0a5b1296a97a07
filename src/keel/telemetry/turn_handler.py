"""``LoopTurnHandler``: log lines written once per event-loop turn instead of once per line.

``keel serve`` writes one access line per request. A plain ``StreamHandler`` writes and flushes each
line as it comes, a system call per request; this one keeps the lines an event-loop turn produces
and writes them together when the loop reaches the callback the first of them scheduled — in the
same turn, so a line is never later than the work around it. Records at WARNING and above, and
records from outside a running loop (another thread, start-up, shutdown), are written at once,
after anything kept.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TextIO

__all__ = ["LoopTurnHandler", "use_loop_turn_handlers"]


class LoopTurnHandler(logging.StreamHandler):
    """A ``StreamHandler`` that batches the INFO-and-below lines of one event-loop turn."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._kept: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        if record.levelno < logging.WARNING:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                if not self._kept:
                    loop.call_soon(self._write_kept)
                self._kept.append(line)
                return
        self._kept.append(line)
        self._write_kept()

    def flush(self) -> None:
        self._write_kept()

    def _write_kept(self) -> None:
        self.acquire()
        try:
            if self._kept:
                lines, self._kept = "".join(self._kept), []
                self.stream.write(lines)
            super().flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "could not write log lines"}))
        finally:
            self.release()


def use_loop_turn_handlers(logger: logging.Logger | None = None) -> None:
    """Swap ``logger``'s (the root logger's) plain stream handlers for ``LoopTurnHandler``s that write
    to the same stream with the same level, format and filters."""
    target = logger or logging.getLogger()
    for index, handler in enumerate(list(target.handlers)):
        if type(handler) is not logging.StreamHandler:
            continue
        batched = LoopTurnHandler(handler.stream)
        batched.setLevel(handler.level)
        batched.setFormatter(handler.formatter)
        for kept_filter in handler.filters:
            batched.addFilter(kept_filter)
        target.handlers[index] = batched
