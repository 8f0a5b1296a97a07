"""``Flight``: one upstream call shared by several callers, and the bounded buffer they read it from.

The shared call runs at the upstream's pace in a task of its own and appends chunks here; each
streaming caller reads from its own position at its own pace, so a caller that joins late gets the
chunks already produced, then the rest. While the flight takes new callers it keeps every chunk; once
its output passes ``limit`` bytes it closes to newcomers and drops what every reader has read, and
the shared call then waits for the slowest reader rather than buffer more than ``limit`` (DESIGN §1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..errors import StreamInterruptedError
from ..types import ChatResponse, Chunk

__all__ = ["Flight"]


def _size(chunk: Chunk) -> int:
    """Roughly what a chunk holds: its wire bytes when known, else its text plus some framing."""
    if chunk.native:
        return sum(len(item.data) for item in chunk.native)
    size = 100 + len(chunk.text.encode())
    for _, _, arguments in chunk.tool_argument_deltas():
        size += len(arguments.encode())
    return size


class Flight:
    """The state of one shared call: its chunks or response or error, and who is reading it."""

    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.task: asyncio.Task[None] | None = None
        self.chunks: list[Chunk] = []
        self.first = 0  # the position of chunks[0] in the whole stream, after dropping read chunks
        self.buffered = 0
        self.produced = 0
        self.joinable = True
        self.streamed: bool | None = None  # known once the shared call has answered
        self.response: ChatResponse | None = None
        self.error: BaseException | None = None
        self.done = False
        self.remote = False  # answered by another replica, through the cache
        self.tools_dropped = False  # answered by a route that cannot call tools, without them
        self.members: set[object] = set()
        self.positions: dict[object, int] = {}
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Return after the next change of state (a chunk, the end, a reader moving on)."""
        await self._changed.wait()

    # The shared call's side.

    def started(self, streamed: bool) -> None:
        self.streamed = streamed
        self._notify()

    async def push(self, chunk: Chunk) -> None:
        size = _size(chunk)
        self.produced += size
        if self.produced > self.limit:
            self.joinable = False  # a newcomer could no longer be given the whole answer
            self._trim()
        while self.buffered and self.buffered + size > self.limit and self.positions:
            waiting = self._changed
            await waiting.wait()
        self.chunks.append(chunk)
        self.buffered += size
        self._notify()

    def finish(self, response: ChatResponse, *, remote: bool = False) -> None:
        self.response, self.remote, self.done = response, remote, True
        self._notify()

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True
        self._notify()

    # The callers' side.

    def join(self, member: object, *, reads_chunks: bool) -> None:
        self.members.add(member)
        if reads_chunks:
            self.positions[member] = self.first

    def leave(self, member: object) -> None:
        """A caller has gone; the shared call is cancelled when its last caller has."""
        self.members.discard(member)
        self.positions.pop(member, None)
        self._trim()
        self._notify()
        if not self.members and not self.done and self.task is not None:
            self.task.cancel()

    async def settled(self) -> None:
        while not self.done:
            await self.changed()

    async def read(self, member: object) -> AsyncIterator[list[Chunk]]:
        """The chunks from this reader's position on, all that are there at each step; the shared
        call's error if it fails."""
        while True:
            position = self.positions[member]
            end = self.first + len(self.chunks)
            if position < end:
                batch = self.chunks[position - self.first :]
                self.positions[member] = end
                if not self.joinable:
                    self._trim()
                    self._notify()
                yield batch
                continue
            if self.done:
                if self.error is not None:
                    error = self.error
                    raise (error.cause or error) if isinstance(error, StreamInterruptedError) else error
                return
            await self.changed()

    def _trim(self) -> None:
        """Drop the chunks every reader has read, once no newcomer can need them."""
        if self.joinable:
            return
        upto = min(self.positions.values(), default=self.first + len(self.chunks))
        drop = upto - self.first
        if drop > 0:
            self.buffered -= sum(_size(chunk) for chunk in self.chunks[:drop])
            del self.chunks[:drop]
            self.first = upto
