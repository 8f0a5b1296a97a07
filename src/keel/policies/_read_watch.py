"""``ReadWatch``: one timer per stream that bounds each read from the upstream.

A timeout context per read (``asyncio.timeout``) schedules and cancels a timer for every chunk. The
watch keeps one timer for the whole stream instead: a read only notes when it must end; the timer,
when it fires, either finds the read still waiting past that moment and cancels it (raised as
``TimeoutError`` at the read, as ``asyncio.timeout`` would), or re-arms itself for the current read's
end. Time spent between reads (the client taking the last chunks) is never counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

__all__ = ["ReadWatch"]

T = TypeVar("T")


class ReadWatch:
    """Bounds ``read(source, wait)`` calls of one stream, one at a time, with a single timer."""

    __slots__ = ("_due", "_fired", "_handle", "_loop", "_renew", "_task", "_when")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._when = 0.0  # when the timer fires
        self._due = 0.0  # when the read under way must have ended; 0 between reads
        self._task: asyncio.Task[object] | None = None
        self._fired = False
        self._renew: Callable[[], float] | None = None

    async def read(self, source: AsyncIterator[T], wait: float) -> T:
        """``source``'s next item, or ``TimeoutError`` if it takes more than ``wait`` seconds.

        Raises:
            StopAsyncIteration: ``source`` has ended.
            TimeoutError: the read took longer than ``wait``.
        """
        cancelling = self.start(wait)
        try:
            return await source.__anext__()
        except asyncio.CancelledError:
            if self.expired(cancelling):
                raise TimeoutError from None
            raise
        finally:
            self.stop()

    def start(self, wait: float, renew: Callable[[], float] | None = None) -> int:
        """A read begins in the current task and must end within ``wait`` seconds; returns what
        ``expired`` needs (the task's pending cancellations). ``renew()``, if given, says how many
        seconds the read has left when the timer fires (a wait that progress may extend)."""
        due = self._loop.time() + wait
        task = asyncio.current_task(self._loop)  # with the loop: no get_running_loop (a getpid call)
        assert task is not None
        self._due, self._task, self._fired, self._renew = due, task, False, renew
        if self._handle is None or self._when > due:
            self._arm(due)
        return task.cancelling()

    def stop(self) -> None:
        """The read has ended (however it ended). The task and ``renew`` are let go: held, they
        would tie the stream's objects into a reference cycle only the garbage collector frees."""
        self._due, self._task, self._renew = 0.0, None, None

    def expired(self, cancelling: int) -> bool:
        """After a ``CancelledError`` at the read, before ``stop()``: whether this watch cancelled it
        (a timeout, and the cancellation is taken back) rather than someone else."""
        assert self._task is not None
        return self._fired and self._task.uncancel() <= cancelling

    def close(self) -> None:
        """Stop the timer (the stream has ended)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self._when = self._loop.call_at(when, self._expire), when

    def _expire(self) -> None:
        self._handle = None
        due = self._due
        if not due:
            return  # between reads: the next read arms the timer again
        if self._renew is not None:
            due = self._due = self._loop.time() + self._renew()
        if self._when < due:
            self._arm(due)  # armed for an earlier read, which ended in time
            return
        self._fired = True
        assert self._task is not None
        self._task.cancel()
